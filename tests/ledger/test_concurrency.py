"""8 processes paying, refunding and activating on the same customers and wallets at once, on committed
data in an ISP of its own (real PostgreSQL): no double posting, no lost update, no negative wallet, no
deadlock left unhandled. The setup and the workers are separate processes (committed data); this test
reads the result through its own connection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django_tenants.utils import schema_context

from hierarchy.models import Operator, Subscriber
from ledger.checks import ledger_check
from ledger.models import AccountBalance, EntryKind, JournalEntry, Payment
from ledger.wallets import wallet_balance
from tests.support import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
WORKERS = 8


def _run(*args: str) -> str:
    return processes.worker_run("tests.ledger.concurrency_worker", *args)


@pytest.fixture(scope="module")
def gamma(django_db_setup) -> Iterator[str]:
    """Module-scoped: created before and dropped after the test's own transaction (which reads its tables)."""
    schema = _run("setup", "gamma-conc")
    yield schema
    _run("drop", schema)


def test_concurrent_payments_refunds_and_activations(gamma):
    summaries = processes.worker_summaries([processes.worker_start("tests.ledger.concurrency_worker", "work", gamma, str(seed))
                                            for seed in range(WORKERS)])
    total = {key: sum(s[key] for s in summaries) for key in summaries[0]}

    with schema_context(gamma):
        assert total["created"] == 40 and total["replayed"] == 40 * (WORKERS - 1)
        assert Payment.objects.count() == 40
        assert total["refunded"] == 20 and total["already_refunded"] == 20 * (WORKERS - 1)
        assert JournalEntry.objects.filter(kind=EntryKind.REFUND).count() == 20
        assert total["activated"] == 9
        assert JournalEntry.objects.filter(kind=EntryKind.ACTIVATION).count() == 9
        assert wallet_balance(node=Operator.objects.get(name="S")) == 1_500
        assert not AccountBalance.objects.filter(account__kind="wallet", balance__gt=0).exists()
        renewed = sum((c.expires_at - c.created for c in Subscriber.objects.exclude(expires_at=None)), timedelta())
        assert timedelta(days=9 * 30) <= renewed < timedelta(days=9 * 30, hours=1)
        report = ledger_check()
        assert report.ok, report.lines()
