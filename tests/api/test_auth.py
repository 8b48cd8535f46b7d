from __future__ import annotations

import pytest

from tests.conftest import host_client
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def _token(client, email, password, ip):
    return client.post("/api/v1/auth/token/", {"email": email, "password": password},
                       content_type="application/json", REMOTE_ADDR=ip)


def test_token_and_me(alpha):
    client = host_client(alpha.host)
    response = _token(client, alpha.admin.email, PASSWORD, "10.6.0.1")
    assert response.status_code == 200
    token = response.json()["token"]
    me = client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}")
    assert me.status_code == 200
    assert me.json() == {"id": alpha.admin.pk, "email": alpha.admin.email, "full_name": "Alpha Net Admin",
                         "role": "admin", "tenant": "alpha"}


def test_wrong_credentials_are_a_json_401(alpha):
    response = _token(host_client(alpha.host), alpha.admin.email, "nope", "10.6.0.2")
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong email or password.", "code": "invalid_credentials"}


def test_malformed_body_is_a_json_400(alpha):
    response = host_client(alpha.host).post("/api/v1/auth/token/", {"email": "not-an-email"},
                                            content_type="application/json", REMOTE_ADDR="10.6.0.3")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["errors"]) == {"email", "password"}


def test_token_endpoint_is_rate_limited_per_address(alpha):
    client = host_client(alpha.host)
    # Different usernames, so only the per-address API throttle (10/min) applies.
    statuses = [_token(client, f"x{i}@alpha.test", "bad", "10.6.0.4").status_code for i in range(11)]
    assert statuses == [401] * 10 + [429]
    assert _token(client, alpha.admin.email, PASSWORD, "10.6.0.4").status_code == 429
    assert _token(client, alpha.admin.email, PASSWORD, "10.6.0.5").status_code == 200


def test_token_endpoint_locks_out_repeated_failures(alpha):
    client = host_client(alpha.host)
    statuses = [_token(client, alpha.admin.email, "bad", "10.6.0.6").status_code for _ in range(5)]
    assert statuses == [401] * 4 + [429]  # the fifth failure locks the email+address pair
    locked = _token(client, alpha.admin.email, PASSWORD, "10.6.0.6")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"


def test_me_requires_authentication(alpha):
    response = host_client(alpha.host).get("/api/v1/me/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()


def test_openapi_schema_and_docs(alpha):
    client = host_client(alpha.host)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/auth/token/" in schema.content and b"/api/v1/me/" in schema.content
    assert client.get("/api/docs/").status_code == 200
