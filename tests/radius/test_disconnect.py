"""Suspension sends a Disconnect-Request, a package change a CoA-Request, to a NAS played by a
pyrad listener; through the real Celery worker, with failures retried and logged."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from django.test import override_settings
from django_tenants.utils import schema_context
from pyrad import packet as rp

from network.models import DisconnectRequest, RadiusActionStatus
from network.services import subscriber_disconnect, subscriber_rate_change
from network.tasks import radius_action_send
from tests.radius.conftest import NAS_ADDRESSES, SECRETS, api_get, coa_port, isp, make_package, make_subscriber
from tests.radius.fake_nas import FakeNas
from tests.radius.support import Nas, RadiusServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]


def _online(nas: Nas, username: str) -> str:
    sid = secrets.token_hex(6)
    reply = nas.accounting("Start", username=username, session_id=sid)
    assert reply is not None and reply.code == rp.AccountingResponse
    return sid


def _action_status(schema: str, pk: int, timeout: float = 20.0) -> DisconnectRequest:
    deadline = time.monotonic() + timeout
    while True:
        with schema_context(schema):
            action = DisconnectRequest.objects.get(pk=pk)
        if action.status != RadiusActionStatus.PENDING or time.monotonic() > deadline:
            return action
        time.sleep(0.1)


def test_suspension_disconnects_through_the_worker(nas_alpha: Nas, celery_worker_process: Any) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    sid = _online(nas_alpha, sub.username)

    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"]) as router:
        with schema_context(alpha.schema):
            sub.status = "suspended"
            sub.save(update_fields=["status"])
            (action,) = subscriber_disconnect(subscriber=sub)
        received = router.wait_for(1)
        assert [r.code for r in received] == [rp.DisconnectRequest]
        assert received[0].attributes["User-Name"] == [sub.username]
        assert received[0].attributes["Acct-Session-Id"] == [sid]
        done = _action_status(alpha.schema, action.pk)
    assert done.status == RadiusActionStatus.ACKED and done.attempts == 1
    listed = api_get(alpha, alpha.admin, "/api/v1/radius-actions/").json()["results"]
    assert any(a["id"] == action.pk and a["status"] == "acked" for a in listed)
    beta = isp("beta")
    assert all(a["id"] != action.pk for a in api_get(beta, beta.admin, "/api/v1/radius-actions/").json()["results"])


def test_package_change_sends_coa_with_the_new_rate(nas_alpha: Nas, celery_worker_process: Any) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    _online(nas_alpha, sub.username)
    faster = make_package(alpha.schema, download_kbps=50_000, upload_kbps=10_000)

    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"]) as router:
        with schema_context(alpha.schema):
            sub.package = faster
            sub.save(update_fields=["package"])
            (action,) = subscriber_rate_change(subscriber=sub)
        received = router.wait_for(1)
        assert [r.code for r in received] == [rp.CoARequest]
        assert received[0].attributes["Mikrotik-Rate-Limit"] == ["10000k/50000k"]
        assert _action_status(alpha.schema, action.pk).status == RadiusActionStatus.ACKED


def test_no_open_session_sends_nothing() -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    with schema_context(alpha.schema):
        assert subscriber_disconnect(subscriber=sub) == []


@override_settings(RADIUS_COA_TIMEOUT=0.2, RADIUS_COA_RETRY_SECONDS=0)
def test_silent_nas_is_retried_then_marked_failed(nas_alpha: Nas, monkeypatch: pytest.MonkeyPatch) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    _online(nas_alpha, sub.username)
    # Queue without the broker; run the task in-process (eager retries) against a silent NAS.
    monkeypatch.setattr(radius_action_send, "delay", lambda *a, **k: None)
    with schema_context(alpha.schema):
        (action,) = subscriber_disconnect(subscriber=sub)

    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"], answer="silent") as router:
        radius_action_send.apply(args=[alpha.schema, action.pk])
        assert len(router.received) >= 5

    failed = _action_status(alpha.schema, action.pk)
    assert failed.status == RadiusActionStatus.FAILED and failed.attempts == 5
    assert "no answer" in failed.last_error


def test_nak_is_recorded(nas_alpha: Nas, monkeypatch: pytest.MonkeyPatch) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    _online(nas_alpha, sub.username)
    monkeypatch.setattr(radius_action_send, "delay", lambda *a, **k: None)
    with schema_context(alpha.schema):
        (action,) = subscriber_disconnect(subscriber=sub)

    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"], answer="nak"):
        radius_action_send.apply(args=[alpha.schema, action.pk])

    naked = _action_status(alpha.schema, action.pk)
    assert naked.status == RadiusActionStatus.NAKED and "Error-Cause" in naked.last_error


def test_suspending_through_the_customer_service_disconnects(nas_alpha: Nas, celery_worker_process: Any) -> None:
    """The hierarchy's own suspend action (what the API and the panel call) drops the live session."""
    from hierarchy.audit import SYSTEM
    from hierarchy.subscribers import subscriber_suspend

    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    sid = _online(nas_alpha, sub.username)
    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"]) as router:
        with schema_context(alpha.schema):
            subscriber_suspend(actor=SYSTEM, subscriber=sub)
        received = router.wait_for(1)
    assert [r.code for r in received] == [rp.DisconnectRequest]
    assert received[0].attributes["Acct-Session-Id"] == [sid]
    with schema_context(alpha.schema):
        assert DisconnectRequest.objects.filter(subscriber=sub, kind="disconnect").count() == 1


def test_suspending_the_isp_disconnects_all_its_live_sessions(
    radius_server: RadiusServer, nas_alpha: Nas, celery_worker_process: Any
) -> None:
    """tenants.services.tenant_suspend: every open session of that ISP gets a Disconnect-Request
    (through the worker, logged); another ISP's sessions are left alone; RADIUS then rejects."""
    from hierarchy.audit import SYSTEM
    from hierarchy.services import operator_root
    from network.services import nas_create
    from tenants.services import tenant_create, tenant_suspend
    from tests.radius.support import free_udp_ports
    from tests.support.personas import PASSWORD

    epsilon = tenant_create(
        name="Epsilon Net", slug="epsilon", admin_email="admin@epsilon.test", admin_password=PASSWORD
    )
    address, secret = "127.0.0.7", "secret-epsilon"
    port = free_udp_ports(1, address)[0]
    with schema_context(epsilon.schema_name):
        root = operator_root()
        nas_create(actor=SYSTEM, owner=root, name="epsilon core", address=address, secret=secret, coa_port=port)
    package = make_package(epsilon.schema_name)
    subs = [make_subscriber(epsilon.schema_name, owner=root, package=package) for _ in range(2)]
    nas = Nas(address, secret, radius_server)
    reply = nas.pap(subs[0].username, subs[0].password)
    assert reply is not None and reply.code == rp.AccessAccept
    sids = {_online(nas, sub.username) for sub in subs}
    alpha = isp("alpha")
    bystander = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    _online(nas_alpha, bystander.username)

    with (
        FakeNas(address, port, secret) as router,
        FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"]) as alpha_router,
    ):
        tenant_suspend(tenant=epsilon, reason="unpaid platform invoice")
        received = router.wait_for(2)
        time.sleep(1.0)  # anything wrongly sent to alpha's NAS has arrived by now
    assert sorted(r.code for r in received) == [rp.DisconnectRequest] * 2
    assert {r.attributes["Acct-Session-Id"][0] for r in received} == sids
    assert alpha_router.received == []
    with schema_context(epsilon.schema_name):
        actions = list(DisconnectRequest.objects.all())
    assert len(actions) == 2
    assert {_action_status(epsilon.schema_name, a.pk).status for a in actions} == {RadiusActionStatus.ACKED}
    assert {a.subscriber_id for a in actions} == {s.pk for s in subs}
    reply = nas.pap(subs[0].username, subs[0].password)
    assert reply is not None and reply.code == rp.AccessReject
