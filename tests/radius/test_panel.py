"""Panel pages for network data (portal/network_views.py) on real accounting that went through
FreeRADIUS: scoping by the role tree (Django client), the Disconnect button through the worker to a
NAS, and the pages in a real browser (online list, usage chart, quota alerts)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from pyrad import packet as rp

from hierarchy.models import Subscriber
from network.models import DisconnectRequest, QuotaAlert, RadiusActionStatus
from network.quota import quota_alerts_record
from tests.conftest import host_client
from tests.radius.conftest import NAS_ADDRESSES, SECRETS, coa_port, isp, make_package, make_subscriber
from tests.radius.fake_nas import FakeNas
from tests.radius.support import Nas
from tests.support.personas import PASSWORD, Isp

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]

MB = 1024 * 1024


@dataclass
class Online:
    subscriber: Subscriber
    session_id: str
    radacct_id: int


def _online(nas: Nas, sub: Subscriber, *, upload: int = 0, download: int = 0) -> Online:
    sid = secrets.token_hex(6)
    common = {"username": sub.username, "session_id": sid, "Framed_IP_Address": "100.64.9.9"}
    reply = nas.accounting("Start", **common)
    assert reply is not None and reply.code == rp.AccountingResponse
    if upload or download:
        reply = nas.accounting(
            "Interim-Update", **common, Acct_Session_Time=120, Acct_Input_Octets=upload, Acct_Output_Octets=download
        )
        assert reply is not None and reply.code == rp.AccountingResponse
    with connection.cursor() as cursor:
        cursor.execute("SELECT radacctid FROM radius.radacct WHERE acctsessionid = %s", [sid])
        (pk,) = cursor.fetchone()
    return Online(sub, sid, pk)


@pytest.fixture(scope="module")
def sessions(nas_alpha: Nas, nas_beta: Nas, django_db_blocker: Any) -> dict[str, Online]:
    """alpha: one customer under the sub-reseller (reseller's subtree) on a 3 MB quota package with
    usage, one under the sibling reseller; beta: one customer. All online."""
    with django_db_blocker.unblock():
        alpha, beta = isp("alpha"), isp("beta")
        quota = make_package(alpha.schema, quota_mb=3)
        mine = make_subscriber(alpha.schema, owner=alpha.sub_reseller, package=quota)
        theirs = make_subscriber(alpha.schema, owner=alpha.sibling, package=alpha.package)
        other_isp = make_subscriber(beta.schema, owner=beta.root, package=beta.package)
        result = {
            "mine": _online(nas_alpha, mine, upload=1 * MB, download=2 * MB + MB // 2),
            "theirs": _online(nas_alpha, theirs),
            "other_isp": _online(nas_beta, other_isp),
        }
        with schema_context(alpha.schema):
            quota_alerts_record()  # 3.5 MB of 3 MB: the 80 % and 100 % alerts
        return result


def _client(isp_: Isp, user: Any) -> Client:
    client = host_client(isp_.host)
    with schema_context(isp_.schema):
        client.force_login(user)
    return client


def _online_names(isp_: Isp, user: Any) -> set[str]:
    response = _client(isp_, user).get("/network/online/")
    assert response.status_code == 200
    return {s["username"] for s in response.context["sessions"]}


def test_online_list_is_scoped_by_the_role_tree(sessions: dict[str, Online]) -> None:
    alpha, beta = isp("alpha"), isp("beta")
    mine, theirs, other = (sessions[k].subscriber.username for k in ("mine", "theirs", "other_isp"))
    assert {mine, theirs} <= _online_names(alpha, alpha.admin)
    reseller = _online_names(alpha, alpha.reseller_user)
    assert mine in reseller and theirs not in reseller
    sibling = _online_names(alpha, alpha.sibling_user)
    assert theirs in sibling and mine not in sibling
    beta_admin = _online_names(beta, beta.admin)
    assert other in beta_admin and not {mine, theirs} & beta_admin
    assert _online_names(alpha, alpha.customer_user) <= {"carol"}


def test_pages_need_a_login(sessions: dict[str, Online]) -> None:
    alpha = isp("alpha")
    client = host_client(alpha.host)
    for path in ("/network/online/", f"/network/customers/{sessions['mine'].subscriber.pk}/", "/network/quota-alerts/"):
        response = client.get(path)
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.post(f"/network/sessions/{sessions['mine'].radacct_id}/disconnect/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def _actions(schema: str, sub: Subscriber) -> int:
    with schema_context(schema):
        return DisconnectRequest.objects.filter(subscriber_id=sub.pk).count()


def test_sibling_and_other_isp_cannot_disconnect(sessions: dict[str, Online]) -> None:
    alpha, beta = isp("alpha"), isp("beta")
    mine = sessions["mine"]
    before = _actions(alpha.schema, mine.subscriber)
    assert (
        _client(alpha, alpha.sibling_user).post(f"/network/sessions/{mine.radacct_id}/disconnect/").status_code == 404
    )
    assert _client(beta, beta.admin).post(f"/network/sessions/{mine.radacct_id}/disconnect/").status_code == 404
    # Bad input: no such session, and GET is not a disconnect.
    assert _client(alpha, alpha.admin).post("/network/sessions/999999999/disconnect/").status_code == 404
    assert _client(alpha, alpha.admin).get(f"/network/sessions/{mine.radacct_id}/disconnect/").status_code == 405
    assert _actions(alpha.schema, mine.subscriber) == before


def test_customer_role_sees_the_list_but_cannot_disconnect(nas_alpha: Nas, sessions: dict[str, Online]) -> None:
    alpha = isp("alpha")
    with schema_context(alpha.schema):
        carol = Subscriber.objects.get(username="carol")
    own = _online(nas_alpha, carol)
    client = _client(alpha, alpha.customer_user)
    response = client.get("/network/online/")
    listed = response.context["sessions"]
    assert own.radacct_id in {s["id"] for s in listed} and {s["username"] for s in listed} == {"carol"}
    assert b"Disconnect</button>" not in response.content
    response = client.post(f"/network/sessions/{own.radacct_id}/disconnect/")
    assert response.status_code == 303
    assert _actions(alpha.schema, carol) == 0
    nas_alpha.accounting("Stop", username="carol", session_id=own.session_id)


def test_customer_page_is_scoped(sessions: dict[str, Online]) -> None:
    alpha, beta = isp("alpha"), isp("beta")
    mine = sessions["mine"].subscriber
    page = _client(alpha, alpha.reseller_user).get(f"/network/customers/{mine.pk}/")
    assert page.status_code == 200
    assert sum(page.context["chart"]["download"]) == 2 * MB + MB // 2
    assert sum(page.context["chart"]["upload"]) == 1 * MB
    assert {a.threshold for a in page.context["alerts"]} == {80, 100}
    assert _client(alpha, alpha.sibling_user).get(f"/network/customers/{mine.pk}/").status_code == 404
    other = _client(beta, beta.admin).get(f"/network/customers/{mine.pk}/")
    assert other.status_code == 404 or mine.username.encode() not in other.content
    alerts = _client(alpha, alpha.sibling_user).get("/network/quota-alerts/")
    assert mine.username.encode() not in alerts.content
    assert mine.username.encode() in _client(alpha, alpha.admin).get("/network/quota-alerts/").content


def test_reseller_disconnects_a_session_in_its_subtree(
    nas_alpha: Nas, sessions: dict[str, Online], celery_worker_process: Any
) -> None:
    alpha = isp("alpha")
    sub = make_subscriber(alpha.schema, owner=alpha.sub_reseller, package=alpha.package)
    live = _online(nas_alpha, sub)
    with FakeNas(NAS_ADDRESSES["alpha"], coa_port("alpha"), SECRETS["alpha"]) as router:
        response = _client(alpha, alpha.reseller_user).post(f"/network/sessions/{live.radacct_id}/disconnect/")
        assert response.status_code == 303
        received = router.wait_for(1)
    assert [r.code for r in received] == [rp.DisconnectRequest]
    assert received[0].attributes["Acct-Session-Id"] == [live.session_id]
    with schema_context(alpha.schema):
        action = DisconnectRequest.objects.get(subscriber=sub)
    for _ in range(100):
        with schema_context(alpha.schema):
            action.refresh_from_db()
        if action.status != RadiusActionStatus.PENDING:
            break
        import time

        time.sleep(0.1)
    assert action.status == RadiusActionStatus.ACKED


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")


def test_online_list_and_usage_chart_in_a_browser(page: Any, web_server: str, sessions: dict[str, Online]) -> None:
    alpha = isp("alpha")
    base = f"http://alpha.localhost:{web_server}"
    mine, theirs = sessions["mine"], sessions["theirs"]
    _sign_in(page, base, alpha.reseller_user.email)
    page.click("text=Online now")
    page.wait_for_selector("#online-sessions")
    row = page.locator(f"tr[data-session='{mine.radacct_id}']")
    text = row.inner_text().replace("\xa0", " ")
    assert mine.subscriber.username in text and "alpha core" in text and "100.64.9.9" in text
    assert "1.0 MB\t2.5 MB" in text  # upload, download
    assert row.locator("button:has-text('Disconnect')").count() == 1
    assert theirs.subscriber.username not in page.inner_text("#online-sessions")

    row.locator(f"a:has-text('{mine.subscriber.username}')").click()
    page.wait_for_selector("#usage-chart")
    page.wait_for_function("window.usageChart !== undefined")
    totals = page.evaluate("window.usageChart.data.datasets.map(d => d.data.reduce((a, b) => a + b, 0))")
    assert totals == [1.0, 2.5]
    assert page.locator("#quota-alerts .alert").count() == 2
    assert "100 % of the data quota" in page.inner_text("#quota-alerts")
    assert page.locator("#session-history tbody tr").count() == 1
    with schema_context(alpha.schema):
        assert QuotaAlert.objects.filter(subscriber=mine.subscriber).count() == 2
