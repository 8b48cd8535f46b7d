"""Switching monthly ↔ daily handles open invoices explicitly: void (reversing entry; a partly paid one is
credited for what is still due) or keep; without a choice it is refused and nothing changes."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from ledger.billing.changes import billing_model_switch
from ledger.billing.models import BillingProfile, CreditNote, Invoice, InvoiceStatus
from ledger.billing.services import invoice_issue_for_period, monthly_run
from ledger.checks import ledger_check
from ledger.models import JournalEntry
from ledger.services import payment_record
from tests.billing.factories import monthly_customer
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db


def _two_open_invoices(alpha):
    customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=3)
    invoices = []
    for month in (5, 6):
        with time_machine.travel(datetime.datetime(2026, month, 3, 9, tzinfo=datetime.UTC), tick=False):
            invoices.append(invoice_issue_for_period(customer=customer))
    return customer, invoices


def test_switch_to_daily_voiding_open_invoices(alpha):
    with schema_context(alpha.schema):
        customer, (may, june) = _two_open_invoices(alpha)
        payment_record(actor=SYSTEM, customer=customer, amount=5_000, method="cash", idempotency_key="switch-part")
        may.refresh_from_db()
        assert may.amount_paid == 5_000  # the oldest open invoice first
        with pytest.raises(ValidationError):
            billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="daily", open_invoices=None)
        assert BillingProfile.objects.get(customer=customer).model == "monthly"

        profile = billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="daily", open_invoices="void",
                                       on=datetime.date(2026, 6, 10))
        assert profile.model == "daily"
        may.refresh_from_db()
        june.refresh_from_db()
        assert june.status == InvoiceStatus.VOID
        assert JournalEntry.objects.get(pk=june.void_entry_id).reversal_of_id == june.entry_id
        # The partly paid one is cancelled for what was still due, never silently dropped.
        note = CreditNote.objects.get(invoice=may)
        assert note.total == 12_000 - 5_000 and may.outstanding == 0
        with time_machine.travel(datetime.datetime(2026, 7, 3, 9, tzinfo=datetime.UTC), tick=False):
            monthly_run(catch_up_days=0)
        assert not Invoice.objects.filter(customer=customer, period_start=datetime.date(2026, 7, 3)).exists()
        check_deferred_now()
        assert ledger_check().ok


def test_switch_to_daily_keeping_open_invoices_then_back(alpha):
    with schema_context(alpha.schema):
        customer, _ = _two_open_invoices(alpha)
        billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="daily", open_invoices="keep", on=datetime.date(2026, 6, 10))
        assert set(Invoice.objects.filter(customer=customer).values_list("status", flat=True)) == {"open"}
        with time_machine.travel(datetime.datetime(2026, 7, 3, 9, tzinfo=datetime.UTC), tick=False):
            assert invoice_issue_for_period(customer=customer) is None  # daily: no invoice cycle
        profile = billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="monthly", open_invoices="keep",
                                       on=datetime.date(2026, 8, 1))
        assert profile.model == "monthly" and profile.start_date == datetime.date(2026, 8, 1)
        with time_machine.travel(datetime.datetime(2026, 8, 3, 9, tzinfo=datetime.UTC), tick=False):
            august = invoice_issue_for_period(customer=customer)
        assert august is not None and august.period_start == datetime.date(2026, 8, 3)
        payment_record(actor=SYSTEM, customer=customer, amount=36_000, method="bank", idempotency_key="switch-keep")
        assert set(Invoice.objects.filter(customer=customer).values_list("status", flat=True)) == {"paid"}
        check_deferred_now()
        assert ledger_check().ok


def test_a_recharge_payment_is_no_advance_for_the_first_invoice(alpha):
    """A daily customer of the ISP itself pays a recharge (charged on its receivable), then moves to monthly
    billing: that payment settled the recharge, so the first invoice stays open."""
    from hierarchy.models import BillingMode
    from ledger.vouchers.recharge import recharge_purchase

    with schema_context(alpha.schema):
        assert alpha.root.billing_mode == BillingMode.POSTPAID
        customer = monthly_customer(alpha.root, alpha.package, billing_day=3)
        billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="daily", open_invoices=None, on=datetime.date(2026, 5, 1))
        recharge_purchase(actor=SYSTEM, customer=customer, package=alpha.package, quantity=3, unit="days")
        check_deferred_now()
        owed = balance(f"receivable:c{customer.pk}")
        assert owed == 1_000  # 100.00 x 3/30 days
        payment_record(actor=SYSTEM, customer=customer, amount=owed, method="cash", idempotency_key="recharge-paid")
        billing_model_switch(actor=SYSTEM, reason="moves to recharge", customer=customer, model="monthly", open_invoices=None, on=datetime.date(2026, 6, 1))
        with time_machine.travel(datetime.datetime(2026, 6, 3, 9, tzinfo=datetime.UTC), tick=False):
            june = invoice_issue_for_period(customer=customer)
        assert june is not None and june.status == InvoiceStatus.OPEN and june.amount_paid == 0
        check_deferred_now()
        assert balance(f"receivable:c{customer.pk}") == june.total
        # A real advance still counts: pay 150.00 on a 100.00 invoice, 50.00 waits for July.
        payment_record(actor=SYSTEM, customer=customer, amount=15_000, method="cash", idempotency_key="advance")
        june.refresh_from_db()
        assert june.status == InvoiceStatus.PAID
        with time_machine.travel(datetime.datetime(2026, 7, 3, 9, tzinfo=datetime.UTC), tick=False):
            july = invoice_issue_for_period(customer=customer)
        assert july.amount_paid == 5_000 and july.status == InvoiceStatus.PARTIALLY_PAID
        check_deferred_now()
        assert ledger_check().ok
