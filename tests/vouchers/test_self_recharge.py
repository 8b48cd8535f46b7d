"""Customer self-recharge: the price preview, buying from credit (accrual: a sale on the receivable),
insufficient credit, scoping, idempotency, and the portal page (test client). The Stripe path is in
test_self_recharge_stripe.py, the browser test in test_browser.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import Package, PackageAssignment, Subscriber
from ledger.billing.payments import customer_credit
from ledger.checks import ledger_check
from ledger.models import EntryKind, JournalEntry, Posting
from ledger.services import payment_record
from ledger.vouchers.models import Recharge
from tests.ledger.factories import balance, check_deferred_now
from tests.ledger.test_api import api

pytestmark = pytest.mark.django_db

URL = "/api/v1/recharges/self/"


def _buy(client: Client, key: str = "k1", **body):
    return client.post(URL, {"quantity": 1, "unit": "days", **body}, content_type="application/json",
                       HTTP_IDEMPOTENCY_KEY=key)


def _pay(isp, amount: int, key: str = "pay-1") -> None:
    with schema_context(isp.schema):
        carol = Subscriber.objects.select_related("owner", "package").get(pk=isp.customer.pk)
        payment_record(actor=SYSTEM, customer=carol, amount=amount, method="bank", idempotency_key=key)


def _state(isp) -> tuple:
    with schema_context(isp.schema):
        carol = Subscriber.objects.get(pk=isp.customer.pk)
        return (carol.expires_at, carol.package_id, Recharge.objects.count(), JournalEntry.objects.count(),
                balance(f"receivable:c{carol.pk}"))


def test_preview_is_the_charged_price_to_the_cent_days_hours_and_special_price(alpha):
    carol = api(alpha, alpha.customer_user)
    # Carol's owner (the sub-reseller) sells Home 20M (30 days) at 120.00.
    day = carol.get(URL, {"quantity": 1, "unit": "days"})
    assert day.status_code == 200, day.content
    assert day.json() == {"package": alpha.package.pk, "package_name": "Home 20M", "quantity": 1, "unit": "days",
                               "price": "4.00", "credit": "0.00", "covered": False, "stripe": False}
    # 7 hours: 120.00 x 7 / 720 = 1.1667 → 1.17 (half up).
    assert carol.get(URL, {"quantity": 7, "unit": "hours"}).json()["price"] == "1.17"
    with schema_context(alpha.schema):
        Subscriber.objects.filter(pk=alpha.customer.pk).update(special_price=Decimal("99.99"))
    # Special price: 99.99 x 24 / 720 = 3.333 → 3.33; 5 hours: 0.694 → 0.69; 15 hours: 2.083 → 2.08.
    assert carol.get(URL, {"quantity": 1, "unit": "days"}).json()["price"] == "3.33"
    assert carol.get(URL, {"quantity": 5, "unit": "hours"}).json()["price"] == "0.69"
    _pay(alpha, 10_00)
    preview = carol.get(URL, {"quantity": 15, "unit": "hours"}).json()
    assert (preview["price"], preview["credit"], preview["covered"]) == ("2.08", "10.00", True)
    bought = _buy(carol, quantity=15, unit="hours")
    assert bought.status_code == 201, bought.content
    assert bought.json()["price"] == "2.08" and bought.json()["source"] == "customer"
    with schema_context(alpha.schema):
        entry = JournalEntry.objects.get(kind=EntryKind.RECHARGE)
        lines = {p.account.code: p.debit - p.credit for p in Posting.objects.filter(entry=entry).select_related("account")}
        assert lines == {f"receivable:c{alpha.customer.pk}": 208, "sales_revenue": -208}
        assert customer_credit(customer_id=alpha.customer.pk) == 10_00 - 208


def test_buy_from_credit_after_a_payment_exact_expiry_receivable_back_to_zero(alpha):
    with schema_context(alpha.schema):
        wallet_before = balance(f"wallet:{alpha.sub_reseller.pk}")
        Subscriber.objects.filter(pk=alpha.customer.pk).update(
            expires_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC))
    # 3 days of Home 20M at 120.00: 12.00. Carol pays exactly that first.
    _pay(alpha, 12_00)
    carol = api(alpha, alpha.customer_user)
    with time_machine.travel(datetime(2026, 2, 27, 9, 0, 41, tzinfo=UTC), tick=False):
        bought = _buy(carol, quantity=3)
    assert bought.status_code == 201, bought.content
    with schema_context(alpha.schema):
        recharge = Recharge.objects.get()
        # Still valid: the three days run from the current expiry, exact to the minute.
        assert recharge.period_start == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        assert Subscriber.objects.get(pk=alpha.customer.pk).expires_at == datetime(2026, 3, 4, 12, 30, tzinfo=UTC)
        assert (recharge.price, recharge.cost, recharge.source, recharge.channel) == (12_00, 0, "customer", "api")
        entry = recharge.entry
        assert entry is not None and (entry.customer_id, entry.node_id, entry.package_id) == (
            alpha.customer.pk, alpha.sub_reseller.pk, alpha.package.pk)
        check_deferred_now()
        assert balance(f"receivable:c{alpha.customer.pk}") == 0
        assert balance("sales_revenue") == -12_00
        assert balance(f"wallet:{alpha.sub_reseller.pk}") == wallet_before  # the reseller did not buy it
        assert customer_credit(customer_id=alpha.customer.pk) == 0
        assert ledger_check().ok
    # Nothing left: a second purchase is refused and changes nothing.
    before = _state(alpha)
    again = _buy(carol, key="k2", quantity=1)
    assert again.status_code == 400 and "credit" in again.json()["errors"]["amount"][0]
    assert _state(alpha) == before


def test_insufficient_credit_changes_nothing(alpha):
    _pay(alpha, 3_99)  # one day costs 4.00
    before = _state(alpha)
    refused = _buy(api(alpha, alpha.customer_user), quantity=1)
    assert refused.status_code == 400
    assert "3.99" in refused.json()["errors"]["amount"][0] and "4.00" in refused.json()["errors"]["amount"][0]
    assert _state(alpha) == before


def test_bad_input_and_scope(alpha, beta):
    _pay(alpha, 500_00)
    carol = api(alpha, alpha.customer_user)
    with schema_context(alpha.schema):
        # Sold by the sibling reseller only, and one the ISP sells itself but not assigned to carol's owner.
        sibling_only = Package.objects.create(name="Sibling 50M", type="pppoe", download_kbps=50_000,
                                              upload_kbps=10_000, price=Decimal("50.00"), validity_days=30)
        PackageAssignment.objects.create(package=sibling_only, operator=alpha.sibling, price=Decimal("55.00"))
    before = _state(alpha)
    for body in ({"package": sibling_only.pk}, {"package": 999_999}, {"quantity": 0}, {"quantity": -2},
                 {"quantity": 367}, {"quantity": 10_000, "unit": "hours"}, {"unit": "weeks"}, {"quantity": "x"}):
        response = _buy(carol, key=f"bad-{body}", **body)
        assert response.status_code == 400, (body, response.content)
        assert isinstance(response.json(), dict)
        assert carol.get(URL, {"quantity": 1, "unit": "days", **body}).status_code == 400
    assert _buy(carol, key="").status_code == 400  # no Idempotency-Key
    no_card = _buy(carol, key="card", pay="stripe")  # this ISP has no Stripe keys
    assert no_card.status_code == 400 and "not connected Stripe" in no_card.json()["errors"]["stripe"][0]
    # Staff and resellers cannot use the self endpoint, not even naming carol.
    for outsider in (alpha.admin, alpha.reseller_user, alpha.sub_reseller_user, alpha.sibling_user):
        response = _buy(api(alpha, outsider), key="staff", customer=alpha.customer.pk)
        assert response.status_code == 400 and "customer" in response.json()["errors"]
    assert _state(alpha) == before
    # Beta's customer buys in beta only (with beta's credit): alpha is untouched.
    _pay(beta, 4_00)
    assert _buy(api(beta, beta.customer_user), key="k1").status_code == 201
    assert _buy(api(beta, beta.customer_user), key="k2").status_code == 400  # beta's credit is spent
    assert _state(alpha) == before
    with schema_context(beta.schema):
        assert Recharge.objects.get().customer_id == beta.customer.pk


def test_idempotency_replay_and_conflict(alpha):
    _pay(alpha, 100_00)
    carol = api(alpha, alpha.customer_user)
    first = _buy(carol, key="same", quantity=2)
    assert first.status_code == 201
    state = _state(alpha)
    replay = _buy(carol, key="same", quantity=2)
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert _buy(carol, key="same", quantity=3).status_code == 409
    assert _state(alpha) == state
    with schema_context(alpha.schema):
        assert customer_credit(customer_id=alpha.customer.pk) == 100_00 - 8_00


def test_portal_page_previews_then_buys_from_credit_or_explains(alpha):
    client = Client(HTTP_HOST=alpha.host)
    with schema_context(alpha.schema):
        client.force_login(alpha.customer_user)
    page = client.get("/portal/recharge/")
    assert page.status_code == 200 and b"Card payments are not available" in page.content
    key = page.context["form"].initial["key"]
    order = {"package": alpha.package.pk, "quantity": 2, "unit": "days", "key": key}
    preview = client.post("/portal/recharge/", {**order, "action": "preview"})
    assert preview.status_code == 200 and preview.context["price"] == Decimal("8.00")
    assert b"data-testid=\"no-card\"" in preview.content  # no credit, no Stripe
    before = _state(alpha)
    refused = client.post("/portal/recharge/", {**order, "action": "credit"})
    assert refused.status_code == 400 and b"nothing was changed" in refused.content
    assert client.post("/portal/recharge/", {**order, "quantity": 0, "action": "preview"}).status_code == 400
    assert _state(alpha) == before
    _pay(alpha, 8_00)
    done = client.post("/portal/recharge/", {**order, "action": "credit"}, follow=True)
    assert done.status_code == 200 and b"Recharged: 2 days of Home 20M for 8.00" in done.content
    # The same form posted again (a double click) buys nothing more.
    client.post("/portal/recharge/", {**order, "action": "credit"})
    with schema_context(alpha.schema):
        assert Recharge.objects.get().channel == "portal"
        check_deferred_now()
        assert balance(f"receivable:c{alpha.customer.pk}") == 0
    assert Client(HTTP_HOST=alpha.host).get("/portal/recharge/").status_code == 302
    staff = Client(HTTP_HOST=alpha.host)
    with schema_context(alpha.schema):
        staff.force_login(alpha.reseller_user)
    assert staff.get("/portal/recharge/").status_code == 403
