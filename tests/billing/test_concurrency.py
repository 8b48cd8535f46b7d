"""6 processes issue the same ISP's June invoices at once, some of their transactions failing after taking
a number, and race for a promo code limited to 5 uses (real PostgreSQL, committed data): every customer is
invoiced once, the numbers have no gap, the promo code is used exactly 5 times, once per customer at most."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from ledger.billing.models import DocumentCounter, Invoice, PromoCode, PromoRedemption
from ledger.checks import ledger_check
from tests.billing.concurrency_worker import CUSTOMERS, PROMO_LIMIT
from tests.support import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
WORKERS = 6


def _run(*args: str) -> str:
    return processes.worker_run("tests.billing.concurrency_worker", *args)


@pytest.fixture(scope="module")
def delta(django_db_setup) -> Iterator[str]:
    schema = _run("setup", "delta-bill")
    yield schema
    _run("drop", schema)


def test_gapless_numbers_and_promo_limit_under_concurrency(delta):
    summaries = processes.worker_summaries([processes.worker_start("tests.billing.concurrency_worker", "work", delta, str(seed))
                                            for seed in range(WORKERS)])
    total = {key: sum(s[key] for s in summaries) for key in summaries[0]}
    assert total["issued"] == CUSTOMERS and total["already"] == CUSTOMERS * (WORKERS - 1)
    assert total["rolled_back"] == WORKERS * 6
    assert total["redeemed"] == PROMO_LIMIT and total["refused"] == CUSTOMERS * WORKERS - PROMO_LIMIT
    with schema_context(delta):
        sequences = sorted(Invoice.objects.values_list("sequence", flat=True))
        assert sequences == list(range(1, CUSTOMERS + 1))  # no gap, although 36 transactions took a number
        assert DocumentCounter.objects.get(series="invoice").last == CUSTOMERS
        assert Invoice.objects.values("customer").distinct().count() == CUSTOMERS
        assert PromoCode.objects.get(code="RUSH").times_used == PROMO_LIMIT
        assert PromoRedemption.objects.count() == PROMO_LIMIT
        assert PromoRedemption.objects.values("customer").distinct().count() == PROMO_LIMIT
        report = ledger_check()
        assert report.ok, report.lines()
