from __future__ import annotations

import pytest

from tenants.services import tenant_suspend, tenant_unsuspend
from tests.conftest import host_client
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_suspended_tenant_answers_403_and_logins_fail(alpha):
    token = host_client(alpha.host).post(
        "/api/v1/auth/token/", {"email": alpha.admin.email, "password": PASSWORD},
        content_type="application/json", REMOTE_ADDR="10.8.0.1",
    ).json()["token"]
    tenant_suspend(tenant=alpha.tenant, reason="unpaid platform bill")

    client = host_client(alpha.host)
    page = client.get("/login/")
    assert page.status_code == 403
    assert b"is suspended" in page.content
    login = client.post("/login/", {"username": alpha.admin.email, "password": PASSWORD})
    assert login.status_code == 403
    assert "sessionid" not in client.cookies
    api = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert api.status_code == 403
    assert api.json()["code"] == "tenant_suspended"
    assert client.post(
        "/api/v1/auth/token/", {"email": alpha.admin.email, "password": PASSWORD},
        content_type="application/json",
    ).status_code == 403

    tenant_unsuspend(tenant=alpha.tenant)
    assert client.get("/login/").status_code == 200
    assert client.post("/login/", {"username": alpha.admin.email, "password": PASSWORD}).status_code == 302
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_suspending_one_tenant_leaves_others_alone(alpha, beta):
    tenant_suspend(tenant=alpha.tenant)
    assert host_client(beta.host).get("/login/").status_code == 200
