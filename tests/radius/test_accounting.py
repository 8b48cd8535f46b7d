"""Accounting through FreeRADIUS into the tenant's partition; sessions, usage and quota."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context
from pyrad import packet as rp

from config.celery import app as celery_app
from hierarchy.models import QuotaAction
from network.models import QuotaAlert
from network.tasks import radius_quota_alerts, radius_sessions_close_stale
from tests.radius.conftest import api_get, isp, make_package, make_subscriber
from tests.radius.support import Nas, reply_attrs

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]


def _sid() -> str:
    return secrets.token_hex(6)


def _row(partition: str, session_id: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM radius.{partition} WHERE acctsessionid = %s", [session_id])
        names = [c.name for c in cursor.description]
        rows = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    assert len(rows) == 1, rows
    return rows[0]


def _ok(reply: Any) -> bool:
    return reply is not None and reply.code == rp.AccountingResponse


def test_start_interim_stop_land_in_the_tenants_partition_and_online_list(nas_alpha: Nas) -> None:
    alpha, beta = isp("alpha"), isp("beta")
    sid = _sid()
    common = {"username": "carol", "session_id": sid, "Framed_IP_Address": "100.64.0.10"}

    assert _ok(nas_alpha.accounting("Start", **common))
    row = _row("radacct_isp_alpha", sid)
    assert row["tenant"] == "isp_alpha" and row["acctstoptime"] is None
    assert str(row["clientipaddress"]) == "127.0.0.2"

    online = api_get(alpha, alpha.admin, "/api/v1/sessions/?online=1").json()["results"]
    assert sid in {s["session_id"] for s in online}
    assert sid in {s["session_id"] for s in api_get(alpha, alpha.reseller_user, "/api/v1/sessions/?online=1")
                   .json()["results"]}
    assert sid not in {s["session_id"] for s in api_get(alpha, alpha.sibling_user, "/api/v1/sessions/?online=1")
                       .json()["results"]}
    assert sid not in {s["session_id"] for s in api_get(beta, beta.admin, "/api/v1/sessions/?online=1")
                       .json()["results"]}

    assert _ok(nas_alpha.accounting("Interim-Update", **common, Acct_Session_Time=60, Acct_Input_Octets=1000,
                                    Acct_Output_Octets=5000, Acct_Input_Gigawords=1))
    row = _row("radacct_isp_alpha", sid)
    assert row["acctsessiontime"] == 60 and row["acctinputoctets"] == (1 << 32) + 1000

    assert _ok(nas_alpha.accounting("Stop", **common, Acct_Session_Time=120, Acct_Input_Octets=2000,
                                    Acct_Output_Octets=9000, Acct_Terminate_Cause="User-Request"))
    row = _row("radacct_isp_alpha", sid)
    assert row["acctstoptime"] is not None and row["acctterminatecause"] == "User-Request"
    # A retransmitted Stop is acknowledged, not duplicated.
    assert _ok(nas_alpha.accounting("Stop", **common, Acct_Session_Time=120))
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM radius.radacct WHERE acctsessionid = %s", [sid])
        assert cursor.fetchone() == (1,)

    assert sid not in {s["session_id"] for s in api_get(alpha, alpha.admin, "/api/v1/sessions/?online=1")
                       .json()["results"]}
    history = api_get(alpha, alpha.admin, f"/api/v1/sessions/?subscriber={alpha.customer.pk}").json()["results"]
    assert sid in {s["session_id"] for s in history}
    usage = api_get(alpha, alpha.customer_user, f"/api/v1/sessions/usage/?subscriber={alpha.customer.pk}").json()
    assert sum(day["download_bytes"] for day in usage["days"]) >= 9000
    # Another ISP cannot name alpha's subscriber.
    assert api_get(beta, beta.admin, f"/api/v1/sessions/usage/?subscriber={alpha.customer.pk}").status_code == 404 \
        or alpha.customer.pk == beta.customer.pk


def test_same_session_id_in_two_tenants_stays_apart(nas_alpha: Nas, nas_beta: Nas) -> None:
    sid = _sid()
    assert _ok(nas_alpha.accounting("Start", username="carol", session_id=sid))
    assert _ok(nas_beta.accounting("Start", username="carol", session_id=sid))

    assert _row("radacct_isp_alpha", sid)["tenant"] == "isp_alpha"
    assert _row("radacct_isp_beta", sid)["tenant"] == "isp_beta"


def test_accounting_on_closes_only_that_nas_open_sessions(nas_alpha: Nas, nas_alpha2: Nas, nas_beta: Nas) -> None:
    on_a, on_a2, on_b = _sid(), _sid(), _sid()
    for nas, sid in ((nas_alpha, on_a), (nas_alpha2, on_a2), (nas_beta, on_b)):
        assert _ok(nas.accounting("Start", username="carol", session_id=sid))

    assert _ok(nas_alpha.accounting("Accounting-On", username="", session_id=""))

    assert _row("radacct_isp_alpha", on_a)["acctterminatecause"] == "NAS-Reboot"
    assert _row("radacct_isp_alpha", on_a2)["acctstoptime"] is None  # same tenant, other NAS
    assert _row("radacct_isp_beta", on_b)["acctstoptime"] is None  # other tenant
    assert _ok(nas_alpha.accounting("Accounting-Off", username="", session_id=""))


def test_stale_sessions_are_closed_by_the_periodic_task(nas_alpha: Nas, nas_beta: Nas) -> None:
    stale, fresh, other = _sid(), _sid(), _sid()
    for nas, sid in ((nas_alpha, stale), (nas_alpha, fresh), (nas_beta, other)):
        assert _ok(nas.accounting("Start", username="carol", session_id=sid))
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE radius.radacct SET acctstarttime = now() - interval '2 hours',"
            " acctupdatetime = now() - interval '20 minutes', acctinterval = 300"
            " WHERE acctsessionid IN (%s, %s)", [stale, other],
        )

    closed = radius_sessions_close_stale("isp_alpha")

    assert closed >= 1
    assert _row("radacct_isp_alpha", stale)["acctterminatecause"] == "Stale-Session"
    assert _row("radacct_isp_alpha", fresh)["acctstoptime"] is None
    assert _row("radacct_isp_beta", other)["acctstoptime"] is None  # beta's sweep, not alpha's
    beat = settings.CELERY_BEAT_SCHEDULE["radius-stale-sessions"]
    assert beat["task"] in celery_app.tasks


@pytest.mark.parametrize("action", [QuotaAction.REJECT, QuotaAction.THROTTLE])
def test_quota_exceeded_rejects_or_throttles_and_alerts(nas_alpha: Nas, action: str) -> None:
    alpha = isp("alpha")
    package = make_package(alpha.schema, quota_mb=10, quota_action=action, quota_throttle_download_kbps=256,
                           quota_throttle_upload_kbps=128)
    sub = make_subscriber(alpha.schema, owner=alpha.root, package=package, email="q@example.test")
    assert reply_attrs(nas_alpha.pap(sub.username, sub.password))["Mikrotik-Rate-Limit"] == ["5000k/20000k"]

    sid = _sid()
    assert _ok(nas_alpha.accounting("Start", username=sub.username, session_id=sid))
    assert _ok(nas_alpha.accounting("Interim-Update", username=sub.username, session_id=sid,
                                    Acct_Input_Octets=1_000_000, Acct_Output_Octets=7_500_000))
    radius_quota_alerts("isp_alpha")
    with schema_context(alpha.schema):
        assert list(QuotaAlert.objects.filter(subscriber=sub).values_list("threshold", flat=True)) == [80]
    assert (reply := nas_alpha.pap(sub.username, sub.password)) is not None and reply.code == rp.AccessAccept

    assert _ok(nas_alpha.accounting("Interim-Update", username=sub.username, session_id=sid,
                                    Acct_Input_Octets=1_000_000, Acct_Output_Octets=10_000_000))
    reply = nas_alpha.pap(sub.username, sub.password)
    assert reply is not None
    if action == QuotaAction.REJECT:
        assert reply.code == rp.AccessReject
    else:
        assert reply.code == rp.AccessAccept
        assert reply_attrs(reply)["Mikrotik-Rate-Limit"] == ["128k/256k"]
    radius_quota_alerts("isp_alpha")
    radius_quota_alerts("isp_alpha")  # recorded once per period
    with schema_context(alpha.schema):
        assert sorted(QuotaAlert.objects.filter(subscriber=sub).values_list("threshold", flat=True)) == [80, 100]
