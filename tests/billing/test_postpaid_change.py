"""Mid-cycle package changes of postpaid customers: nothing is posted at the change; the arrears invoice of
the period splits into one line per package segment, priced by day like the prepaid proration, and the
preview tells exactly those amounts. The set-based run leaves such customers to the one-by-one path."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from ledger.billing.bulk import customers_not_invoiced, invoices_issue_bulk
from ledger.billing.changes import package_change_confirm, package_change_preview
from ledger.billing.models import CreditNote, Invoice, PackageChange
from ledger.billing.services import invoice_issue_for_period, monthly_run
from ledger.checks import ledger_check
from ledger.models import Posting
from tests.billing.factories import monthly_customer, package, settings
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db


def _at(day: datetime.date):
    return time_machine.travel(datetime.datetime(day.year, day.month, day.day, 9, tzinfo=datetime.UTC), tick=False)


def _change(customer, pkg, day):
    with _at(day):
        quote = package_change_preview(customer=customer, package=pkg, on=day)
        change = package_change_confirm(actor=SYSTEM, customer=customer, package=pkg, on=day)
    customer.refresh_from_db()
    return quote, change


def _arrears(customer, on: datetime.date) -> Invoice:
    with _at(on):
        invoice = invoice_issue_for_period(customer=customer)
    assert invoice is not None
    return invoice


def _lines(invoice):
    return [(line.package_id, line.period_start, line.period_end, line.unit_price, line.amount,
             line.discount, line.tax, line.total) for line in invoice.lines.order_by("period_start")]


def _segments(quote):
    return [(s.package_id, s.start, s.end, s.unit_price, s.amounts.amount,
             s.amounts.discount, s.amounts.tax, s.amounts.total) for s in quote.segments]


@pytest.fixture
def packages(alpha):
    with schema_context(alpha.schema):
        alpha.tenant.tax_rate = Decimal("10.00")
        alpha.tenant.save()
        settings(calendar_month=True)
        fiber = package("Fiber", "150.00", [(alpha.reseller, "160.00"), (alpha.sub_reseller, "175.00")])
        lite = package("Lite", "50.00", [(alpha.reseller, "55.00"), (alpha.sub_reseller, "60.00")])
        return fiber, lite


def test_postpaid_upgrade_on_day_21_of_30(alpha, packages):
    fiber, _ = packages
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid")
        home = alpha.package
        quote, change = _change(customer, fiber, datetime.date(2026, 6, 21))
        # Home 120.00 x 20/30 = 80.00 + 8.00 tax; Fiber 175.00 x 10/30 = 58.3333 → 58.33 + 5.83 tax.
        assert _segments(quote) == [
            (home.pk, datetime.date(2026, 6, 1), datetime.date(2026, 6, 20), 12_000, 8_000, 0, 800,
             8_800),
            (fiber.pk, datetime.date(2026, 6, 21), datetime.date(2026, 6, 30), 17_500, 5_833, 0, 583,
             6_416)]
        assert (change.old_price, change.new_price, change.credit_note, change.invoice) == (12_000, 17_500, None, None)
        assert customer.package_id == fiber.pk
        assert not Invoice.objects.filter(customer=customer).exists()  # in arrears: nothing posted at the change
        assert not CreditNote.objects.filter(customer=customer).exists()

        june = _arrears(customer, datetime.date(2026, 7, 1))
        assert (june.period_start, june.period_end) == (datetime.date(2026, 6, 1), datetime.date(2026, 6, 30))
        assert _lines(june) == _segments(quote)
        assert (june.subtotal, june.discount, june.tax, june.total) == (13_833, 0, 1_383, 15_216)
        assert [line.quantity for line in june.lines.order_by("period_start")] == [Decimal("0.6667"), Decimal("0.3333")]
        assert [line.description for line in june.lines.order_by("period_start")] == [
            f"{home.name} 01 Jun 2026 - 20 Jun 2026 (20/30 days)", f"{fiber.name} 21 Jun 2026 - 30 Jun 2026 (10/30 days)"]
        check_deferred_now()
        assert balance(f"receivable:c{customer.pk}") == 15_216
        assert ledger_check().ok

        # The next period is plain again: the whole month at the new package.
        july = _arrears(customer, datetime.date(2026, 8, 1))
        assert _lines(july) == [(fiber.pk, datetime.date(2026, 7, 1), datetime.date(2026, 7, 31),
                                 17_500, 17_500, 0, 1_750, 19_250)]


def test_postpaid_downgrade_on_day_16_with_a_discount(alpha, packages):
    _, lite = packages
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid", discount="12.50")
        home = alpha.package
        quote, _ = _change(customer, lite, datetime.date(2026, 6, 16))
        june = _arrears(customer, datetime.date(2026, 7, 1))
        # Home 120.00 x 15/30 = 60.00 - 7.50 = 52.50 + 5.25; Lite 60.00 x 15/30 = 30.00 - 3.75 = 26.25 + 2.625 → 2.63.
        assert _lines(june) == _segments(quote) == [
            (home.pk, datetime.date(2026, 6, 1), datetime.date(2026, 6, 15), 12_000, 6_000, 750, 525,
             5_775),
            (lite.pk, datetime.date(2026, 6, 16), datetime.date(2026, 6, 30), 6_000, 3_000, 375, 263,
             2_888)]
        assert (june.subtotal, june.discount, june.tax, june.total) == (9_000, 1_125, 788, 8_663)
        check_deferred_now()
        assert ledger_check().ok


def test_two_changes_in_one_period(alpha, packages):
    fiber, lite = packages
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid")
        home = alpha.package
        first, _ = _change(customer, fiber, datetime.date(2026, 7, 11))
        assert len(first.segments) == 2
        second, _ = _change(customer, lite, datetime.date(2026, 7, 26))
        # 31 days: Home 120.00 x 10/31 = 38.7097 → 38.71; Fiber 175.00 x 15/31 = 84.6774 → 84.68;
        # Lite 60.00 x 6/31 = 11.6129 → 11.61; tax 10 % of each, half up.
        expected = [
            (home.pk, datetime.date(2026, 7, 1), datetime.date(2026, 7, 10), 12_000, 3_871, 0, 387,
             4_258),
            (fiber.pk, datetime.date(2026, 7, 11), datetime.date(2026, 7, 25), 17_500, 8_468, 0, 847,
             9_315),
            (lite.pk, datetime.date(2026, 7, 26), datetime.date(2026, 7, 31), 6_000, 1_161, 0, 116,
             1_277)]
        assert _segments(second) == expected
        july = _arrears(customer, datetime.date(2026, 8, 1))
        assert _lines(july) == expected
        assert july.total == 4_258 + 9_315 + 1_277 == 14_850
        check_deferred_now()
        assert ledger_check().ok


def test_bulk_leaves_a_changed_postpaid_customer_to_the_one_by_one_path(alpha, packages):
    fiber, _ = packages
    with schema_context(alpha.schema):
        twin_a = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid", discount="3.33")
        twin_b = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid", discount="3.33")
        plain = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid", discount="3.33")
        for twin in (twin_a, twin_b):
            _change(twin, fiber, datetime.date(2026, 6, 9))
        run_day = datetime.date(2026, 7, 1)
        one_by_one = _arrears(twin_b, run_day)
        with _at(run_day):
            assert invoices_issue_bulk(on=run_day) >= 1  # the plain customer, set-based
            assert Invoice.objects.filter(customer=plain, period_start=datetime.date(2026, 6, 1)).exists()
            assert twin_a.pk in customers_not_invoiced(on=run_day)
            monthly_run(on=run_day, catch_up_days=0)
        by_run = Invoice.objects.get(customer=twin_a, kind="regular", period_start=datetime.date(2026, 6, 1))
        assert _lines(by_run) == _lines(one_by_one) and len(_lines(by_run)) == 2

        def legs(invoice):
            return sorted((p.account.code.replace(f"c{invoice.customer_id}", "c*"), p.debit, p.credit)
                          for p in Posting.objects.filter(entry_id=invoice.entry_id).select_related("account"))

        assert legs(by_run) == legs(one_by_one)
        assert (by_run.subtotal, by_run.discount, by_run.tax, by_run.total) == (
            one_by_one.subtotal, one_by_one.discount, one_by_one.tax, one_by_one.total)
        check_deferred_now()
        assert ledger_check().ok


def test_bad_postpaid_changes_change_nothing(alpha, packages):
    fiber, lite = packages
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid")
        unoffered = package("Unoffered", "10.00")
        with pytest.raises(ValidationError):
            package_change_confirm(actor=SYSTEM, customer=customer, package=alpha.package, on=datetime.date(2026, 6, 5))
        with pytest.raises(ValidationError):
            package_change_confirm(actor=SYSTEM, customer=customer, package=unoffered, on=datetime.date(2026, 6, 5))
        assert not PackageChange.objects.filter(customer=customer).exists()
        _change(customer, fiber, datetime.date(2026, 6, 20))
        with pytest.raises(ValidationError):  # before the recorded change
            package_change_confirm(actor=SYSTEM, customer=customer, package=lite, on=datetime.date(2026, 6, 10))
        customer.refresh_from_db()
        assert customer.package_id == fiber.pk
        change = PackageChange.objects.get(customer=customer)
        with pytest.raises(IntegrityError), transaction.atomic():  # append-only
            PackageChange.objects.filter(pk=change.pk).update(new_price=1)
        with pytest.raises(IntegrityError), transaction.atomic():
            PackageChange.objects.filter(pk=change.pk).delete()
        assert PackageChange.objects.get(pk=change.pk).new_price == 17_500


def test_the_api_preview_of_a_postpaid_change_shows_the_segments(alpha, packages):
    from tests.billing.test_api import api

    fiber, _ = packages
    with schema_context(alpha.schema):
        customer = monthly_customer(alpha.sub_reseller, alpha.package, terms="postpaid")
    url = f"/api/v1/customers/{customer.pk}/package-change/preview/"
    with _at(datetime.date(2026, 6, 21)):
        response = api(alpha, alpha.sub_reseller_user).post(url, {"package": fiber.pk},
                                                            content_type="application/json")
    assert response.status_code == 200, response.content
    segments = response.json()["segments"]
    assert [(s["package"], s["start"], s["end"], s["days"], s["total"]) for s in segments] == [
        (alpha.package.pk, "2026-06-01", "2026-06-20", 20, "88.00"),
        (fiber.pk, "2026-06-21", "2026-06-30", 10, "64.16")]
    with schema_context(alpha.schema):
        customer.refresh_from_db()
        assert customer.package_id == alpha.package.pk and not PackageChange.objects.filter(customer=customer).exists()
