"""Invoices are immutable once issued (PostgreSQL refuses it), voids post a reversing entry and keep the
number, credit notes correct an invoice, allocations never exceed a total; late fees post once."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import SubscriberStatus
from ledger.billing.models import (
    BillingProfile,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LateFee,
    PaymentAllocation,
)
from ledger.billing.services import invoice_credit, invoice_issue_for_period, invoice_void, late_fees_apply
from ledger.checks import ledger_check
from ledger.models import JournalEntry
from ledger.services import payment_record
from tests.billing.factories import monthly_customer, settings
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db
JUNE = datetime.datetime(2026, 6, 1, 9, tzinfo=datetime.UTC)


def _issued(alpha, **profile) -> Invoice:
    alpha.tenant.tax_rate = Decimal("10.00")
    alpha.tenant.save()
    customer = monthly_customer(alpha.sub_reseller, alpha.package, **profile)
    with time_machine.travel(JUNE, tick=False):
        invoice = invoice_issue_for_period(customer=customer)
    assert invoice is not None and invoice.total == 13_200
    return invoice


def _refused(sql: str, params: list) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value)


def test_issued_invoice_is_immutable_in_postgres(alpha):
    with schema_context(alpha.schema):
        invoice = _issued(alpha)
        assert "immutable" in _refused("UPDATE billing_invoice SET total = 1, subtotal = 1, tax = 0 WHERE id = %s",
                                       [invoice.pk])
        assert "immutable" in _refused("UPDATE billing_invoice SET number = 'X-1' WHERE id = %s", [invoice.pk])
        assert "cannot go from open to paid" in _refused("UPDATE billing_invoice SET status = 'paid' WHERE id = %s",
                                                         [invoice.pk])
        assert "follow the allocations" in _refused(
            "UPDATE billing_invoice SET amount_paid = 100 WHERE id = %s", [invoice.pk])
        assert "never deleted" in _refused("DELETE FROM billing_invoice WHERE id = %s", [invoice.pk])
        assert "immutable" in _refused("UPDATE billing_invoiceline SET amount = 1, total = 1 WHERE invoice_id = %s",
                                       [invoice.pk])
        with pytest.raises(DatabaseError), transaction.atomic():
            InvoiceLine.objects.create(invoice=invoice, description="extra", unit_price=1, amount=1, total=1)
        # A line written ahead of its invoice (the set-based run) must see that invoice by COMMIT.
        with pytest.raises(DatabaseError), transaction.atomic():
            InvoiceLine.objects.create(invoice_id=invoice.pk + 10_000, description="orphan", unit_price=1, amount=1,
                                       total=1)
            check_deferred_now()
        # Allocations: never above the invoice's total, never more than the payment.
        payment, _ = payment_record(actor=SYSTEM, customer=invoice.customer, amount=20_000, method="bank",
                                    idempotency_key="doc-alloc")
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID and invoice.amount_paid == 13_200
        with pytest.raises(DatabaseError), transaction.atomic():
            PaymentAllocation.objects.create(invoice=invoice, payment=payment, amount=1)
        invoice.refresh_from_db()
        assert invoice.amount_paid == 13_200
        assert "exceed" in _refused(
            "INSERT INTO billing_paymentallocation (invoice_id, payment_id, amount, created) VALUES (%s, %s, %s, now())",
            [invoice.pk, payment.pk, 20_000])


def test_void_posts_the_reversal_and_keeps_the_number(alpha):
    with schema_context(alpha.schema):
        invoice = _issued(alpha)
        receivable = f"receivable:c{invoice.customer_id}"
        check_deferred_now()
        assert balance(receivable) == 13_200
        voided = invoice_void(actor=SYSTEM, invoice=invoice, reason="issued by mistake")
        assert voided.status == InvoiceStatus.VOID and voided.number == invoice.number
        reversal = JournalEntry.objects.get(pk=voided.void_entry_id)
        assert reversal.reversal_of_id == invoice.entry_id
        check_deferred_now()
        assert balance(receivable) == 0
        with pytest.raises(ValidationError):
            invoice_void(actor=SYSTEM, invoice=voided, reason="again")
        with pytest.raises(ValidationError):
            invoice_credit(actor=SYSTEM, invoice=voided, amount=100, reason="nope")
        # The period can be invoiced again, under the next number.
        with time_machine.travel(JUNE, tick=False):
            again = invoice_issue_for_period(customer=invoice.customer)
        assert again.sequence == invoice.sequence + 1
        assert ledger_check().ok


def test_paid_invoice_is_not_voided_and_credit_notes_correct_it(alpha):
    with schema_context(alpha.schema):
        invoice = _issued(alpha)
        note = invoice_credit(actor=SYSTEM, invoice=invoice, amount=3_300, reason="three days down")
        assert (note.net, note.tax, note.total) == (3_000, 300, 3_300) and note.number.startswith("CN-")
        invoice.refresh_from_db()
        assert invoice.amount_credited == 3_300 and invoice.status == InvoiceStatus.PARTIALLY_PAID
        with pytest.raises(ValidationError):
            invoice_void(actor=SYSTEM, invoice=invoice, reason="late")  # something was credited: correct with a credit note instead
        with pytest.raises(ValidationError):
            invoice_credit(actor=SYSTEM, invoice=invoice, amount=9_901, reason="more than was invoiced")
        assert "exceed" in _refused(
            "INSERT INTO billing_creditnote (number, sequence, customer_id, invoice_id, net, tax, total, income, reason,"
            " entry_id, created) VALUES ('CN-X', 999999, %s, %s, 9901, 0, 9901, 'sales_revenue', 'x', %s, now())",
            [invoice.customer_id, invoice.pk, invoice.entry_id])
        payment_record(actor=SYSTEM, customer=invoice.customer, amount=9_900, method="cash",
                       idempotency_key="doc-cn-pay")
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID
        check_deferred_now()
        assert balance("tax_payable") <= -900 and ledger_check().ok


def test_late_fee_once_suspends_and_payment_reactivates(alpha):
    with schema_context(alpha.schema):
        settings(grace_days=5, late_fee_percent=Decimal("2.50"), late_fee_fixed=100, invoice_due_days=10,
                 suspend_overdue=True)
        invoice = _issued(alpha)
        customer = invoice.customer
        assert invoice.due_date == datetime.date(2026, 6, 11)
        assert late_fees_apply(on=datetime.date(2026, 6, 16)) == 0  # still in the grace period
        with time_machine.travel(datetime.datetime(2026, 6, 17, 9, tzinfo=datetime.UTC), tick=False):
            assert late_fees_apply() == 1
            assert late_fees_apply() == 0  # the daily task running twice posts nothing more
            fee = LateFee.objects.get(invoice=invoice)
            assert fee.amount == 100 + 330 and fee.fee_invoice.total == 430 and fee.fee_invoice.tax == 0
            customer.refresh_from_db()
            assert customer.status == SubscriberStatus.SUSPENDED
            assert BillingProfile.objects.get(customer=customer).suspended_for_nonpayment
            check_deferred_now()
            assert balance("late_fee_income") <= -430
            payment_record(actor=SYSTEM, customer=customer, amount=13_630, method="bank", idempotency_key="late-pay")
            customer.refresh_from_db()
            assert customer.status == SubscriberStatus.ACTIVE
            assert not BillingProfile.objects.get(customer=customer).suspended_for_nonpayment
            assert customer.expires_at == datetime.datetime(2026, 7, 1, tzinfo=datetime.UTC)
            assert set(Invoice.objects.filter(customer=customer).values_list("status", flat=True)) == {"paid"}
        assert LateFee.objects.filter(invoice__customer=customer).count() == 1
        check_deferred_now()
        assert ledger_check().ok
        assert CreditNote.objects.filter(customer=customer).count() == 0
