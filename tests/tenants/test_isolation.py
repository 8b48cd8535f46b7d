"""Nothing reachable from tenant A's host, session or token reads or writes tenant B."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tests.conftest import host_client
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_orm_rows_are_invisible_across_schemas(alpha, beta):
    with schema_context(alpha.schema):
        User.objects.create_user(email="only-in-alpha@x.test", password=PASSWORD, role=Role.SUPPORT)
        assert User.objects.filter(email="only-in-alpha@x.test").exists()
    with schema_context(beta.schema):
        assert not User.objects.filter(email="only-in-alpha@x.test").exists()
        assert all(email.endswith("@beta.test") for email in User.objects.values_list("email", flat=True))


def _login(host: str, email: str, password: str) -> int:
    return host_client(host).post("/login/", {"username": email, "password": password}).status_code


def test_same_email_in_two_isps_is_two_accounts(alpha, beta):
    with schema_context(alpha.schema):
        a = User.objects.create_user(email="same@x.test", password="alpha-pass-123!", role=Role.ADMIN)
    with schema_context(beta.schema):
        b = User.objects.create_user(email="same@x.test", password="beta-pass-456!", role=Role.ADMIN)
    assert _login(alpha.host, "same@x.test", "alpha-pass-123!") == 302
    assert _login(alpha.host, "same@x.test", "beta-pass-456!") == 200  # the form again, with an error
    assert _login(beta.host, "same@x.test", "beta-pass-456!") == 302
    assert a.pk is not None and b.pk is not None


def test_http_session_of_a_is_not_valid_on_b(alpha, beta):
    client_a = host_client(alpha.host)
    response = client_a.post("/login/", {"username": alpha.admin.email, "password": PASSWORD})
    assert response.status_code == 302
    assert client_a.get("/").status_code == 200
    session_cookie = client_a.cookies["sessionid"].value

    client_b = host_client(beta.host)
    client_b.cookies["sessionid"] = session_cookie
    response = client_b.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_b.get("/api/v1/me/").status_code in (401, 403)


def test_api_token_of_a_is_rejected_on_b(alpha, beta):
    token = host_client(alpha.host).post(
        "/api/v1/auth/token/", {"email": alpha.admin.email, "password": PASSWORD},
        content_type="application/json", REMOTE_ADDR="10.9.0.1",
    ).json()["token"]
    me_a = host_client(alpha.host).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me_a.status_code == 200 and me_a.json()["tenant"] == "alpha"
    me_b = host_client(beta.host).get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me_b.status_code == 401
    assert me_b.json()["detail"]


def test_token_is_not_accepted_on_the_platform_host(alpha):
    token = host_client(alpha.host).post(
        "/api/v1/auth/token/", {"email": alpha.admin.email, "password": PASSWORD},
        content_type="application/json", REMOTE_ADDR="10.9.0.2",
    ).json()["token"]
    response = host_client("localhost").get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 404


def test_b_admin_cannot_sign_in_on_a(alpha, beta):
    response = host_client(alpha.host).post("/login/", {"username": beta.admin.email, "password": PASSWORD})
    assert response.status_code == 200
    assert b"correct email and password" in response.content


def test_unknown_host_is_404():
    response = host_client("nobody.localhost").get("/")
    assert response.status_code == 404
    assert b"No ISP at nobody.localhost" in response.content
