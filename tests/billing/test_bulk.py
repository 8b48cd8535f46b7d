"""The set-based run gives exactly the invoices, lines and postings of the one-by-one path: twins (same
owner, package, price, discount, tax) billed one by each path are compared field by field."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django_tenants.utils import schema_context

from ledger.billing.bulk import customers_not_invoiced, invoices_issue_bulk
from ledger.billing.models import Invoice, PackageTax, PromoCode
from ledger.billing.promos import promo_redeem
from ledger.billing.services import invoice_issue_for_period, monthly_run
from ledger.checks import ledger_check
from ledger.models import Posting
from tests.billing.factories import monthly_customer, package, settings
from tests.ledger.factories import check_deferred_now

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 6, 17)


def _shape(invoice):
    line = invoice.lines.get()
    legs = sorted((p.account.code.replace(f"c{invoice.customer_id}", "c*"), p.debit, p.credit)
                  for p in Posting.objects.filter(entry_id=invoice.entry_id).select_related("account"))
    return {
        "invoice": (invoice.kind, invoice.status, invoice.period_start, invoice.period_end, invoice.issue_date,
                    invoice.due_date, invoice.currency, invoice.subtotal, invoice.discount, invoice.tax, invoice.total,
                    invoice.owner_id, invoice.number[:4]),
        "line": (line.description.split(" ", 1)[1], line.package_id, line.period_start, line.period_end,
                 line.quantity, line.unit_price, line.amount, line.discount, line.tax_rate, line.tax, line.total,
                 line.income),
        "legs": legs,
        "reason": invoice.entry.reason.replace(invoice.customer.username, "*"),
        "dimensions": (invoice.entry.customer_id == invoice.customer_id, invoice.entry.node_id,
                       invoice.entry.package_id),
    }


def test_bulk_equals_one_by_one(alpha):
    with schema_context(alpha.schema):
        alpha.tenant.tax_rate = Decimal("7.25")
        alpha.tenant.save()
        settings(invoice_due_days=9, calendar_month=False)
        exempt = package("Exempt", "19.99")
        exempt.tax_class = "exempt"
        exempt.save()
        taxed20 = package("Taxed20", "33.33", [(alpha.reseller, "35.55")])
        PackageTax.objects.create(package=taxed20, rate=Decimal("20.00"))
        variants = [
            dict(owner=alpha.sub_reseller, package=alpha.package),
            dict(owner=alpha.reseller, package=alpha.package, discount="12.50"),
            dict(owner=alpha.root, package=alpha.package, special_price="87.65"),
            dict(owner=alpha.root, package=exempt, discount="3.33"),
            dict(owner=alpha.reseller, package=taxed20, discount="0.01"),
            dict(owner=alpha.sibling, package=alpha.package, terms="postpaid"),
        ]
        pairs = []
        for variant in variants:
            owner, pkg = variant.pop("owner"), variant.pop("package")
            pairs.append((monthly_customer(owner, pkg, billing_day=DAY.day, **variant),
                          monthly_customer(owner, pkg, billing_day=DAY.day, **variant)))
        for one_by_one, _ in pairs:
            assert invoice_issue_for_period(customer=one_by_one, on=DAY) is not None
        assert invoices_issue_bulk(on=DAY) == len(pairs)
        assert invoices_issue_bulk(on=DAY) == 0  # idempotent
        for one_by_one, bulk in pairs:
            python_invoice = Invoice.objects.get(customer=one_by_one)
            sql_invoice = Invoice.objects.get(customer=bulk)
            assert _shape(python_invoice) == _shape(sql_invoice)
        numbers = sorted(Invoice.objects.values_list("sequence", flat=True))
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        check_deferred_now()
        assert ledger_check().ok


def test_special_cases_go_one_by_one_in_the_monthly_run(alpha):
    with schema_context(alpha.schema):
        settings(calendar_month=False)
        plain = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=DAY.day)
        promo_customer = monthly_customer(alpha.sub_reseller, alpha.package, billing_day=DAY.day)
        PromoCode.objects.create(code="HALF", kind="percent", percent=Decimal("50"))
        promo_redeem(code="half", customer=promo_customer)
        assert customers_not_invoiced(on=DAY) == sorted([plain.pk, promo_customer.pk])
        result = monthly_run(on=DAY, catch_up_days=0)
        assert result.issued == 2 and customers_not_invoiced(on=DAY) == []
        assert Invoice.objects.get(customer=promo_customer).discount == 6_000
        assert Invoice.objects.get(customer=plain).discount == 0
        check_deferred_now()
        assert ledger_check().ok
