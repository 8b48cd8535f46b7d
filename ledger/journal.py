"""The one way money is written: lock the accounts in id order, insert an entry and its postings.

Callers run inside ``money_atomic`` (a durable transaction, retried on deadlock/serialization failure).
Accounts are created lazily and idempotently (``INSERT .. ON CONFLICT (code) DO NOTHING``), so a node
or customer gets its accounts the first time money touches it, with no hook in the role tree.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db import OperationalError, connection, transaction

from ledger.models import AccountKind, JournalEntry, Posting
from tenants.db import schema_current
from tenants.models import Tenant

T = TypeVar("T")
logger = logging.getLogger(__name__)
RETRYABLE = {"40001", "40P01"}  # serialization_failure, deadlock_detected
MAX_ATTEMPTS = 8


@dataclass(frozen=True)
class AccountRef:
    code: str
    kind: str
    owner_id: int | None = None
    customer_id: int | None = None


def isp_account(kind: AccountKind) -> AccountRef:
    return AccountRef(code=str(kind.value), kind=kind.value)


def node_account(kind: AccountKind, node_id: int) -> AccountRef:
    return AccountRef(code=f"{kind.value}:{node_id}", kind=kind.value, owner_id=node_id)


def customer_account(customer_id: int) -> AccountRef:
    return AccountRef(code=f"receivable:c{customer_id}", kind=AccountKind.RECEIVABLE.value, customer_id=customer_id)


@dataclass(frozen=True)
class Leg:
    """``amount`` is the balance effect: positive = debit, negative = credit."""

    account: AccountRef
    amount: int


@dataclass(frozen=True)
class LockedAccount:
    id: int
    balance: int


_currency_by_schema: dict[str, str] = {}


def ledger_currency() -> str:
    schema = schema_current()
    if schema not in _currency_by_schema:
        currency = Tenant.objects.filter(schema_name=schema).values_list("currency", flat=True).first()
        _currency_by_schema[schema] = currency or "USD"
    return _currency_by_schema[schema]


def money_atomic(work: Callable[[], T]) -> T:
    """Run ``work`` in ``transaction.atomic(durable=True)``, retrying deadlocks and serialization
    failures (the whole transaction is rolled back first, so a retry starts clean)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic(durable=True):
                return work()
        except OperationalError as exc:
            code = getattr(exc.__cause__, "sqlstate", None)
            if code not in RETRYABLE or attempt == MAX_ATTEMPTS:
                raise
            logger.info("money transaction retried after %s (attempt %d)", code, attempt)
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


def accounts_lock(refs: Iterable[AccountRef]) -> dict[str, LockedAccount]:
    """Create missing accounts, then lock all of them in id order (FOR UPDATE). Returns code → account."""
    wanted = {ref.code: ref for ref in refs}
    codes = sorted(wanted)
    sql = "SELECT code, id, balance FROM ledger_account WHERE code = ANY(%s) ORDER BY id FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [codes])
        found = {code: LockedAccount(id=pk, balance=balance) for code, pk, balance in cursor.fetchall()}
        missing = [wanted[code] for code in codes if code not in found]
        if missing:
            currency = ledger_currency()
            cursor.executemany(
                "INSERT INTO ledger_account (code, kind, owner_id, customer_id, currency, balance) "
                "VALUES (%s, %s, %s, %s, %s, 0) ON CONFLICT (code) DO NOTHING",
                [(r.code, r.kind, r.owner_id, r.customer_id, currency) for r in missing],
            )
            cursor.execute(sql, [codes])
            found = {code: LockedAccount(id=pk, balance=balance) for code, pk, balance in cursor.fetchall()}
    return found


def entry_post(
    *,
    kind: str,
    reason: str,
    legs: Iterable[Leg],
    actor_id: int | None = None,
    external_reference: str = "",
    reversal_of: JournalEntry | None = None,
    locked: dict[str, LockedAccount] | None = None,
    entry: JournalEntry | None = None,
) -> JournalEntry:
    """Insert a balanced entry. Must run inside a money transaction. ``locked`` are accounts the caller
    already locked (it must have locked every account the legs touch); ``entry`` an entry it already
    inserted (to claim a unique key first)."""
    legs = [leg for leg in legs if leg.amount != 0]
    if locked is None:
        locked = accounts_lock(leg.account for leg in legs)
    if entry is None:
        entry = JournalEntry.objects.create(
            kind=kind, reason=reason[:255], actor_id=actor_id, external_reference=external_reference[:128],
            reversal_of=reversal_of,
        )
    currency = ledger_currency()
    Posting.objects.bulk_create([
        Posting(entry=entry, account_id=locked[leg.account.code].id, currency=currency,
                debit=max(leg.amount, 0), credit=max(-leg.amount, 0))
        for leg in legs
    ])
    return entry
