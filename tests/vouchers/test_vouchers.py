"""Voucher batches, stock, sale, void and redemption through the service layer, with the ledger legs."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM, Actor
from hierarchy.models import Package, Subscriber, SubscriberStatus
from ledger.checks import ledger_check
from ledger.models import EntryKind, JournalEntry
from ledger.vouchers.models import Recharge, Voucher, VoucherStatus
from ledger.vouchers.pins import ALPHABET, PIN_LENGTH, pin_digest, pin_format, pin_normalize
from ledger.vouchers.services import (
    VoucherRejected,
    stock_assign,
    voucher_redeem,
    voucher_sell,
    voucher_void,
)
from tests.ledger.factories import balance, check_deferred_now
from tests.vouchers.factories import batch, distributor, pin_of, sold_pin

pytestmark = pytest.mark.django_db


def _carol(isp) -> Subscriber:
    return Subscriber.objects.select_related("owner", "package").get(pk=isp.customer.pk)


def test_pins_are_long_unambiguous_unique_and_stored_only_as_digest_and_ciphertext(alpha):
    with schema_context(alpha.schema):
        made = batch(alpha.root, alpha.package, count=500)
        vouchers = list(made.vouchers.all())
        pins = [pin_of(v) for v in vouchers]
        assert len(set(pins)) == 500 and len({v.pin_digest for v in vouchers}) == 500
        assert pins != sorted(pins)  # a card's number says nothing about its PIN
        for pin, voucher in zip(pins, vouchers, strict=True):
            assert len(pin) == PIN_LENGTH >= 12 and set(pin) <= set(ALPHABET)
            assert not set(pin) & set("0O1IL")
            assert voucher.pin_digest == pin_digest(pin) and pin not in voucher.pin_encrypted
        assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", pin_format(pins[0]))
        assert pin_normalize(pin_format(pins[0]).lower().replace("-", " ")) == pins[0]
        assert pin_normalize("O" * 16) is None and pin_normalize("short") is None
        assert [v.serial for v in vouchers[:2]] == [f"{made.pk:05d}-00001", f"{made.pk:05d}-00002"]


def test_batch_rules(alpha):
    with schema_context(alpha.schema):
        other = Package.objects.create(name="ISP only", type="pppoe", download_kbps=1, upload_kbps=1, price=5)
        with pytest.raises(ValidationError) as error:
            batch(alpha.reseller, other)  # not assigned to the reseller
        assert "package" in error.value.message_dict
        for bad in ({"count": 0}, {"count": 10_001}, {"face_price": 0}, {"commission": "100"}, {"quantity": 0}):
            with pytest.raises(ValidationError):
                batch(alpha.root, alpha.package, **bad)
        assert not Voucher.objects.exists()


def test_distributor_sells_commission_at_sale_and_revenue_at_redemption(alpha):
    with schema_context(alpha.schema):
        made = batch(alpha.sub_reseller, alpha.package, count=3, face_price=5_00, commission="10")
        seller = distributor(alpha.sub_reseller)
        assert stock_assign(actor=SYSTEM, batch=made, distributor=seller, count=2)
        stock = list(Voucher.objects.filter(distributor=seller).order_by("number"))
        assert [v.number for v in stock] == [1, 2]
        with pytest.raises(ValidationError):
            stock_assign(actor=SYSTEM, batch=made, distributor=seller, count=2)  # only one unassigned left
        not_mine = Voucher.objects.get(batch=made, number=3)
        with pytest.raises(ValidationError):
            voucher_sell(voucher=not_mine, actor=seller)
        sold = voucher_sell(voucher=stock[0], actor=seller)
        assert sold.status == VoucherStatus.SOLD and sold.commission == 50 and sold.seller_node_id == alpha.sub_reseller.pk
        with pytest.raises(ValidationError):
            voucher_sell(voucher=stock[0], actor=seller)  # once
        check_deferred_now()
        held, commission = f"cash_held:{alpha.sub_reseller.pk}", f"commission_payable:{alpha.sub_reseller.pk}"
        assert balance(held) == 5_00 and balance(commission) == -50 and balance("voucher_liability") == -5_00
        assert balance("commission_expense") == 50

        Subscriber.objects.filter(pk=alpha.customer.pk).update(status=SubscriberStatus.EXPIRED,
                                                               expires_at=timezone.now() - timedelta(days=3))
        result = voucher_redeem(pin=pin_of(sold), customer=_carol(alpha), actor=Actor(user=alpha.customer_user),
                                channel="portal")
        check_deferred_now()
        assert result.voucher.pk == sold.pk and result.customer.status == SubscriberStatus.ACTIVE
        assert result.recharge.source == "voucher" and result.recharge.quantity == 1
        assert result.recharge.period_end - result.recharge.period_start == timedelta(days=1)
        voucher = Voucher.objects.get(pk=sold.pk)
        assert voucher.status == VoucherStatus.REDEEMED and voucher.redeemed_by_id == alpha.customer.pk
        # 5.00 recognised; the 4.50 left after the distributor is split like a payment by carol:
        # reseller 60 % → 2.70 pool, the sub-reseller 50 % of it; commissions are the ISP's expense.
        assert balance("voucher_liability") == 0
        assert balance("sales_revenue") == -5_00
        assert balance("commission_expense") == 50 + 2_70
        assert balance(f"commission_payable:{alpha.reseller.pk}") == -1_35
        assert balance(commission) == -50 - 1_35
        entry = result.recharge.entry
        assert entry.kind == EntryKind.VOUCHER_REDEMPTION
        assert (entry.customer_id, entry.node_id, entry.package_id) == (alpha.customer.pk, alpha.sub_reseller.pk,
                                                                       alpha.package.pk)
        assert JournalEntry.objects.get(pk=sold.sale_entry_id).node_id == alpha.sub_reseller.pk
        assert ledger_check().ok


def test_wrong_used_void_and_foreign_pins_change_nothing(alpha):
    with schema_context(alpha.schema):
        sold, pin = sold_pin(alpha)
        voucher_redeem(pin=pin, customer=_carol(alpha))
        expires = _carol(alpha).expires_at
        with pytest.raises(VoucherRejected) as error:
            voucher_redeem(pin=pin, customer=_carol(alpha))
        assert "already used" in str(error.value)
        with pytest.raises(VoucherRejected):
            voucher_redeem(pin="ABCD-EFGH-JKMN-PQRS", customer=_carol(alpha))
        sibling_card, sibling_pin = sold_pin(alpha, owner=alpha.sibling)
        with pytest.raises(VoucherRejected) as error:
            voucher_redeem(pin=sibling_pin, customer=_carol(alpha))  # another reseller's card
        assert "not valid" in str(error.value)
        assert Voucher.objects.get(pk=sibling_card.pk).status == VoucherStatus.SOLD
        entries = JournalEntry.objects.count()
        voided = voucher_void(actor=SYSTEM, voucher=Voucher.objects.get(pk=sibling_card.pk))
        assert voided.status == VoucherStatus.VOID and voided.void_entry.reversal_of_id == sibling_card.sale_entry_id
        assert JournalEntry.objects.count() == entries + 1
        with pytest.raises(ValidationError):
            voucher_void(actor=SYSTEM, voucher=Voucher.objects.get(pk=sold.pk))  # redeemed is final
        assert _carol(alpha).expires_at == expires and Recharge.objects.count() == 1
        check_deferred_now()
        assert balance(f"cash_held:{alpha.sibling.pk}") == 0
        assert ledger_check().ok


def test_unsold_voucher_redeems_only_when_the_batch_allows_it(alpha):
    with schema_context(alpha.schema):
        strict = batch(alpha.root, alpha.package, count=1)
        with pytest.raises(VoucherRejected) as error:
            voucher_redeem(pin=pin_of(strict.vouchers.get()), customer=_carol(alpha))
        assert "not been sold" in str(error.value)
        loose = batch(alpha.root, alpha.package, count=1, redeem_unsold=True, face_price=4_00)
        result = voucher_redeem(pin=pin_of(loose.vouchers.get()), customer=_carol(alpha))
        voucher = Voucher.objects.get(pk=result.voucher.pk)
        assert voucher.status == VoucherStatus.REDEEMED and voucher.seller_node_id == alpha.root.pk
        check_deferred_now()
        assert balance("cash") == 4_00 and balance("voucher_liability") == 0
        assert ledger_check().ok


def test_expired_batch_neither_sells_nor_redeems_and_changes_nothing(alpha):
    """A batch printed "use by" a day: on that day its cards work; from the next day (ISP time zone) a sale,
    a redemption (sold card, unsold card of a redeem-on-use batch, hotspot device) is refused with the date,
    and no money moves."""
    from ledger.billing.documents import tenant_today
    from ledger.vouchers.models import VoucherBatch

    with schema_context(alpha.schema):
        today = tenant_today()
        with pytest.raises(ValidationError) as error:
            batch(alpha.root, alpha.package, valid_until=today - timedelta(days=1))
        assert "valid_until" in error.value.message_dict
        sold, pin = sold_pin(alpha, valid_until=today)
        loose = batch(alpha.root, alpha.package, count=2, redeem_unsold=True, valid_until=today)
        seller = distributor(alpha.sub_reseller)
        in_stock = batch(alpha.sub_reseller, alpha.package, count=1, valid_until=today)
        stock_assign(actor=SYSTEM, batch=in_stock, distributor=seller, count=1)
        # Printed for today: still good today.
        assert voucher_redeem(pin=pin_of(loose.vouchers.get(number=1)), customer=_carol(alpha)).voucher.status == (
            VoucherStatus.REDEEMED)
        # The next day (as if the batches had been printed to end yesterday).
        yesterday = today - timedelta(days=1)
        VoucherBatch.objects.filter(pk__in=[sold.batch_id, loose.pk, in_stock.pk]).update(valid_until=yesterday)
        expires, entries = _carol(alpha).expires_at, JournalEntry.objects.count()
        for attempt in (
            lambda: voucher_redeem(pin=pin, customer=_carol(alpha)),
            lambda: voucher_redeem(pin=pin_of(loose.vouchers.get(number=2)), customer=_carol(alpha)),
            lambda: voucher_redeem(pin=pin, hotspot_mac="AA:BB:CC:00:22:33", channel="hotspot"),
        ):
            with pytest.raises(VoucherRejected) as rejected:
                attempt()
            assert f"expired on {yesterday}" in str(rejected.value)
        with pytest.raises(ValidationError) as error:
            voucher_sell(voucher=Voucher.objects.select_related("batch").get(batch=in_stock), actor=seller)
        assert f"expired on {yesterday}" in str(error.value)
        assert Voucher.objects.get(pk=sold.pk).status == VoucherStatus.SOLD
        assert Voucher.objects.get(batch=loose, number=2).status == VoucherStatus.NEW
        assert Voucher.objects.get(batch=in_stock).status == VoucherStatus.NEW
        assert not Subscriber.objects.filter(mac_address="AA:BB:CC:00:22:33").exists()
        assert _carol(alpha).expires_at == expires and JournalEntry.objects.count() == entries
        # A card of another reseller's expired batch still says nothing about that batch.
        _other, other_pin = sold_pin(alpha, owner=alpha.sibling, valid_until=today)
        VoucherBatch.objects.filter(pk=_other.batch_id).update(valid_until=yesterday)
        with pytest.raises(VoucherRejected) as rejected:
            voucher_redeem(pin=other_pin, customer=_carol(alpha))
        assert "expired" not in str(rejected.value)
        check_deferred_now()
        assert ledger_check().ok


def test_hotspot_device_becomes_a_customer_of_the_batch_owner(alpha):
    with schema_context(alpha.schema):
        _sold, pin = sold_pin(alpha, owner=alpha.root, quantity=2, unit="hours")
        result = voucher_redeem(pin=pin, hotspot_mac="AA:BB:CC:00:11:22", channel="hotspot")
        device = result.customer
        assert device.connection_type == "hotspot" and device.mac_address == "AA:BB:CC:00:11:22"
        assert device.owner_id == alpha.root.pk and device.status == SubscriberStatus.ACTIVE
        assert result.recharge.period_end - result.recharge.period_start == timedelta(hours=2)
        with pytest.raises(VoucherRejected):
            voucher_redeem(pin="2345-6789-ABCD-EFGH", hotspot_mac="AA:BB:CC:00:11:33")
        assert not Subscriber.objects.filter(mac_address="AA:BB:CC:00:11:33").exists()


def test_database_refuses_backward_status_and_edits(alpha):
    with schema_context(alpha.schema):
        sold, pin = sold_pin(alpha)
        voucher_redeem(pin=pin, customer=_carol(alpha))
        statements = [
            ("UPDATE vouchers_voucher SET status = 'sold', redeemed_at = NULL, redeemed_by_id = NULL WHERE id = %s",
             "cannot become"),
            ("UPDATE vouchers_voucher SET status = 'void', voided_at = now(), redeemed_at = NULL WHERE id = %s",
             "cannot become"),
            ("UPDATE vouchers_voucher SET pin_digest = 'x' WHERE id = %s", "never change"),
            ("DELETE FROM vouchers_voucher WHERE id = %s", "never deleted"),
            ("UPDATE vouchers_recharge SET quantity = 99 WHERE voucher_id = %s", "refused"),
        ]
        for sql, message in statements:
            with pytest.raises(DatabaseError, match=message), transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [sold.pk])
        fresh = batch(alpha.root, alpha.package, count=1).vouchers.get()
        with pytest.raises(DatabaseError, match="voucher_status_fields"), transaction.atomic():
            Voucher.objects.filter(pk=fresh.pk).update(status="sold")  # a sale without its time
        entries = JournalEntry.objects.count()
        assert voucher_void(actor=SYSTEM, voucher=fresh).status == VoucherStatus.VOID and JournalEntry.objects.count() == entries
        with pytest.raises(VoucherRejected) as error:
            voucher_redeem(pin=pin_of(fresh), customer=_carol(alpha))
        assert "cancelled" in str(error.value)
        assert Voucher.objects.get(pk=sold.pk).status == VoucherStatus.REDEEMED


def test_redemption_turns_radius_back_on(alpha):
    def radius(table: str) -> dict[str, str]:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT attribute, value FROM {table} WHERE username = 'carol'")
            return dict(cursor.fetchall())

    with schema_context(alpha.schema):
        Subscriber.objects.filter(pk=alpha.customer.pk).update(status=SubscriberStatus.EXPIRED,
                                                               expires_at=timezone.now() - timedelta(hours=1))
        assert radius("radcheck")["Auth-Type"] == "Reject"
        _voucher, pin = sold_pin(alpha, quantity=6, unit="hours")
        voucher_redeem(pin=pin, customer=_carol(alpha))
        assert radius("radcheck") == {"Cleartext-Password": "pppoe-secret"}
        timeout = int(radius("radreply")["Session-Timeout"])
        assert 6 * 3600 - 120 <= timeout <= 6 * 3600  # until the new expiry (now cut to the minute)
