from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import Role, User
from tenants.models import Domain, Tenant
from tenants.services import tenant_create
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "Gamma Wireless",
    "slug": "gamma",
    "admin_name": "Grace Admin",
    "admin_email": "grace@gamma.test",
    "admin_password": PASSWORD,
    "admin_password_again": PASSWORD,
}


def _nothing_left(slug: str) -> None:
    assert not Tenant.objects.filter(slug=slug).exists()
    assert not Domain.objects.filter(domain__startswith=f"{slug}.").exists()
    assert not schema_exists(f"isp_{slug.replace('-', '_')}")


def test_signup_creates_schema_domain_and_admin(public_client):
    response = public_client.post("/signup/", GOOD)
    assert response.status_code == 201, response.content
    assert b"gamma.localhost" in response.content
    tenant = Tenant.objects.get(slug="gamma")
    assert tenant.schema_name == "isp_gamma"
    assert tenant.currency == "USD" and tenant.timezone == "UTC"
    assert Domain.objects.get(tenant=tenant).domain == "gamma.localhost"
    assert schema_exists("isp_gamma")
    with schema_context("isp_gamma"):
        admin = User.objects.get(email="grace@gamma.test")
        assert admin.role == Role.ADMIN and admin.check_password(PASSWORD)
    # The admin does not exist in public or in other ISPs.
    connection.set_schema_to_public()
    assert not User.objects.filter(email="grace@gamma.test").exists()


def test_new_schema_is_cloned_from_the_current_template(public_client):
    public_client.post("/signup/", GOOD)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT app, name FROM tenant_template.django_migrations EXCEPT "
            "SELECT app, name FROM isp_gamma.django_migrations"
        )
        assert cursor.fetchall() == []
        cursor.execute("SELECT count(*) FROM tenant_template.django_migrations")
        assert cursor.fetchone()[0] > 10


def test_missing_template_refuses_instead_of_silently_migrating():
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA tenant_template CASCADE")  # rolled back with the test
    with pytest.raises(ImproperlyConfigured, match="template"):
        tenant_create(name="X", slug="xray", admin_email="x@x.test", admin_password=PASSWORD)
    _nothing_left("xray")


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        ("www", "reserved"),
        ("superadmin", "reserved"),
        ("api", "reserved"),
        ("public", "reserved"),
        ("static", "reserved"),
        ("Bad_Name!", "lowercase letters"),
        ("a", "lowercase letters"),
        ("-lead", "lowercase letters"),
        ("trail-", "lowercase letters"),
        ("9lives", "lowercase letters"),
        ("x" * 41, "at most 40"),
    ],
)
def test_bad_subdomain_is_a_form_error_and_creates_nothing(public_client, slug, message):
    before = Tenant.objects.count()
    response = public_client.post("/signup/", {**GOOD, "slug": slug})
    assert response.status_code == 400
    assert message in response.content.decode().replace("&#x27;", "'")
    assert Tenant.objects.count() == before


def test_taken_subdomain(public_client, alpha):
    response = public_client.post("/signup/", {**GOOD, "slug": "alpha"})
    assert response.status_code == 400
    assert "already taken" in response.content.decode()
    assert Tenant.objects.filter(slug="alpha").count() == 1


@pytest.mark.parametrize("password", ["short", "password123", "1234567890123", "grace@gamma.test"])
def test_weak_password(public_client, password):
    response = public_client.post(
        "/signup/", {**GOOD, "admin_password": password, "admin_password_again": password}
    )
    assert response.status_code == 400
    assert b"invalid-feedback" in response.content
    _nothing_left("gamma")


def test_mismatched_passwords(public_client):
    response = public_client.post("/signup/", {**GOOD, "admin_password_again": PASSWORD + "x"})
    assert response.status_code == 400
    _nothing_left("gamma")


def test_missing_fields(public_client):
    response = public_client.post("/signup/", {"slug": "gamma"})
    assert response.status_code == 400
    assert b"This field is required" in response.content
    _nothing_left("gamma")


def test_duplicate_submit_creates_one_tenant(public_client):
    assert public_client.post("/signup/", GOOD).status_code == 201
    second = public_client.post("/signup/", GOOD)
    assert second.status_code == 400
    assert "already taken" in second.content.decode()
    assert Tenant.objects.filter(slug="gamma").count() == 1


def test_failure_midway_leaves_nothing_behind(public_client):
    with mock.patch("tenants.services.tenant_schema_seed", side_effect=RuntimeError("disk full")), \
            pytest.raises(RuntimeError):
        tenant_create(name="Delta", slug="delta", admin_email="d@delta.test", admin_password=PASSWORD)
    _nothing_left("delta")


def test_race_on_the_unique_constraint_is_a_validation_error(alpha):
    # The pre-check passes (as if a concurrent signup had not committed yet); the constraint decides.
    with mock.patch("tenants.services.tenant_slug_validate", return_value="alpha"), \
            pytest.raises(ValidationError, match="already taken"):
        tenant_create(name="Alpha 2", slug="alpha", admin_email="a2@alpha.test", admin_password=PASSWORD)


def test_create_tenant_command(capsys):
    from django.core.management import call_command

    call_command(
        "create_tenant", "--name", "Echo", "--slug", "echo", "--admin-email", "e@echo.test",
        "--admin-password", PASSWORD,
    )
    assert "Created Echo" in capsys.readouterr().out
    assert Tenant.objects.filter(slug="echo").exists()


def test_create_tenant_command_reports_bad_input():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="reserved"):
        call_command("create_tenant", "--name", "W", "--slug", "www", "--admin-email", "w@w.test",
                     "--admin-password", PASSWORD)
