"""Mid-cycle upgrade and downgrade: the preview is exact to the cent and equals what confirm posts; the
package changes through the hierarchy service (audited, CoA path); the books balance."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM, AuditEvent
from ledger.billing.changes import package_change_confirm, package_change_preview
from ledger.billing.models import CreditNote, Invoice, InvoiceStatus
from ledger.billing.services import invoice_issue_for_period
from ledger.checks import ledger_check
from ledger.services import payment_record
from tests.billing.factories import monthly_customer, package
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db


def _june_invoice(customer) -> Invoice:
    with time_machine.travel(datetime.datetime(2026, 6, 1, 9, tzinfo=datetime.UTC), tick=False):
        invoice = invoice_issue_for_period(customer=customer)
    assert invoice is not None and (invoice.period_start, invoice.period_end) == (
        datetime.date(2026, 6, 1), datetime.date(2026, 6, 30))
    return invoice


def test_upgrade_on_day_21_of_30(alpha):
    with schema_context(alpha.schema):
        alpha.tenant.tax_rate = Decimal("10.00")
        alpha.tenant.save()
        fiber = package("Fiber", "150.00", [(alpha.reseller, "160.00"), (alpha.sub_reseller, "175.00")])
        customer = monthly_customer(alpha.sub_reseller, alpha.package)
        june = _june_invoice(customer)
        assert june.total == 13_200
        payment_record(actor=SYSTEM, customer=customer, amount=13_200, method="bank", idempotency_key="pro-up-1")
        june.refresh_from_db()
        assert june.status == InvoiceStatus.PAID
        day = datetime.date(2026, 6, 21)
        quote = package_change_preview(customer=customer, package=fiber, on=day)
        amounts = quote.amounts
        assert (amounts.days_in_period, amounts.days_remaining) == (30, 10)
        assert (amounts.credit_net, amounts.credit_tax, amounts.credit_total) == (4_000, 400, 4_400)
        # 175.00 x 10/30 = 58.3333 → 58.33; tax 10 % → 5.83
        assert (amounts.charge.amount, amounts.charge.discount, amounts.charge.tax, amounts.charge.total) == (
            5_833, 0, 583, 6_416)
        assert amounts.net_total == 2_016
        assert not CreditNote.objects.filter(customer=customer).exists()  # the preview wrote nothing

        change = package_change_confirm(actor=SYSTEM, customer=customer, package=fiber, on=day)
        assert change.credit_note.total == 4_400 and change.credit_note.invoice_id == june.pk
        assert change.invoice.total == 6_416 and change.invoice.kind == "proration"
        change.invoice.refresh_from_db()
        # June was paid, so the credit goes to the new charge: 64.16 - 44.00 = 20.16 left to pay.
        assert change.invoice.outstanding == 2_016 and change.invoice.status == InvoiceStatus.PARTIALLY_PAID
        customer.refresh_from_db()
        assert customer.package_id == fiber.pk
        assert AuditEvent.objects.filter(object_type="customer", object_id=customer.pk,
                                         changes__has_key="package").exists()
        check_deferred_now()
        assert ledger_check().ok


def test_downgrade_on_day_11_with_a_discount(alpha):
    with schema_context(alpha.schema):
        alpha.tenant.tax_rate = Decimal("10.00")
        alpha.tenant.save()
        lite = package("Lite", "50.00", [(alpha.reseller, "55.00"), (alpha.sub_reseller, "60.00")])
        customer = monthly_customer(alpha.sub_reseller, alpha.package, discount="12.50")
        june = _june_invoice(customer)
        assert (june.subtotal, june.discount, june.tax, june.total) == (12_000, 1_500, 1_050, 11_550)
        day = datetime.date(2026, 6, 11)
        quote = package_change_preview(customer=customer, package=lite, on=day)
        amounts = quote.amounts
        assert amounts.days_remaining == 20
        assert (amounts.credit_net, amounts.credit_tax) == (7_000, 700)
        assert (amounts.charge.amount, amounts.charge.discount, amounts.charge.tax, amounts.charge.total) == (
            4_000, 500, 350, 3_850)
        assert amounts.net_total == -3_850
        change = package_change_confirm(actor=SYSTEM, customer=customer, package=lite, on=day)
        june.refresh_from_db()
        assert june.amount_credited == 7_700 and june.outstanding == 3_850
        assert change.invoice.total == 3_850
        check_deferred_now()
        assert balance(f"receivable:c{customer.pk}") == 11_550 - 7_700 + 3_850
        assert ledger_check().ok


def test_change_to_the_same_or_an_unoffered_package_is_refused(alpha):
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package)
        unoffered = package("Unoffered", "10.00")  # not assigned to the sub-reseller
        with pytest.raises(ValidationError):
            package_change_preview(customer=customer, package=alpha.package, on=datetime.date(2026, 6, 5))
        with pytest.raises(ValidationError):
            package_change_confirm(actor=SYSTEM, customer=customer, package=unoffered, on=datetime.date(2026, 6, 5))
        customer.refresh_from_db()
        assert customer.package_id == alpha.package.pk
