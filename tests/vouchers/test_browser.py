"""A customer redeems a voucher in the customer portal, and a device at the hotspot captive portal — in
Chromium against the real web server. The ISP is one of its own (committed data the server can see)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import Subscriber, SubscriberStatus
from ledger.checks import ledger_check
from ledger.vouchers.models import Recharge, Voucher, VoucherBatch, VoucherStatus
from ledger.vouchers.pins import pin_format
from tenants.services import tenant_create
from tests.support.personas import PASSWORD, Isp, build_personas
from tests.vouchers.factories import sold_pin

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def isp(django_db_setup, django_db_blocker) -> Iterator[Isp]:
    slug = f"vb{uuid.uuid4().hex[:6]}"
    with django_db_blocker.unblock():
        tenant = tenant_create(name="Voucher Browser Net", slug=slug, admin_email=f"admin@{slug}.test",
                               admin_password=PASSWORD, admin_name="Vera Admin")
        made = build_personas(tenant)
    yield made
    with django_db_blocker.unblock():
        tenant.delete(force_drop=True)


def _sign_in(page, base: str, user, next_path: str) -> None:
    page.goto(f"{base}/login/?next={next_path}")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_customer_redeems_a_voucher_in_the_portal(page, web_server, isp, django_db_blocker):
    with django_db_blocker.unblock(), schema_context(isp.schema):
        voucher, pin = sold_pin(isp, quantity=2, face_price=10_00)  # at least the 2 days it costs
        Subscriber.objects.filter(pk=isp.customer.pk).update(status=SubscriberStatus.EXPIRED)
    base = f"http://{isp.host}:{web_server}"
    _sign_in(page, base, isp.customer_user, "/portal/vouchers/")
    page.wait_for_selector("text=Redeem a voucher")
    assert page.inner_text("[data-testid=status]") == "Expired"
    page.fill("#id_pin", pin_format(pin).lower())
    page.click("button:has-text('Redeem')")
    page.wait_for_selector("text=Voucher accepted: 2 days of Home 20M")
    assert page.inner_text("[data-testid=status]") == "Active"
    assert "(voucher)" in page.inner_text("[data-testid=recharges]")
    page.fill("#id_pin", pin)
    page.click("button:has-text('Redeem')")
    page.wait_for_selector(".invalid-feedback:has-text('already used')")
    with django_db_blocker.unblock(), schema_context(isp.schema):
        carol = Subscriber.objects.get(pk=isp.customer.pk)
        assert carol.status == SubscriberStatus.ACTIVE
        assert page.inner_text("[data-testid=expires]") == f"{carol.expires_at:%Y-%m-%d %H:%M} UTC"
        assert Voucher.objects.get(pk=voucher.pk).status == VoucherStatus.REDEEMED
        assert ledger_check().ok


def test_device_gets_online_at_the_hotspot_portal(page, web_server, isp, django_db_blocker):
    with django_db_blocker.unblock(), schema_context(isp.schema):
        _voucher, pin = sold_pin(isp, owner=isp.root, quantity=4, unit="hours")
    page.goto(f"http://{isp.host}:{web_server}/hotspot/?mac=de:ad:be:ef:00:01&link-login-only=http://10.5.50.1/login")
    assert page.input_value("#id_identity") == "de:ad:be:ef:00:01"
    page.fill("#id_pin", "2345-6789-ABCD-EFGH")
    page.click("button:has-text('Connect')")
    page.wait_for_selector(".invalid-feedback:has-text('This PIN is not valid')")
    page.fill("#id_pin", pin_format(pin))
    page.click("button:has-text('Connect')")
    page.wait_for_selector("[data-testid=connected]")
    assert page.locator("form[action='http://10.5.50.1/login'] input[name=username]").input_value() == "DE:AD:BE:EF:00:01"
    with django_db_blocker.unblock(), schema_context(isp.schema):
        device = Subscriber.objects.get(mac_address="DE:AD:BE:EF:00:01")
        assert device.status == SubscriberStatus.ACTIVE and device.connection_type == "hotspot"
        recharge = Recharge.objects.get(customer=device)
        assert recharge.channel == "hotspot" and (recharge.period_end - recharge.period_start).total_seconds() == 4 * 3600
        assert page.inner_text("[data-testid=until]") == f"{device.expires_at:%Y-%m-%d %H:%M} UTC"
        assert ledger_check().ok


def test_customer_recharges_itself_from_credit_in_the_portal(page, web_server, isp, django_db_blocker):
    from ledger.services import payment_record

    with django_db_blocker.unblock(), schema_context(isp.schema):
        carol = Subscriber.objects.select_related("owner", "package").get(pk=isp.customer.pk)
        payment_record(actor=SYSTEM, customer=carol, amount=5_00, method="bank",
                       idempotency_key=f"browser-{uuid.uuid4()}")
        recharges = Recharge.objects.filter(customer=carol).count()
    base = f"http://{isp.host}:{web_server}"
    _sign_in(page, base, isp.customer_user, "/portal/recharge/")
    page.wait_for_selector("text=Recharge my account")
    page.fill("#id_quantity", "30")
    page.select_option("#id_unit", "hours")
    page.click("[data-testid=preview]")
    # 30 hours of Home 20M at the sub-reseller's 120.00 per 30 days: 120 x 30 / 720 = 5.00.
    page.wait_for_selector("[data-testid=quote]")
    assert page.inner_text("[data-testid=price]") == "5.00"
    assert page.inner_text("[data-testid=credit]") == "5.00"
    page.click("[data-testid=buy-credit]")
    page.wait_for_selector("text=Recharged: 30 hours of Home 20M for 5.00")
    with django_db_blocker.unblock(), schema_context(isp.schema):
        carol = Subscriber.objects.get(pk=isp.customer.pk)
        recharge = Recharge.objects.filter(customer=carol).order_by("-id").first()
        assert Recharge.objects.filter(customer=carol).count() == recharges + 1
        assert recharge is not None and (recharge.source, recharge.channel, recharge.price) == ("customer", "portal", 500)
        assert carol.expires_at == recharge.period_end
        assert page.inner_text("[data-testid=expires]") == f"{carol.expires_at:%Y-%m-%d %H:%M} UTC"
        assert "Bought by the customer itself" in page.inner_text("[data-testid=recharges]")
        assert ledger_check().ok


def test_reseller_prints_a_batch_and_opens_its_sheet_in_the_panel(page, web_server, isp, django_db_blocker):
    base = f"http://{isp.host}:{web_server}"
    _sign_in(page, base, isp.reseller_user, "/")
    page.click("text=Voucher batches")
    page.wait_for_selector("h1:has-text('Voucher batches')")
    page.select_option("#id_package", str(isp.package.pk))
    page.fill("#id_quantity", "7")
    page.fill("#id_face_price", "0")
    page.fill("#id_count", "12")
    page.click("button:has-text('Print')")
    page.wait_for_selector(".invalid-feedback:has-text('greater than or equal to 0.01')")
    page.fill("#id_face_price", "25.00")  # at least the 7 days cost the reseller (23.33)
    page.fill("#id_note", "Corner shop")
    page.click("button:has-text('Print')")
    page.wait_for_selector("text=Printed batch")
    assert page.inner_text("#batch-stock [data-status=new]") == "12"
    with django_db_blocker.unblock(), schema_context(isp.schema):
        made = VoucherBatch.objects.get(note="Corner shop")
        assert (made.count, made.quantity, made.face_price, made.owner_id) == (12, 7, 25_00, isp.reseller.pk)
    # The sheet link, fetched by the page itself (its session, its host).
    href = page.get_attribute("#batch-pdf", "href")
    assert href == f"/api/v1/voucher-batches/{made.pk}/pdf/"
    status, head = page.evaluate(
        "async (url) => { const r = await fetch(url); const b = new Uint8Array(await r.arrayBuffer());"
        " return [r.status, String.fromCharCode(...b.slice(0, 4))]; }", href)
    assert (status, head) == (200, "%PDF")
    page.click("text=← Voucher batches")
    assert page.inner_text(f"[data-batch='{made.pk}'] [data-status=new]") == "12"
