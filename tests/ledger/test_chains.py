"""Cached commission chains: the database refuses a split computed from prices or shares that changed since
the chain was cached, and the service redoes it (ledger/chains.py, ledger_payment_post)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import Operator, PackageAssignment
from ledger.services import payment_record
from tests.ledger.factories import balance

pytestmark = pytest.mark.django_db


def _commissions(alpha) -> tuple[int, int, int]:
    return (balance("commission_expense"), balance(f"commission_payable:{alpha.reseller.pk}"),
            balance(f"commission_payable:{alpha.sub_reseller.pk}"))


def test_a_changed_share_is_used_by_the_next_payment(alpha):
    with schema_context(alpha.schema):
        customer = alpha.customer
        payment_record(actor=SYSTEM, customer=customer, amount=10_000, method="bank", idempotency_key="chain-1")
        before = _commissions(alpha)
        # Another process (here: a raw UPDATE the cache cannot know about) changes the reseller's share.
        Operator.objects.filter(pk=alpha.reseller.pk).update(share_percent=Decimal("80"))
        payment_record(actor=SYSTEM, customer=customer, amount=10_000, method="bank", idempotency_key="chain-2")
        after = _commissions(alpha)
        # 80 % → reseller pool 80, its sub-reseller 50 % of that: 40 / 40, an expense of 80 for the ISP.
        assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (8_000, -4_000, -4_000)


def test_a_changed_price_in_price_difference_mode_is_used(alpha):
    with schema_context(alpha.schema):
        customer = alpha.customer
        package = customer.package
        PackageAssignment.objects.filter(package=package).update(commission_mode="price_difference")
        start = _commissions(alpha)[2]
        payment_record(actor=SYSTEM, customer=customer, amount=10_000, method="bank", idempotency_key="chain-pd-1")
        middle = _commissions(alpha)[2]
        # The sub-reseller now sells for twice its price: its margin, so its part of a payment, grows.
        sub = PackageAssignment.objects.get(package=package, operator=alpha.sub_reseller)
        PackageAssignment.objects.filter(pk=sub.pk).update(price=sub.price * 2)
        payment_record(actor=SYSTEM, customer=customer, amount=10_000, method="bank", idempotency_key="chain-pd-2")
        end = _commissions(alpha)[2]
        cost = PackageAssignment.objects.get(package=package, operator=alpha.reseller).price
        assert start - middle == 10_000 * (sub.price - cost) // sub.price
        assert middle - end == 10_000 * (sub.price * 2 - cost) // (sub.price * 2)


def test_the_fingerprint_covers_what_the_split_reads(alpha):
    with schema_context(alpha.schema):
        customer = alpha.customer

        def fingerprint() -> str:
            with connection.cursor() as cursor:
                cursor.execute("SELECT ledger_chain_fingerprint(%s, %s)", [customer.owner_id, customer.package_id])
                return str(cursor.fetchone()[0])

        seen = {fingerprint()}
        Operator.objects.filter(pk=alpha.sub_reseller.pk).update(share_percent=Decimal("10"))
        seen.add(fingerprint())
        PackageAssignment.objects.filter(package_id=customer.package_id, operator=alpha.reseller).update(
            commission_mode="price_difference")
        seen.add(fingerprint())
        PackageAssignment.objects.filter(package_id=customer.package_id, operator=alpha.reseller).update(
            price=Decimal("999"))
        seen.add(fingerprint())
        type(customer.package).objects.filter(pk=customer.package_id).update(price=Decimal("1"))
        seen.add(fingerprint())
        assert len(seen) == 5


def test_a_payment_entry_carries_its_dimensions(alpha):
    with schema_context(alpha.schema):
        from ledger.models import JournalEntry

        payment, _ = payment_record(actor=SYSTEM, customer=alpha.customer, amount=1_000, method="bank",
                                    idempotency_key="chain-dims")
        entry = JournalEntry.objects.get(pk=payment.entry_id)
        assert (entry.customer_id, entry.node_id, entry.package_id) == (
            alpha.customer.pk, alpha.customer.owner_id, alpha.customer.package_id)


def test_errors_of_the_raw_statement_path_are_djangos(alpha):
    """money_atomic retries Django's OperationalError (deadlock, serialization) and callers catch Django's
    IntegrityError: the psycopg cursor used for the payment call must raise those, not psycopg's."""
    from django.db import DataError, IntegrityError, transaction

    from ledger.journal import statement_fetchone

    with schema_context(alpha.schema):
        with pytest.raises(DataError), transaction.atomic():
            statement_fetchone("SELECT 1 / %s", [0])
        with pytest.raises(IntegrityError), transaction.atomic():
            statement_fetchone("INSERT INTO ledger_journalentry (kind, created, reason, external_reference) "
                               "VALUES ('manual', now(), '', '') RETURNING id", [])
