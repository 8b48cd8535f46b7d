"""An ISP signs up and signs in, and a platform operator suspends it — in a real browser."""

from __future__ import annotations

import uuid

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.models import Tenant
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.slow


def test_signup_then_sign_in_on_the_new_subdomain(page, web_server, django_db_blocker):
    slug = f"web{uuid.uuid4().hex[:8]}"
    page.goto(f"http://localhost:{web_server}/signup/")
    page.fill("#id_name", "Web Wireless")
    page.fill("#id_slug", slug)
    page.fill("#id_admin_name", "Wendy Web")
    page.fill("#id_admin_email", "wendy@web.test")
    page.fill("#id_admin_password", PASSWORD)
    page.fill("#id_admin_password_again", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Web Wireless is ready")
    page.click(f"a[href*='{slug}.localhost']")

    page.wait_for_selector("#id_username")
    assert page.url == f"http://{slug}.localhost:{web_server}/login/"
    page.fill("#id_username", "wendy@web.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Web Wireless')")
    assert "Signed in as Wendy Web" in page.content()

    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug=slug)
        with schema_context(tenant.schema_name):
            assert User.objects.filter(email="wendy@web.test", role="admin").exists()


def test_signup_form_shows_errors_in_place(page, web_server):
    page.goto(f"http://localhost:{web_server}/signup/")
    page.fill("#id_name", "Reserved Net")
    page.fill("#id_slug", "superadmin")
    page.fill("#id_admin_name", "R")
    page.fill("#id_admin_email", "r@r.test")
    page.fill("#id_admin_password", "short")
    page.fill("#id_admin_password_again", "short")
    page.click("button[type=submit]")
    page.wait_for_selector(".invalid-feedback")
    text = page.inner_text("form")
    assert "reserved" in text and "too short" in text


def test_operator_suspends_an_isp_and_its_host_answers_403(page, web_server, django_db_blocker):
    slug = f"sus{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        from tenants.services import tenant_create

        tenant_create(name="Suspend Me", slug=slug, admin_email="s@s.test", admin_password=PASSWORD)
        operator_email = f"ops-{slug}@platform.test"
        User.objects.create_superuser(email=operator_email, password=PASSWORD, full_name="Ops")

    page.goto(f"http://localhost:{web_server}/superadmin/")
    page.fill("#id_username", operator_email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    row = page.locator(f"tr[data-tenant='{slug}']")
    row.locator("button:has-text('Suspend')").click()
    page.wait_for_selector("text=Suspend Me is suspended.")
    assert row.locator(".badge").inner_text() == "suspended"

    response = page.goto(f"http://{slug}.localhost:{web_server}/login/")
    assert response is not None and response.status == 403
    assert "is suspended" in page.content()

    page.goto(f"http://localhost:{web_server}/superadmin/")
    page.locator(f"tr[data-tenant='{slug}']").locator("button:has-text('Unsuspend')").click()
    response = page.goto(f"http://{slug}.localhost:{web_server}/login/")
    assert response is not None and response.status == 200
