"""Voucher batches cost their owner what the service costs it, a card distributor sells only its own stock
and moves no wallet money, recharges need the act and the customer in scope, and the hotspot reaches only
the device's own account. Each attack is made as the attacker would and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role
from hierarchy.audit import SYSTEM, Actor
from hierarchy.models import Subscriber
from ledger.billing.documents import tenant_today
from ledger.models import Posting
from ledger.vouchers.models import Voucher, VoucherBatch
from ledger.vouchers.recharge import recharge_purchase
from ledger.vouchers.services import batch_create, stock_assign, voucher_sell
from ledger.wallets import wallet_balance
from tests.authority.test_billing import refused
from tests.billing.factories import settings
from tests.billing.test_api import api
from tests.support.attacks import nothing_changes, staff
from tests.vouchers.factories import batch, distributor, fund, pin_of, sold_pin

pytestmark = pytest.mark.django_db


def _print(client: Client, package: int, **overrides):
    body = {"package": package, "quantity": 1, "unit": "days", "face_price": "5.00", "count": 10,
            "commission_percent": "0", **overrides}
    return client.post("/api/v1/voucher-batches/", body, content_type="application/json")


def test_a_reseller_cannot_print_cards_below_its_cost(alpha):
    reseller = api(alpha, alpha.reseller_user)  # buys Home 20M (30 days) at 100.00
    with refused(alpha):
        cheap = _print(reseller, alpha.package.pk, face_price="0.01", quantity=366, count=100)
        under = _print(reseller, alpha.package.pk, face_price="3.32")  # one day costs it 3.33 (100 x 1/30)
        # The commission comes out of the face price: 3.60 less 10 % is under the cost.
        commission = _print(reseller, alpha.package.pk, face_price="3.60", commission_percent="10")
        sub = _print(reseller, alpha.package.pk, owner=alpha.sub_reseller.pk, face_price="3.40")  # sub pays 3.67
    for response in (cheap, under, commission, sub):
        assert response.status_code == 400 and "face_price" in response.json()["errors"], response.content
    with schema_context(alpha.schema):
        assert not VoucherBatch.objects.exists() and not Voucher.objects.exists()
    assert _print(reseller, alpha.package.pk, face_price="3.33").status_code == 201
    assert _print(reseller, alpha.package.pk, face_price="1220.00", quantity=366).status_code == 201
    # The ISP may allow a discount below cost, bounded.
    with schema_context(alpha.schema):
        settings(max_voucher_discount_percent=Decimal("20"))
    assert _print(reseller, alpha.package.pk, face_price="2.66").status_code == 201  # 3.33 less 20 %
    assert _print(reseller, alpha.package.pk, face_price="2.65").status_code == 400


def test_validity_and_commission_are_bounded_by_the_isp(alpha):
    reseller = api(alpha, alpha.reseller_user)
    with schema_context(alpha.schema):
        today = tenant_today()
    with refused(alpha):
        forever = _print(reseller, alpha.package.pk, valid_until=(today + timedelta(days=367)).isoformat())
        greedy = _print(reseller, alpha.package.pk, face_price="50.00", commission_percent="20.01")
    assert forever.status_code == 400 and "valid_until" in forever.json()["errors"]
    assert greedy.status_code == 400 and "commission_percent" in greedy.json()["errors"]
    with schema_context(alpha.schema):
        settings(voucher_max_valid_days=30, max_voucher_commission_percent=Decimal("80"))
    with refused(alpha):
        month = _print(reseller, alpha.package.pk, valid_until=(today + timedelta(days=31)).isoformat())
        # The sub-reseller's own share is 50 %: it pays no distributor more than that.
        share = _print(reseller, alpha.package.pk, owner=alpha.sub_reseller.pk, face_price="50.00",
                       commission_percent="50.01")
    assert month.status_code == 400 and share.status_code == 400 and "commission_percent" in share.json()["errors"]
    made = _print(reseller, alpha.package.pk)
    assert made.status_code == 201 and made.json()["valid_until"] == (today + timedelta(days=30)).isoformat()
    with schema_context(alpha.schema):
        assert VoucherBatch.objects.count() == 1


def test_roles_that_may_not_print_or_void_cards(alpha):
    """Printing is a reseller's (or the ISP admin's); voiding a money role's (the accountant may void)."""
    with schema_context(alpha.schema):
        made = batch(alpha.reseller, alpha.package, count=2)
        card = made.vouchers.order_by("number").first()
        logins = {"manager": staff(alpha, Role.MANAGER), "accountant": staff(alpha, Role.ACCOUNTANT),
                  "support": staff(alpha, Role.SUPPORT), "distributor": distributor(alpha.reseller),
                  "customer": alpha.customer_user}
    for who, user in logins.items():
        client = api(alpha, user)
        with refused(alpha):
            printed = _print(client, alpha.package.pk, face_price="500.00")
            voided = client.post(f"/api/v1/vouchers/{card.pk}/void/") if who != "accountant" else None
        assert printed.status_code == 403, (who, printed.content)
        if voided is not None:  # the manager sees the card and is refused; the others do not see it
            assert voided.status_code == (403 if who == "manager" else 404), (who, voided.content)
    with schema_context(alpha.schema):
        assert VoucherBatch.objects.count() == 1 and Voucher.objects.get(pk=card.pk).status == "new"
        with nothing_changes(), pytest.raises(PermissionDenied):
            batch_create(package=alpha.package, quantity=1, unit="days", face_price=500_00, count=5,
                         owner=alpha.reseller, actor=logins["manager"])
        assert VoucherBatch.objects.count() == 1


def test_a_card_distributor_sells_only_its_own_stock_and_moves_no_wallet_money(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        made = batch(alpha.sub_reseller, alpha.package, count=4)
        mine, theirs = distributor(alpha.sub_reseller), distributor(alpha.sub_reseller)
        stock_assign(batch=made, distributor=mine, count=1, actor=SYSTEM)
        stock_assign(batch=made, distributor=theirs, count=1, actor=SYSTEM)
        my_card = Voucher.objects.select_related("batch").get(batch=made, distributor=mine)
        their_card = Voucher.objects.select_related("batch").get(batch=made, distributor=theirs)
        wallets = {node.pk: wallet_balance(node=node) for node in (alpha.reseller, alpha.sub_reseller)}
    client = api(alpha, mine)
    with refused(alpha):
        assert client.post(f"/api/v1/vouchers/{their_card.pk}/sell/").status_code == 404  # not in its stock
        assert client.post(f"/api/v1/voucher-batches/{made.pk}/assign/", {"distributor": mine.pk, "count": 2},
                           content_type="application/json").status_code == 403
        assert client.post("/api/v1/recharges/", {"customer": alpha.customer.pk, "quantity": 1, "unit": "days"},
                           content_type="application/json", HTTP_IDEMPOTENCY_KEY="d1").status_code == 403
    with schema_context(alpha.schema), nothing_changes(), pytest.raises(ValidationError):
        voucher_sell(voucher=their_card, actor=mine)  # a direct call: refused by the service
    assert client.post(f"/api/v1/vouchers/{my_card.pk}/sell/").status_code == 200
    with schema_context(alpha.schema):
        sold = Voucher.objects.get(pk=my_card.pk)
        assert sold.status == "sold" and Voucher.objects.get(pk=their_card.pk).status == "new"
        assert not Posting.objects.filter(entry_id=sold.sale_entry_id, account__kind="wallet").exists()
        assert {node.pk: wallet_balance(node=node) for node in (alpha.reseller, alpha.sub_reseller)} == wallets


def test_a_recharge_needs_the_act_and_the_customer_in_scope(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        support = staff(alpha, Role.SUPPORT)
    body = {"customer": alpha.customer.pk, "quantity": 30, "unit": "days"}
    with refused(alpha):
        assert api(alpha, support).post("/api/v1/recharges/", body, content_type="application/json",
                                        HTTP_IDEMPOTENCY_KEY="s1").status_code == 403
        outsider = api(alpha, alpha.sibling_user).post("/api/v1/recharges/", body, content_type="application/json",
                                                       HTTP_IDEMPOTENCY_KEY="s2")
        assert outsider.status_code == 400 and "customer" in outsider.json()["errors"]
    with schema_context(alpha.schema), nothing_changes(), pytest.raises(PermissionDenied):
        carol = Subscriber.objects.select_related("owner", "package").get(pk=alpha.customer.pk)
        recharge_purchase(customer=carol, package=alpha.package, quantity=30, unit="days",
                          actor=Actor(user=alpha.sibling_user))


def test_the_hotspot_never_redeems_onto_another_customer(alpha):
    """An attacker on the hotspot page with a valid card names carol (by username, or by the MAC address of
    her PPPoE router): her package and expiry do not move, no entry is posted, the answer is the generic one."""
    with schema_context(alpha.schema):
        _card, pin = sold_pin(alpha, owner=alpha.sub_reseller)
        Subscriber.objects.filter(pk=alpha.customer.pk).update(mac_address="AA:BB:CC:00:00:01")
        unknown_pin = pin_of(batch(alpha.root, alpha.package, count=1).vouchers.get())[::-1]
    hotspot = Client(HTTP_HOST=alpha.host)
    with refused(alpha):
        by_name = hotspot.post("/hotspot/", {"identity": "carol", "pin": pin})
        nobody = hotspot.post("/hotspot/", {"identity": "nobody-at-all", "pin": pin})
        by_mac = hotspot.post("/hotspot/", {"identity": "aa:bb:cc:00:00:01", "pin": pin})
        wrong_pin = hotspot.post("/hotspot/", {"identity": "aa:bb:cc:00:00:02", "pin": unknown_pin})
    for response in (by_name, nobody, by_mac, wrong_pin):
        assert response.status_code == 400 and b"You're online" not in response.content
    assert by_name.content.count(b"invalid-feedback") == nobody.content.count(b"invalid-feedback") == 1
    assert b"This PIN is not valid" in by_mac.content and b"This PIN is not valid" in wrong_pin.content
    with schema_context(alpha.schema):
        assert Voucher.objects.get(pin_digest=_card.pin_digest).status == "sold"
        assert not Subscriber.objects.filter(mac_address="AA:BB:CC:00:00:02").exists()
