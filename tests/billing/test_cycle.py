"""A customer through three months of invoices, with tax, a partial payment and an advance payment."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from ledger.billing.models import Invoice, InvoiceStatus, PaymentAllocation
from ledger.billing.services import invoice_issue_for_period, monthly_run
from ledger.checks import ledger_check
from ledger.services import payment_record
from tests.billing.factories import monthly_customer, settings
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db


def test_three_months_partial_and_advance_payment(alpha):
    with schema_context(alpha.schema):
        alpha.tenant.tax_rate = Decimal("10.00")
        alpha.tenant.save()
        settings(invoice_due_days=10)
        customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=5)
        with time_machine.travel(datetime.datetime(2026, 3, 5, 8, tzinfo=datetime.UTC), tick=False):
            result = monthly_run()
            assert result.issued >= 1
            march = Invoice.objects.get(customer=customer)
            # 120.00 (sub-reseller's price) + 10 % tax
            assert (march.subtotal, march.tax, march.total) == (12_000, 1_200, 13_200)
            assert march.period_start == datetime.date(2026, 3, 5)
            assert march.period_end == datetime.date(2026, 4, 4)
            assert march.due_date == datetime.date(2026, 3, 15)
            assert march.status == InvoiceStatus.OPEN and march.number
            assert balance(f"receivable:c{customer.pk}") == 13_200
            # idempotent
            assert invoice_issue_for_period(customer=customer) is None
            payment_record(actor=SYSTEM, customer=customer, amount=5_000, method="cash", idempotency_key="cyc-1")
            march.refresh_from_db()
            assert march.status == InvoiceStatus.PARTIALLY_PAID and march.amount_paid == 5_000
            payment_record(actor=SYSTEM, customer=customer, amount=8_200 + 20_000, method="bank",
                           idempotency_key="cyc-2")
            march.refresh_from_db()
            assert march.status == InvoiceStatus.PAID
            customer.refresh_from_db()
            assert customer.expires_at == datetime.datetime(2026, 4, 5, tzinfo=datetime.UTC)
        with time_machine.travel(datetime.datetime(2026, 4, 5, 8, tzinfo=datetime.UTC), tick=False):
            april = invoice_issue_for_period(customer=customer)
            assert april is not None and april.status == InvoiceStatus.PAID  # paid from the advance
            assert april.sequence == march.sequence + 1 or april.sequence > march.sequence
        with time_machine.travel(datetime.datetime(2026, 5, 5, 8, tzinfo=datetime.UTC), tick=False):
            may = invoice_issue_for_period(customer=customer)
            assert may is not None
            assert may.amount_paid == 20_000 - 13_200 and may.status == InvoiceStatus.PARTIALLY_PAID
        assert PaymentAllocation.objects.filter(invoice__customer=customer).count() == 4
        customer.refresh_from_db()
        assert customer.expires_at == datetime.datetime(2026, 5, 5, tzinfo=datetime.UTC)
        check_deferred_now()
        # Receivable = invoiced - paid (payments settle it): what May still asks.
        assert balance(f"receivable:c{customer.pk}") == 3 * 13_200 - 33_200 == may.total - may.amount_paid
        assert balance("sales_revenue") <= -3 * 12_000 and balance("tax_payable") <= -3 * 1_200
        assert ledger_check().ok
