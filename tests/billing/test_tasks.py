"""The scheduled billing tasks through a real Celery worker: the fan-out task queues one tenant task per
ISP, which issues the due invoices in that ISP's schema only; the late-fee task posts each fee once."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from hierarchy.models import Package, Subscriber
from hierarchy.services import operator_root
from ledger.billing.models import BillingProfile, BillingSettings, Invoice, LateFee
from ledger.billing.tasks import billing_late_fees_all, billing_run_all
from ledger.checks import ledger_check
from tenants.models import Tenant
from tenants.services import tenant_create

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def epsilon(django_db_setup, django_db_blocker) -> Iterator[str]:
    with django_db_blocker.unblock():
        tenant = tenant_create(name="Epsilon Billing", slug="epsilon-bill", admin_email="admin@epsilon.test",
                               admin_password="correct-horse-battery-9", tax_rate=Decimal("10.00"))
        with schema_context(tenant.schema_name):
            BillingSettings.objects.create(grace_days=3, late_fee_fixed=250, invoice_due_days=5)
            package = Package.objects.create(name="P", type="pppoe", download_kbps=1, upload_kbps=1,
                                             price=Decimal("20.00"))
            root = operator_root()
            for i in range(3):
                customer = Subscriber.objects.create(username=f"ep-{i}", package=package, owner=root,
                                                     billing_day=15 if i < 2 else 16)
                BillingProfile.objects.create(customer=customer, start_date=datetime.date(2026, 1, 1))
    yield tenant.schema_name
    with django_db_blocker.unblock():
        Tenant.objects.get(schema_name=tenant.schema_name).delete(force_drop=True)


def _wait(django_db_blocker, schema: str, check, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with django_db_blocker.unblock(), schema_context(schema):
            if check():
                return
        time.sleep(0.3)
    raise AssertionError("the worker did not finish in time")


def test_beat_tasks_through_a_real_worker(epsilon, celery_worker_process, django_db_blocker):
    assert settings.CELERY_BEAT_SCHEDULE["billing-run"]["task"] == billing_run_all.name
    assert settings.CELERY_BEAT_SCHEDULE["billing-late-fees"]["task"] == billing_late_fees_all.name
    billing_run_all.delay("2026-07-15")
    _wait(django_db_blocker, epsilon, lambda: Invoice.objects.count() == 2)
    billing_run_all.delay("2026-07-15")  # the hourly beat runs again: nothing more
    billing_run_all.delay("2026-07-16")
    _wait(django_db_blocker, epsilon, lambda: Invoice.objects.count() == 3)
    time.sleep(1)
    with django_db_blocker.unblock(), schema_context(epsilon):
        assert Invoice.objects.count() == 3
        assert sorted(Invoice.objects.values_list("sequence", flat=True)) == [1, 2, 3]
        assert set(Invoice.objects.values_list("total", flat=True)) == {2_200}
    # Due 20/21 July, 3 days' grace: on 24 July only the first two are late.
    billing_late_fees_all.delay("2026-07-24")
    billing_late_fees_all.delay("2026-07-24")
    _wait(django_db_blocker, epsilon, lambda: LateFee.objects.count() == 2)
    time.sleep(1)
    with django_db_blocker.unblock(), schema_context(epsilon):
        assert LateFee.objects.count() == 2 and set(LateFee.objects.values_list("amount", flat=True)) == {250}
        report = ledger_check()
        assert report.ok, report.lines()
    for other in ("isp_alpha", "isp_beta"):
        with django_db_blocker.unblock(), schema_context(other):
            assert not Invoice.objects.filter(period_start=datetime.date(2026, 7, 15)).exists()
