"""The per-tenant radcheck/radreply views, read inside a test transaction (no FreeRADIUS)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.models import ConnectionType, Package, Subscriber
from tests.support.personas import Isp

pytestmark = pytest.mark.django_db


def _items(schema: str, table: str, username: str) -> dict[str, str]:
    with schema_context(schema), connection.cursor() as cursor:
        cursor.execute(f"SELECT attribute, value FROM {table} WHERE username = %s", [username])
        return dict(cursor.fetchall())


def _check(schema: str, username: str) -> dict[str, str]:
    return _items(schema, "radcheck", username)


def _reply(schema: str, username: str) -> dict[str, str]:
    return _items(schema, "radreply", username)


def test_cloned_views_read_their_own_schema(alpha: Isp, beta: Isp) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT vn.nspname, tn.nspname FROM pg_depend d"
            " JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class"
            " JOIN pg_namespace vn ON vn.oid = v.relnamespace JOIN pg_class t ON t.oid = d.refobjid"
            " JOIN pg_namespace tn ON tn.oid = t.relnamespace"
            " WHERE v.relname = 'radius_items' AND t.relname = 'hierarchy_subscriber'"
        )
        pairs = set(cursor.fetchall())
    assert (alpha.schema, alpha.schema) in pairs and (beta.schema, beta.schema) in pairs
    assert all(view == table for view, table in pairs)


def test_pppoe_subscriber(alpha: Isp, beta: Isp) -> None:
    assert _check(alpha.schema, "carol") == {"Cleartext-Password": "pppoe-secret"}
    reply = _reply(alpha.schema, "carol")
    # Paid for a month: the session may last until the paid time runs out.
    assert 29 * 86400 < int(reply.pop("Session-Timeout")) <= 30 * 86400
    assert reply == {"Mikrotik-Rate-Limit": "5000k/20000k"}


def test_burst_static_ip_and_session_timeout(alpha: Isp) -> None:
    with schema_context(alpha.schema):
        package = Package.objects.create(
            name="Burst", type=ConnectionType.STATIC, download_kbps=10_000, upload_kbps=2_000,
            burst_download_kbps=20_000, burst_upload_kbps=4_000, burst_threshold_download_kbps=8_000,
            burst_threshold_upload_kbps=1_500, burst_time_seconds=16, price=Decimal("5"),
        )
        Subscriber.objects.create(
            username="stan", password="pw-stan", connection_type=ConnectionType.STATIC, ip_address="100.64.1.9",
            package=package, owner=alpha.reseller, expires_at=timezone.now() + timedelta(hours=1),
        )
    reply = _reply(alpha.schema, "stan")
    assert reply["Mikrotik-Rate-Limit"] == "2000k/10000k 4000k/20000k 1500k/8000k 16/16"
    assert reply["Framed-IP-Address"] == "100.64.1.9"
    assert 3590 <= int(reply["Session-Timeout"]) <= 3610  # now() is the transaction start


@pytest.mark.parametrize("status", ["suspended", "expired", "disabled"])
def test_inactive_subscriber_rejected(alpha: Isp, status: str) -> None:
    with schema_context(alpha.schema):
        Subscriber.objects.filter(username="carol").update(status=status)
    assert _check(alpha.schema, "carol")["Auth-Type"] == "Reject"
    assert _reply(alpha.schema, "carol") == {}


def test_past_expiry_rejected(alpha: Isp) -> None:
    with schema_context(alpha.schema):
        Subscriber.objects.filter(username="carol").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _check(alpha.schema, "carol")["Auth-Type"] == "Reject"


def test_suspended_pool_mode(alpha: Isp) -> None:
    alpha.tenant.radius_suspended_mode = "pool"
    alpha.tenant.suspended_pool = "unpaid"
    alpha.tenant.save()
    with schema_context(alpha.schema):
        Subscriber.objects.filter(username="carol").update(status="suspended")
    assert "Auth-Type" not in _check(alpha.schema, "carol")
    assert _reply(alpha.schema, "carol") == {"Framed-Pool": "unpaid", "Mikrotik-Address-List": "unpaid"}


def _suspend(node: Any, *, suspends_customers: bool) -> None:
    node.status = "suspended"
    node.suspends_customers = suspends_customers
    node.save()


def test_suspended_sub_reseller_with_suspends_customers(alpha: Isp) -> None:
    with schema_context(alpha.schema):
        _suspend(alpha.sub_reseller, suspends_customers=False)
        assert "Auth-Type" not in _check(alpha.schema, "carol")
        _suspend(alpha.sub_reseller, suspends_customers=True)
    assert _check(alpha.schema, "carol")["Auth-Type"] == "Reject"


def test_suspended_ancestor_rejects_customers_below(alpha: Isp) -> None:
    with schema_context(alpha.schema):
        _suspend(alpha.reseller, suspends_customers=False)
    assert _check(alpha.schema, "carol")["Auth-Type"] == "Reject"
    with schema_context(alpha.schema):
        Subscriber.objects.create(username="direct", password="pw", package=alpha.package, owner=alpha.sibling)
    assert "Auth-Type" not in _check(alpha.schema, "direct")


def test_hotspot_mac_key(alpha: Isp) -> None:
    with schema_context(alpha.schema):
        Subscriber.objects.create(
            username="hot1", connection_type=ConnectionType.HOTSPOT, mac_address="AA:BB:CC:DD:EE:0F",
            package=alpha.package, owner=alpha.root,
        )
    assert _check(alpha.schema, "aabbccddee0f") == {"Auth-Type": "Accept"}
    with connection.cursor() as cursor:
        cursor.execute("SELECT radius.mac_key('aa-bb-cc-dd-ee-0f'), radius.mac_key('aabb.ccdd.ee0f'),"
                       " radius.mac_key('carol'), radius.mac_key('aa:bb')")
        assert cursor.fetchone() == ("aabbccddee0f", "aabbccddee0f", None, None)
