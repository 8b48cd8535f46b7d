"""Access-Requests through a real FreeRADIUS, answered live from the tenant views."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from pyrad import packet as rp

from hierarchy.audit import SYSTEM
from hierarchy.models import ConnectionType, SubscriberStatus
from tenants.services import tenant_suspend, tenant_unsuspend
from tests.radius.conftest import isp, make_package, make_subscriber, tenant
from tests.radius.support import Nas, RadiusServer, reply_attrs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]


def _accepted(reply: Any) -> bool:
    return reply is not None and reply.code == rp.AccessAccept


def _rejected(reply: Any) -> bool:
    return reply is not None and reply.code == rp.AccessReject


def test_pap_and_chap_accept_with_the_package_rate(nas_alpha: Nas) -> None:
    reply = nas_alpha.pap("carol", "pppoe-secret")

    assert _accepted(reply)
    attrs = reply_attrs(reply)
    assert 29 * 86400 < attrs.pop("Session-Timeout")[0] <= 30 * 86400  # until her paid time runs out
    assert attrs == {"Mikrotik-Rate-Limit": ["5000k/20000k"]}  # rx (upload) first
    assert _accepted(nas_alpha.chap("carol", "pppoe-secret"))


def test_wrong_password_is_rejected_without_reply_items(nas_alpha: Nas) -> None:
    for reply in (nas_alpha.pap("carol", "wrong"), nas_alpha.chap("carol", "wrong")):
        assert _rejected(reply)
        assert "Mikrotik-Rate-Limit" not in reply_attrs(reply)


def test_same_username_in_two_tenants_gets_each_tenants_answer(nas_alpha: Nas, nas_beta: Nas) -> None:
    beta = isp("beta")
    package = make_package(beta.schema, download_kbps=1_000, upload_kbps=500)
    make_subscriber(beta.schema, owner=beta.root, package=package, username="dana", password="beta-pass")
    alpha = isp("alpha")
    make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package, username="dana", password="alpha-pass")

    assert reply_attrs(nas_beta.pap("dana", "beta-pass"))["Mikrotik-Rate-Limit"] == ["500k/1000k"]
    assert reply_attrs(nas_alpha.pap("dana", "alpha-pass"))["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
    assert _rejected(nas_alpha.pap("dana", "beta-pass"))
    assert _rejected(nas_beta.pap("dana", "alpha-pass"))


def test_unknown_nas_gets_no_answer(radius_server: RadiusServer) -> None:
    stranger = Nas("127.0.0.9", "secret-alpha-1", radius_server)

    assert stranger.pap("carol", "pppoe-secret", timeout=1, retries=1) is None
    assert stranger.accounting("Start", username="carol", session_id="x1", timeout=1, retries=1) is None


def test_wrong_secret_gets_no_valid_answer(radius_server: RadiusServer) -> None:
    impostor = Nas("127.0.0.2", "secret-beta-1", radius_server)

    assert impostor.pap("carol", "pppoe-secret", timeout=1, retries=1) is None
    assert impostor.accounting("Start", username="carol", session_id="x2", timeout=1, retries=1) is None


@pytest.mark.parametrize("status", [SubscriberStatus.SUSPENDED, SubscriberStatus.EXPIRED, SubscriberStatus.DISABLED])
def test_inactive_customer_is_rejected(nas_alpha: Nas, status: str) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package, status=status)

    reply = nas_alpha.pap(sub.username, sub.password)
    assert _rejected(reply) and reply_attrs(reply) == {}


def test_customer_under_a_suspended_reseller_is_rejected(nas_alpha: Nas) -> None:
    from hierarchy.services import operator_create

    alpha = isp("alpha")
    with schema_context(alpha.schema):
        reseller = operator_create(actor=SYSTEM, parent=alpha.root, name="Soon suspended")
        sub_node = operator_create(actor=SYSTEM, parent=reseller, name="Below it")
    sub = make_subscriber(alpha.schema, owner=sub_node, package=alpha.package)
    assert _accepted(nas_alpha.pap(sub.username, sub.password))

    with schema_context(alpha.schema):
        reseller.status = "suspended"
        reseller.save(update_fields=["status"])
    assert _rejected(nas_alpha.pap(sub.username, sub.password))


def test_suspended_tenant_is_rejected_then_pooled(nas_gamma: Nas) -> None:
    gamma = isp("gamma")
    sub = make_subscriber(gamma.schema, owner=gamma.root, package=gamma.package)
    assert _accepted(nas_gamma.pap(sub.username, sub.password))

    tenant_suspend(tenant=tenant("gamma"), reason="unpaid platform invoice")
    try:
        assert _rejected(nas_gamma.pap(sub.username, sub.password))
        t = tenant("gamma")
        t.radius_suspended_mode, t.suspended_pool = "pool", "isp-unpaid"
        t.save()
        reply = nas_gamma.pap(sub.username, sub.password)
        assert _accepted(reply)
        assert reply_attrs(reply) == {"Framed-Pool": ["isp-unpaid"], "Mikrotik-Address-List": ["isp-unpaid"]}
    finally:
        t = tenant("gamma")
        t.radius_suspended_mode = "reject"
        t.save()
        tenant_unsuspend(tenant=t)
    assert _accepted(nas_gamma.pap(sub.username, sub.password))


def test_hotspot_mac_as_username_in_any_spelling(nas_alpha: Nas) -> None:
    alpha = isp("alpha")
    package = make_package(alpha.schema, type=ConnectionType.HOTSPOT, download_kbps=4_000, upload_kbps=1_000)
    make_subscriber(alpha.schema, owner=alpha.root, package=package, username="hs-guest", password="",
                    connection_type=ConnectionType.HOTSPOT, mac_address="02:1A:2B:3C:4D:5E")

    for spelling in ("02:1A:2B:3C:4D:5E", "02-1a-2b-3c-4d-5e", "021a.2b3c.4d5e"):
        reply = nas_alpha.pap(spelling, "")
        assert _accepted(reply), spelling
        assert reply_attrs(reply)["Mikrotik-Rate-Limit"] == ["1000k/4000k"]
    assert _rejected(nas_alpha.pap("02:1A:2B:3C:4D:5F", ""))


def test_static_ip(nas_alpha: Nas) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package,
                          connection_type=ConnectionType.STATIC, ip_address="100.64.7.7")

    assert reply_attrs(nas_alpha.pap(sub.username, sub.password))["Framed-IP-Address"] == ["100.64.7.7"]


HOSTILE_NAMES: list[str | bytes] = [
    "carol' OR '1'='1",
    "carol'; DROP TABLE isp_beta.hierarchy_subscriber; --",
    "carol\\'; SELECT pg_sleep(5); --",
    "%{Client-Shortname}",
    "%{sql:SELECT secret FROM radius.nas}",
    '") OR 1=1 -- "',
    "isp_beta.carol",
    "a" * 253,  # the longest a RADIUS attribute can carry
    "carol\x00admin",
    b"\xff\xfecarol",  # not UTF-8
    b"carol\xc3\x28",  # truncated UTF-8 sequence
]


def _state() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('radius', 'isp_alpha', 'isp_beta') ORDER BY 1, 2"
        )
        tables = cursor.fetchall()
        cursor.execute("SELECT id, username, password, status FROM isp_beta.hierarchy_subscriber ORDER BY id")
        beta = cursor.fetchall()
        cursor.execute("SELECT * FROM radius.nas ORDER BY id")
        nas = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM radius.radpostauth_isp_beta")
        postauth_beta = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM radius.radacct")
        radacct = cursor.fetchall()
    return {"tables": tables, "beta": beta, "nas": nas, "postauth_beta": postauth_beta, "radacct": radacct}


def test_hostile_usernames_are_rejected_and_write_nothing_elsewhere(nas_alpha: Nas) -> None:
    before = _state()
    started = time.monotonic()

    for name in HOSTILE_NAMES:
        reply = nas_alpha.pap(name, "pppoe-secret")
        assert _rejected(reply), name
        assert reply_attrs(reply) == {}, name

    assert time.monotonic() - started < 5  # no injected pg_sleep ran
    assert _state() == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT username FROM radius.radpostauth_isp_alpha")
        logged = {row[0] for row in cursor.fetchall()}
    # Printable names reached SQL as data: logged verbatim in alpha's own partition.
    assert {"carol' OR '1'='1", "%{Client-Shortname}", "a" * 253} <= logged


def test_user_name_of_300_characters_is_rejected(nas_alpha: Nas) -> None:
    # RADIUS caps an attribute at 253 bytes, so a 300-character name can only arrive split.
    client = nas_alpha.client()
    request = client.CreateAuthPacket(code=rp.AccessRequest)
    request.AddAttribute("User-Name", "a" * 150)
    request.AddAttribute("User-Name", "a" * 150)
    request["User-Password"] = request.PwCrypt("pppoe-secret")
    with pytest.raises(ValueError, match="253"):
        request.AddAttribute("User-Name", "a" * 300)

    assert client.SendPacket(request).code == rp.AccessReject
