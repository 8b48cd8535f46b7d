from __future__ import annotations

import pytest
from django.contrib.auth.hashers import get_hasher, identify_hasher

from tests.conftest import host_client
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_admin_signs_in_and_sees_the_dashboard(alpha):
    client = host_client(alpha.host)
    response = client.post("/login/", {"username": alpha.admin.email, "password": PASSWORD})
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200 and b"Alpha Net" in page.content


def test_login_is_throttled_after_repeated_failures(alpha):
    client = host_client(alpha.host)
    for _ in range(5):
        response = client.post("/login/", {"username": alpha.admin.email, "password": "wrong"},
                               REMOTE_ADDR="10.7.0.1")
        assert response.status_code in (200, 429)
    locked = client.post("/login/", {"username": alpha.admin.email, "password": PASSWORD}, REMOTE_ADDR="10.7.0.1")
    assert locked.status_code == 429
    assert b"Too many failed sign-in attempts" in locked.content
    # Another address is not locked out.
    other = client.post("/login/", {"username": alpha.admin.email, "password": PASSWORD}, REMOTE_ADDR="10.7.0.2")
    assert other.status_code == 302


def test_superadmin_login_is_throttled_too():
    client = host_client("localhost")
    for _ in range(5):
        client.post("/superadmin/login/", {"username": "x@y.test", "password": "bad"}, REMOTE_ADDR="10.7.1.1")
    locked = client.post("/superadmin/login/", {"username": "x@y.test", "password": "bad"}, REMOTE_ADDR="10.7.1.1")
    assert locked.status_code == 429


def test_production_settings_hash_passwords_with_argon2(settings):
    from config import settings as production_settings

    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    settings.PASSWORD_HASHERS = production_settings.PASSWORD_HASHERS
    encoded = get_hasher("default").encode("secret-password", get_hasher("default").salt())
    assert identify_hasher(encoded).algorithm == "argon2"
