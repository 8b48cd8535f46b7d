"""The customer portal's voucher page and the hotspot captive portal, through Django's test client
(the browser tests in test_browser.py drive the same pages in Chromium)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from hierarchy.models import Subscriber, SubscriberStatus
from ledger.checks import ledger_check
from ledger.vouchers.models import Recharge, Voucher, VoucherStatus
from ledger.vouchers.pins import pin_format
from portal.voucher_views import NOT_A_DEVICE
from tests.vouchers.factories import batch, pin_of, signed_in, sold_pin

pytestmark = pytest.mark.django_db



def test_customer_redeems_in_the_portal(alpha):
    with schema_context(alpha.schema):
        voucher, pin = sold_pin(alpha, quantity=7, face_price=30_00)  # at least the 7 days it costs
        Subscriber.objects.filter(pk=alpha.customer.pk).update(status=SubscriberStatus.EXPIRED)
    client = signed_in(alpha, alpha.customer_user)
    page = client.get("/portal/vouchers/")
    assert page.status_code == 200 and b"Redeem a voucher" in page.content and b"carol" in page.content
    done = client.post("/portal/vouchers/", {"pin": pin_format(pin)}, follow=True)
    assert done.status_code == 200 and b"Voucher accepted: 7 days of Home 20M" in done.content
    with schema_context(alpha.schema):
        carol = Subscriber.objects.get(pk=alpha.customer.pk)
        assert carol.status == SubscriberStatus.ACTIVE and Voucher.objects.get(pk=voucher.pk).status == "redeemed"
        assert Recharge.objects.get().channel == "portal"
        assert ledger_check().ok
    again = client.post("/portal/vouchers/", {"pin": pin})
    assert again.status_code == 400 and b"already used" in again.content


def test_portal_is_for_customers_and_limits_wrong_pins(alpha):
    assert Client(HTTP_HOST=alpha.host).get("/portal/vouchers/").status_code == 302  # sign in first
    assert signed_in(alpha, alpha.reseller_user).get("/portal/vouchers/").status_code == 403
    client = signed_in(alpha, alpha.customer_user)
    for _ in range(5):
        wrong = client.post("/portal/vouchers/", {"pin": "2345-6789-ABCD-EFGH"})
        assert wrong.status_code == 400 and b"This PIN is not valid" in wrong.content
    with schema_context(alpha.schema):
        _voucher, good = sold_pin(alpha)
    blocked = client.post("/portal/vouchers/", {"pin": good})
    assert blocked.status_code == 400 and b"Too many wrong PINs; try again in 15 minutes." in blocked.content
    with schema_context(alpha.schema):
        assert not Recharge.objects.exists()


def test_hotspot_device_by_mac_only(alpha):
    with schema_context(alpha.schema):
        _voucher, pin = sold_pin(alpha, owner=alpha.root, quantity=3, unit="hours")
        _other, carol_pin = sold_pin(alpha)
        carol_before = Subscriber.objects.values_list("package_id", "expires_at", "status").get(pk=alpha.customer.pk)
    hotspot = Client(HTTP_HOST=alpha.host)
    form = hotspot.get("/hotspot/?mac=aa-bb-cc-dd-ee-01&link-login-only=http://10.5.50.1/login")
    assert form.status_code == 200 and b'value="aa-bb-cc-dd-ee-01"' in form.content
    done = hotspot.post("/hotspot/", {"identity": "aa-bb-cc-dd-ee-01", "pin": pin,
                                      "link_login_only": "http://10.5.50.1/login"})
    assert done.status_code == 200 and b"You're online" in done.content
    assert b'action="http://10.5.50.1/login"' in done.content and b'value="AA:BB:CC:DD:EE:01"' in done.content
    # A username reaches nobody, and an existing one is answered exactly like one that does not exist.
    by_name = hotspot.post("/hotspot/", {"identity": "carol", "pin": carol_pin})
    unknown = hotspot.post("/hotspot/", {"identity": "nobody", "pin": carol_pin})
    assert by_name.status_code == unknown.status_code == 400
    assert b"You're online" not in by_name.content and b"MAC address" in by_name.content
    assert _errors(by_name) == _errors(unknown) == [NOT_A_DEVICE.replace("'", "&#x27;")]
    evil = hotspot.get("/hotspot/?link-login-only=javascript:alert(1)")
    assert b"javascript:" not in evil.content
    with schema_context(alpha.schema):
        device = Subscriber.objects.get(mac_address="AA:BB:CC:DD:EE:01")
        assert device.connection_type == "hotspot" and device.status == SubscriberStatus.ACTIVE
        assert Subscriber.objects.values_list("package_id", "expires_at", "status").get(
            pk=alpha.customer.pk) == carol_before
        assert {r.channel for r in Recharge.objects.all()} == {"hotspot"}
        assert ledger_check().ok


def _errors(response) -> list[str]:
    return re.findall(r'class="invalid-feedback[^"]*"[^>]*>\s*([^<]*?)\s*<', response.content.decode())


def test_hotspot_wrong_pin_creates_nothing(alpha):
    with schema_context(alpha.schema):
        unsold = batch(alpha.root, alpha.package, count=1).vouchers.get()
    wrong = Client(HTTP_HOST=alpha.host).post("/hotspot/", {"identity": "AA:BB:CC:DD:EE:02",
                                                           "pin": pin_of_unsold(alpha, unsold)})
    assert wrong.status_code == 400 and b"not been sold" in wrong.content
    with schema_context(alpha.schema):
        assert not Subscriber.objects.filter(mac_address="AA:BB:CC:DD:EE:02").exists()
        assert Voucher.objects.get(pk=unsold.pk).status == VoucherStatus.NEW


def pin_of_unsold(isp, voucher: Voucher) -> str:
    with schema_context(isp.schema):
        return pin_of(voucher)
