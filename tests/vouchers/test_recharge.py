"""Daily/hourly prepaid recharge through the service layer, with the clock under test control."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM, Actor
from hierarchy.models import Package, PackageAssignment, Subscriber, SubscriberStatus
from ledger.checks import ledger_check
from ledger.models import EntryKind, JournalEntry
from ledger.services import IdempotencyConflict
from ledger.vouchers.models import Recharge
from ledger.vouchers.recharge import pro_rata, recharge_legs, recharge_purchase
from ledger.wallets import InsufficientFunds, wallet_balance
from tests.ledger.factories import balance, check_deferred_now, credit_grant
from tests.vouchers.factories import fund

pytestmark = pytest.mark.django_db


def _carol(isp) -> Subscriber:
    return Subscriber.objects.select_related("owner", "package").get(pk=isp.customer.pk)


def test_daily_recharge_twice_then_hours_after_expiry_exact_to_the_minute(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        sub_wallet = wallet_balance(node=alpha.sub_reseller)
        Subscriber.objects.filter(pk=alpha.customer.pk).update(status=SubscriberStatus.EXPIRED, expires_at=None)
        actor = Actor(user=alpha.sub_reseller_user)
        with time_machine.travel(datetime(2026, 1, 10, 10, 15, 42, tzinfo=UTC), tick=False):
            first, created = recharge_purchase(customer=_carol(alpha), package=alpha.package, quantity=1,
                                               unit="days", actor=actor)
            assert created
            second, _ = recharge_purchase(customer=_carol(alpha), package=alpha.package, quantity=1, unit="days",
                                          actor=actor)
        carol = _carol(alpha)
        assert first.period_start == datetime(2026, 1, 10, 10, 15, tzinfo=UTC)
        assert first.period_end == second.period_start == datetime(2026, 1, 11, 10, 15, tzinfo=UTC)
        assert carol.expires_at == datetime(2026, 1, 12, 10, 15, tzinfo=UTC)
        assert carol.status == SubscriberStatus.ACTIVE
        # 1 day of a 30-day package: the sub-reseller pays 110.00 x 24/720 = 3.6667 → 3.67 (half up);
        # the reseller earns (110 - 100) x 24/720 = 0.333 → 0.33 (down); the ISP the rest, 3.34.
        assert (first.cost, first.price) == (367, 400)
        assert wallet_balance(node=alpha.sub_reseller) == sub_wallet - 2 * 367
        check_deferred_now()
        assert balance(f"commission_payable:{alpha.reseller.pk}") == -2 * 33
        assert balance("sales_revenue") == -2 * 334
        # Expired again two days later: 3 hours count from now (cut to the minute), not from the old expiry.
        Subscriber.objects.filter(pk=carol.pk).update(status=SubscriberStatus.EXPIRED)
        with time_machine.travel(datetime(2026, 1, 14, 8, 0, 30, tzinfo=UTC), tick=False):
            hours, _ = recharge_purchase(customer=_carol(alpha), package=alpha.package, quantity=3, unit="hours",
                                         actor=actor)
        assert hours.period_start == datetime(2026, 1, 14, 8, 0, tzinfo=UTC)
        assert _carol(alpha).expires_at == datetime(2026, 1, 14, 11, 0, tzinfo=UTC)
        assert _carol(alpha).status == SubscriberStatus.ACTIVE
        assert hours.cost == 46  # 110.00 x 3/720 = 0.458 → 0.46
        entries = JournalEntry.objects.filter(kind=EntryKind.RECHARGE)
        assert entries.count() == 3
        assert {(e.customer_id, e.node_id, e.package_id) for e in entries} == {
            (alpha.customer.pk, alpha.sub_reseller.pk, alpha.package.pk)}
        assert ledger_check().ok


def test_full_period_recharge_costs_exactly_an_activation(alpha):
    with schema_context(alpha.schema):
        quote = recharge_legs(customer=_carol(alpha), package=alpha.package, hours=30 * 24)
        assert quote.cost == 11_000 and quote.price == 12_000
        assert sum(leg.amount for leg in quote.legs) == 0


@pytest.mark.parametrize("hours", [1, 5, 7, 13, 23, 24, 49, 100, 719])
def test_pro_rata_legs_always_balance_and_nodes_round_down(alpha, hours):
    with schema_context(alpha.schema):
        quote = recharge_legs(customer=_carol(alpha), package=alpha.package, hours=hours)
        assert sum(leg.amount for leg in quote.legs) == 0
        assert quote.cost == pro_rata(11_000, hours=hours, period_hours=720, round_up_half=True)
        assert all(leg.amount <= 0 for leg in quote.legs[1:])


def test_too_little_in_the_wallet_changes_nothing(alpha):
    with schema_context(alpha.schema):
        fund(alpha, sub=3_00)  # 3.00: less than one day (3.67)
        before = (_carol(alpha).expires_at, _carol(alpha).status, JournalEntry.objects.count())
        with pytest.raises(InsufficientFunds) as error:
            recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=1, unit="days")
        assert "3.00" in str(error.value) and "nothing was changed" in str(error.value)
        assert (_carol(alpha).expires_at, _carol(alpha).status, JournalEntry.objects.count()) == before
        assert not Recharge.objects.exists()
        assert wallet_balance(node=alpha.sub_reseller) == 3_00


def test_idempotency_key_posts_once(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        first, created = recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=2, unit="days",
                                           idempotency_key="rk-1")
        again, created_again = recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=2,
                                                 unit="days", idempotency_key="rk-1")
        assert created and not created_again and again.pk == first.pk
        with pytest.raises(IdempotencyConflict):
            recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=3, unit="days",
                              idempotency_key="rk-1")
        assert Recharge.objects.count() == 1


def test_bad_quantities_and_unoffered_packages_are_refused(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        for quantity, unit in ((0, "days"), (-1, "hours"), (367, "days"), (1, "weeks")):
            with pytest.raises(ValidationError):
                recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=quantity, unit=unit)
        other = Package.objects.create(name="Not offered", type="pppoe", download_kbps=1, upload_kbps=1, price=5)
        with pytest.raises(ValidationError):
            recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=other, quantity=1, unit="days")
        assert not Recharge.objects.exists() and _carol(alpha).package_id == alpha.package.pk


def test_recharge_with_another_package_rerates_the_customer(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        fast = Package.objects.create(name="Fast 50M", type="pppoe", download_kbps=50_000, upload_kbps=10_000,
                                      price=60, validity_days=1)
        PackageAssignment.objects.create(package=fast, operator=alpha.reseller, price=70)
        PackageAssignment.objects.create(package=fast, operator=alpha.sub_reseller, price=80)
        recharge, _ = recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=fast, quantity=2, unit="days")
        assert _carol(alpha).package_id == fast.pk
        assert recharge.cost == 2 * 7_000  # the sub-reseller's cost of the 1-day package, twice
        from hierarchy.models import AuditEvent

        assert AuditEvent.objects.filter(object_type="customer", object_id=alpha.customer.pk,
                                         changes__has_key="package").exists()
        assert ledger_check().ok


def test_disabled_customer_is_not_recharged(alpha):
    with schema_context(alpha.schema):
        fund(alpha)
        Subscriber.objects.filter(pk=alpha.customer.pk).update(status=SubscriberStatus.DISABLED)
        with pytest.raises(ValidationError):
            recharge_purchase(actor=SYSTEM, customer=_carol(alpha), package=alpha.package, quantity=1, unit="days")
        assert not JournalEntry.objects.filter(kind=EntryKind.RECHARGE).exists()


def test_isp_customer_recharge_is_charged_to_its_receivable_and_a_payment_settles_it(alpha):
    from ledger.services import payment_record

    with schema_context(alpha.schema):
        own = Subscriber.objects.create(username="isp-own", password="pw", package=alpha.package, owner=alpha.root)
        own = Subscriber.objects.select_related("owner", "package").get(pk=own.pk)
        recharge, _ = recharge_purchase(customer=own, package=alpha.package, quantity=3, unit="days",
                                        actor=Actor(user=alpha.admin))
        assert (recharge.price, recharge.cost) == (10_00, 0)  # 100.00 x 3/30, no wallet involved
        check_deferred_now()
        assert balance(f"receivable:c{own.pk}") == 10_00 and balance("sales_revenue") == -10_00
        payment_record(actor=SYSTEM, customer=own, amount=10_00, method="cash", idempotency_key="isp-own-pay")
        check_deferred_now()
        assert balance(f"receivable:c{own.pk}") == 0 and balance("cash") == 10_00
        assert ledger_check().ok


def test_postpaid_owner_owes_the_recharge_instead_of_paying_from_a_wallet(alpha):
    with schema_context(alpha.schema):
        credit_grant(alpha.sibling, "10.00")  # the sibling reseller is postpaid, with some credit
        customer = Subscriber.objects.create(username="sib-cust", password="pw", package=alpha.package,
                                             owner=alpha.sibling)
        customer = Subscriber.objects.select_related("owner", "package").get(pk=customer.pk)
        recharge, _ = recharge_purchase(actor=SYSTEM, customer=customer, package=alpha.package, quantity=12, unit="hours")
        assert recharge.cost == 167  # 100.00 x 12/720 = 1.667 → 1.67
        check_deferred_now()
        assert balance(f"node_receivable:{alpha.sibling.pk}") == 167 and balance("sales_revenue") == -167
        assert balance(f"receivable:c{customer.pk}") == 0
        assert ledger_check().ok
