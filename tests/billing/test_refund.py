"""A refund or chargeback of a payment releases its allocations: its invoices are open again (issue #5)."""

from __future__ import annotations

import datetime
import json

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import SubscriberStatus
from ledger.billing.models import BillingProfile, Invoice, InvoiceStatus, PaymentAllocation
from ledger.billing.payments import available_credits, customer_credit, invoice_pay
from ledger.billing.services import invoice_issue_for_period
from ledger.checks import ledger_check
from ledger.models import Payment
from ledger.services import AlreadyReversed, payment_record, payment_refund
from ledger.stripe_gateway import stripe_account_connect
from tests.billing.factories import monthly_customer, settings
from tests.ledger.factories import balance, check_deferred_now
from tests.ledger.test_stripe import SECRET, _event, _post, _signed

pytestmark = pytest.mark.django_db
MARCH = datetime.datetime(2026, 3, 5, 8, tzinfo=datetime.UTC)
APRIL = datetime.datetime(2026, 4, 5, 8, tzinfo=datetime.UTC)


def _invoice(customer, when: datetime.datetime) -> Invoice:
    with time_machine.travel(when, tick=False):
        invoice = invoice_issue_for_period(customer=customer)
    assert invoice is not None and invoice.status == InvoiceStatus.OPEN
    return invoice


def _state(*invoices: Invoice) -> list[tuple[str, int]]:
    for invoice in invoices:
        invoice.refresh_from_db()
    return [(invoice.status, invoice.amount_paid) for invoice in invoices]


def test_refund_reopens_the_invoice_and_matches_the_receivable(alpha):
    with schema_context(alpha.schema):
        settings(invoice_due_days=10)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        with time_machine.travel(MARCH, tick=False):
            # March in full and 2,500 in advance.
            payment, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total + 2_500, method="cash",
                                     idempotency_key="rf-full")
            assert _state(march) == [(InvoiceStatus.PAID, march.total)]
            assert available_credits(customer_id=customer.pk) == [("payment", payment.pk, 2_500)]
            assert customer_credit(customer_id=customer.pk) == 2_500
            customer.refresh_from_db()
            paid_until = customer.expires_at
            assert paid_until == datetime.datetime(2026, 4, 5, tzinfo=datetime.UTC)
            assert balance(f"receivable:c{customer.pk}") == -2_500

            refund = payment_refund(actor=SYSTEM, payment=payment, reason="customer asked")
        assert refund.reversal_of_id == payment.entry_id
        assert _state(march) == [(InvoiceStatus.OPEN, 0)]
        assert march.outstanding == march.total
        assert balance(f"receivable:c{customer.pk}") == march.total
        (original, release) = PaymentAllocation.objects.filter(payment=payment).order_by("id")
        assert (release.releases_id, release.amount, release.invoice_id) == (original.pk, -original.amount, march.pk)
        # The advance remainder of the refunded payment is no credit any more.
        assert available_credits(customer_id=customer.pk) == [] and customer_credit(customer_id=customer.pk) == 0
        # Validity a refunded payment extended is not shortened; the invoice is simply due again.
        customer.refresh_from_db()
        assert customer.expires_at == paid_until and customer.status == SubscriberStatus.ACTIVE
        check_deferred_now()
        assert ledger_check().ok


def test_refund_of_a_payment_spread_over_two_invoices(alpha):
    with schema_context(alpha.schema):
        settings(invoice_due_days=10)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        april = _invoice(customer, APRIL)
        with time_machine.travel(APRIL, tick=False):
            first, _ = payment_record(actor=SYSTEM, customer=customer, amount=5_000, method="cash",
                                      idempotency_key="rf-a")
            # The rest of March and 3,000 of April.
            second, _ = payment_record(actor=SYSTEM, customer=customer, amount=march.total - 5_000 + 3_000,
                                       method="bank", idempotency_key="rf-b")
        assert _state(march, april) == [(InvoiceStatus.PAID, march.total),
                                        (InvoiceStatus.PARTIALLY_PAID, 3_000)]

        with time_machine.travel(APRIL, tick=False):
            payment_refund(actor=SYSTEM, payment=second, chargeback=True)
        # Only the refunded payment's allocations are released; the first payment stays on March.
        assert _state(march, april) == [(InvoiceStatus.PARTIALLY_PAID, 5_000), (InvoiceStatus.OPEN, 0)]
        assert PaymentAllocation.objects.filter(payment=second, releases__isnull=False).count() == 2
        assert PaymentAllocation.objects.filter(payment=first, releases__isnull=False).count() == 0
        receivable = balance(f"receivable:c{customer.pk}")
        assert receivable == march.total + april.total - 5_000 == march.outstanding + april.outstanding
        check_deferred_now()
        assert ledger_check().ok


def test_second_refund_is_refused_and_changes_nothing(alpha):
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        with time_machine.travel(MARCH, tick=False):
            payment, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total, method="cash",
                                     idempotency_key="rf-twice")
            payment_refund(actor=SYSTEM, payment=payment)
        rows = list(PaymentAllocation.objects.filter(payment=payment).values_list("id", "amount", "releases_id"))
        receivable = balance(f"receivable:c{customer.pk}")
        with pytest.raises(AlreadyReversed):
            payment_refund(actor=SYSTEM, payment=payment)
        assert list(PaymentAllocation.objects.filter(payment=payment)
                    .values_list("id", "amount", "releases_id")) == rows
        assert _state(march) == [(InvoiceStatus.OPEN, 0)]
        assert balance(f"receivable:c{customer.pk}") == receivable == march.total
        check_deferred_now()
        assert ledger_check().ok


def _refused(sql: str, params: list[int]) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value)


def test_database_guards_allocations_and_releases(alpha):
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        april = _invoice(customer, APRIL)
        with time_machine.travel(APRIL, tick=False):
            kept, _ = payment_record(actor=SYSTEM, customer=customer, amount=4_000, method="cash",
                                     idempotency_key="rf-kept")
            refunded, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total - 4_000 + 1_000, method="cash",
                                      idempotency_key="rf-gone")
        kept_row = PaymentAllocation.objects.get(payment=kept)
        # Not refunded: its allocation cannot be released.
        assert "refunded payment" in _refused(
            "INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, releases_id, created)"
            " VALUES (%s, %s, %s, %s, now())", [march.pk, kept.pk, -kept_row.amount, kept_row.pk])
        # A negative amount without a released allocation breaks the CHECK.
        assert "allocation_positive_or_release" in _refused(
            "INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, created)"
            " VALUES (%s, %s, -100, now())", [april.pk, refunded.pk])
        payment_refund(actor=SYSTEM, payment=refunded)
        released = PaymentAllocation.objects.filter(payment=refunded, releases__isnull=True).order_by("id")
        assert released.count() == 2  # the rest of March, then 1,000 of April
        row = released.first()
        assert row is not None
        # Allocation and release rows are append-only.
        for sql in ("UPDATE billing_paymentallocation SET amount = amount + 1 WHERE id = %s",
                    "DELETE FROM billing_paymentallocation WHERE id = %s"):
            assert "refused" in _refused(sql, [row.pk])
            assert "refused" in _refused(sql, [row.release.pk])
        # Released once (UNIQUE releases_id; the trigger says so first).
        assert "already released" in _refused(
            "INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, releases_id, created)"
            " VALUES (%s, %s, %s, %s, now())", [row.invoice_id, refunded.pk, -row.amount, row.pk])
        # A refunded payment cannot be allocated again.
        assert "was refunded" in _refused(
            "INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, created)"
            " VALUES (%s, %s, 100, now())", [april.pk, refunded.pk])
        assert _state(march, april) == [(InvoiceStatus.PARTIALLY_PAID, 4_000), (InvoiceStatus.OPEN, 0)]
        check_deferred_now()
        assert ledger_check().ok


def test_release_must_mirror_the_allocation(alpha):
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        april = _invoice(customer, APRIL)
        with time_machine.travel(APRIL, tick=False):
            payment, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total, method="cash",
                                     idempotency_key="rf-mirror")
            payment_refund(actor=SYSTEM, payment=payment)
        row = PaymentAllocation.objects.get(payment=payment, releases__isnull=True)
        insert = ("INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, releases_id, created)"
                  " VALUES (%s, %s, %s, %s, now())")
        # Another invoice, another amount, or a release of a release: refused by the trigger.
        for invoice_id, amount, released_id in ((april.pk, -row.amount, row.pk), (march.pk, -row.amount + 1, row.pk),
                                                (march.pk, row.amount, row.release.pk)):
            message = _refused(insert, [invoice_id, payment.pk, -abs(amount), released_id])
            assert "mirrors" in message, message
        assert _state(march, april) == [(InvoiceStatus.OPEN, 0), (InvoiceStatus.OPEN, 0)]


def test_later_payment_reallocates_to_the_reopened_invoice(alpha):
    with schema_context(alpha.schema):
        settings(invoice_due_days=10)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        with time_machine.travel(MARCH, tick=False):
            payment, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total, method="cash",
                                     idempotency_key="rf-1")
            payment_refund(actor=SYSTEM, payment=payment)
            assert _state(march) == [(InvoiceStatus.OPEN, 0)]
            again, _ = payment_record(actor=SYSTEM, customer=customer, amount=march.total, method="bank",
                                      idempotency_key="rf-2")
        assert _state(march) == [(InvoiceStatus.PAID, march.total)]
        assert PaymentAllocation.objects.get(payment=again).amount == march.total
        customer.refresh_from_db()
        assert customer.expires_at == datetime.datetime(2026, 4, 5, tzinfo=datetime.UTC)  # not extended twice
        assert balance(f"receivable:c{customer.pk}") == 0
        check_deferred_now()
        assert ledger_check().ok


def test_refund_of_an_overdue_invoice_suspends_for_nonpayment(alpha):
    with schema_context(alpha.schema):
        settings(invoice_due_days=10, grace_days=3, suspend_overdue=True)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
        with time_machine.travel(MARCH, tick=False):
            payment, _ = invoice_pay(actor=SYSTEM, invoice=march, amount=march.total, method="cash",
                                     idempotency_key="rf-late")
        customer.refresh_from_db()
        assert customer.status == SubscriberStatus.ACTIVE
        # A chargeback weeks later: March is past due + grace again.
        with time_machine.travel(datetime.datetime(2026, 3, 25, 8, tzinfo=datetime.UTC), tick=False):
            payment_refund(actor=SYSTEM, payment=payment, chargeback=True)
        customer.refresh_from_db()
        assert customer.status == SubscriberStatus.SUSPENDED
        assert BillingProfile.objects.get(customer=customer).suspended_for_nonpayment
        # Paying again reactivates (the usual rule).
        with time_machine.travel(datetime.datetime(2026, 3, 26, 8, tzinfo=datetime.UTC), tick=False):
            payment_record(actor=SYSTEM, customer=customer, amount=march.total, method="bank",
                           idempotency_key="rf-late-2")
        customer.refresh_from_db()
        assert customer.status == SubscriberStatus.ACTIVE and _state(march) == [(InvoiceStatus.PAID, march.total)]


def test_stripe_refund_event_reopens_the_invoice(alpha):
    with schema_context(alpha.schema):
        stripe_account_connect(publishable_key="pk_test_alpha", secret_key="sk_test_alpha_secret",
                               webhook_secret=SECRET)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        march = _invoice(customer, MARCH)
    paid = _event("evt_inv_paid", "pi_inv", {"kind": "payment", "customer": str(customer.pk)}, amount=march.total)
    assert _post(alpha, paid, _signed(paid)).json()["status"] == "processed"
    with schema_context(alpha.schema):
        assert _state(march) == [(InvoiceStatus.PAID, march.total)]
    refund = json.dumps({"id": "evt_inv_refund", "object": "event", "type": "charge.refunded",
                         "data": {"object": {"id": "ch_inv", "payment_intent": "pi_inv"}}}).encode()
    assert _post(alpha, refund, _signed(refund)).json()["status"] == "processed"
    with schema_context(alpha.schema):
        assert _state(march) == [(InvoiceStatus.OPEN, 0)]
        assert Payment.objects.get(idempotency_key="stripe:pi_inv").entry.reversed_by.kind == "refund"
        assert balance(f"receivable:c{customer.pk}") == march.total
