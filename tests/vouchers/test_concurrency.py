"""Races on real PostgreSQL with committed data, in an ISP of its own: 2 processes x 6 threads redeem
the same PIN (exactly one wins), and 2 x 6 threads recharge customers of one prepaid wallet that holds
5 recharges (exactly 5 go through, the wallet never goes below zero)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from hierarchy.models import Operator
from ledger.checks import ledger_check
from ledger.models import AccountBalance, EntryKind, JournalEntry
from ledger.vouchers.models import Recharge, Voucher, VoucherStatus
from ledger.wallets import wallet_balance
from tests.support import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
THREADS = 6


def _worker(*args: str) -> subprocess.Popen[bytes]:
    return processes.worker_start("tests.vouchers.race_worker", *args)


def _summary(worker: subprocess.Popen[bytes]) -> dict[str, Any]:
    return processes.worker_summaries([worker])[0]


def _total(*summaries: dict[str, int]) -> dict[str, int]:
    total: dict[str, int] = {}
    for summary in summaries:
        for key, count in summary.items():
            total[key] = total.get(key, 0) + count
    return total


@pytest.fixture(scope="module")
def race(django_db_setup) -> Iterator[dict[str, Any]]:
    info = _summary(_worker("setup", "vrace"))
    yield info
    processes.worker_run("tests.vouchers.race_worker", "drop", str(info["schema"]))


def test_the_same_pin_redeems_once_under_concurrent_attempts(race):
    racers = [_worker("race-pin", race["schema"], race["pin"], str(THREADS), str(first)) for first in (0, THREADS)]
    total = _total(*(_summary(racer) for racer in racers))
    assert total == {"redeemed": 1, "rejected": 2 * THREADS - 1}
    with schema_context(race["schema"]):
        voucher = Voucher.objects.get()
        assert voucher.status == VoucherStatus.REDEEMED
        assert Recharge.objects.filter(voucher=voucher).count() == 1
        assert JournalEntry.objects.filter(kind=EntryKind.VOUCHER_REDEMPTION).count() == 1
        assert ledger_check().ok


def test_concurrent_recharges_never_overdraw_the_wallet(race):
    racers = [_worker("race-recharge", race["schema"], str(THREADS), str(first)) for first in (0, THREADS)]
    total = _total(*(_summary(racer) for racer in racers))
    assert total == {"recharged": 5, "refused": 2 * THREADS - 5}
    with schema_context(race["schema"]):
        assert wallet_balance(node=Operator.objects.get(name="S")) == 100
        assert Recharge.objects.filter(source="reseller").count() == 5
        assert JournalEntry.objects.filter(kind=EntryKind.RECHARGE).count() == 5
        assert not AccountBalance.objects.filter(account__kind="wallet", balance__gt=0).exists()
        report = ledger_check()
        assert report.ok, report.lines()
