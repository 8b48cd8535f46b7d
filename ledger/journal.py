"""The one way money is written: lock the accounts in id order, insert an entry and its postings.

Callers run inside ``money_atomic`` (a durable transaction, retried on deadlock/serialization failure).
Only accounts whose balance must be checked (prepaid wallets) are locked, in id order; the others'
balances are maintained by the posting trigger in per-backend slots.
Accounts are created lazily and idempotently (``INSERT .. ON CONFLICT (code) DO NOTHING``), so a node
or customer gets its accounts the first time money touches it, with no hook in the role tree.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction

from ledger.models import AccountKind, JournalEntry, Posting
from tenants.db import schema_current, violated_constraint
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


class CreditLimitExceeded(ValidationError):
    """A postpaid node would owe more than its credit limit; nothing was changed. Raised by the services
    before they post and, as the safety net, for the database's CHECK ``node_receivable_within_credit``."""


CREDIT_CHECK = "node_receivable_within_credit"
def credit_refusal(exc: IntegrityError) -> CreditLimitExceeded:
    """The database's refusal of a posting past a postpaid node's credit limit, as the services word it
    (the posting trigger names the node and the amounts; the bare CHECK, under a race, does not)."""
    message = str(getattr(getattr(exc.__cause__, "diag", None), "message_primary", "") or "")
    if "may owe at most" not in message:
        message = "This would take a postpaid reseller past its credit limit; nothing was changed."
    return CreditLimitExceeded({"amount": message})


_currency_by_schema: dict[str, str] = {}
_committed_account_ids: dict[str, dict[str, int]] = {}  # schema → code → id


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
        except IntegrityError as exc:
            if violated_constraint(exc) == CREDIT_CHECK or CREDIT_CHECK in str(exc):
                raise credit_refusal(exc) from exc
            # A stale cached account id (an ISP dropped and re-created under the same schema) shows up as a
            # foreign-key failure: forget the cache so the caller's retry resolves the accounts afresh.
            _committed_account_ids.pop(schema_current(), None)
            raise
        except OperationalError as exc:
            code = getattr(exc.__cause__, "sqlstate", None)
            if code not in RETRYABLE or attempt == MAX_ATTEMPTS:
                raise
            logger.info("money transaction retried after %s (attempt %d)", code, attempt)
            time.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")


def accounts_lock(refs: Iterable[AccountRef], *, lock: Iterable[str] = ()) -> dict[str, LockedAccount]:
    """Resolve account codes to ids, creating missing accounts. The accounts named in ``lock`` (wallets
    whose balance the caller must check) are locked FOR NO KEY UPDATE in id order and their balance read
    under the lock; other accounts are not locked: their balance slots are upserted by the posting trigger.
    Returns code → account (balance 0 for accounts not locked)."""
    wanted = {ref.code: ref for ref in refs}
    schema = schema_current()
    known = _committed_account_ids.setdefault(schema, {})
    if not lock and all(code in known for code in wanted):  # the common case: no query at all
        return {code: LockedAccount(id=known[code], balance=0) for code in wanted}
    codes = sorted(wanted)
    sql = "SELECT code, id FROM ledger_account WHERE code = ANY(%s)"
    with connection.cursor() as cursor:
        if all(code in known for code in codes):
            found = {code: LockedAccount(id=known[code], balance=0) for code in codes}
        else:
            cursor.execute(sql, [codes])
            found = {code: LockedAccount(id=pk, balance=0) for code, pk in cursor.fetchall()}
            resolved = {code: account.id for code, account in found.items()}
            # Remember ids only once they are committed (accounts are never deleted nor re-coded).
            transaction.on_commit(lambda: known.update(resolved))
        missing = [wanted[code] for code in codes if code not in found]
        if missing:
            currency = ledger_currency()
            cursor.executemany(
                "INSERT INTO ledger_account (code, kind, owner_id, customer_id, currency) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (code) DO NOTHING",
                [(r.code, r.kind, r.owner_id, r.customer_id, currency) for r in missing],
            )
            cursor.execute(sql, [codes])
            found = {code: LockedAccount(id=pk, balance=0) for code, pk in cursor.fetchall()}
        to_lock = sorted(set(lock))
        if to_lock:
            cursor.execute("SELECT id FROM ledger_account WHERE code = ANY(%s) ORDER BY id FOR NO KEY UPDATE",
                           [to_lock])
            # A separate statement: in READ COMMITTED it takes a fresh snapshot, taken after the lock was
            # granted, so it sees what the previous holder committed (a subquery in the locking statement
            # would still see the snapshot from before the wait).
            cursor.execute(
                "SELECT a.code, a.id, coalesce(sum(b.balance), 0) FROM ledger_account a "
                "LEFT JOIN ledger_accountbalance b ON b.account_id = a.id WHERE a.code = ANY(%s) GROUP BY a.id",
                [to_lock],
            )
            for code, pk, balance in cursor.fetchall():
                found[code] = LockedAccount(id=pk, balance=int(balance))
    return found


def posting_arrays(legs: Iterable[Leg], accounts: dict[str, LockedAccount]) -> tuple[list[int], list[int], list[int]]:
    """Account ids, debits and credits of the non-zero legs, as arrays for one INSERT .. unnest()."""
    ids: list[int] = []
    debits: list[int] = []
    credits: list[int] = []
    for leg in legs:
        if leg.amount:
            ids.append(accounts[leg.account.code].id)
            debits.append(max(leg.amount, 0))
            credits.append(max(-leg.amount, 0))
    return ids, debits, credits


def statements_fetchone(statements: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[Any, ...] | None]:
    """Run hot statements with server-side parameter binding (Django's cursors quote every parameter into
    the query text on the client, arrays included) in pipeline mode, which sends them together with the
    transaction's pending BEGIN: one round trip for all of them. The server still runs them one after the
    other, each (in READ COMMITTED) with its own snapshot. Returns each statement's first row. The Django
    cursor is opened first so django-tenants has set the search_path."""
    with connection.cursor() as django_cursor, connection.wrap_database_errors:
        # (wrap_database_errors: psycopg's errors become Django's, which money_atomic retries or reports.)
        raw = django_cursor.cursor.connection
        with raw.pipeline():
            cursors = [psycopg.Cursor(raw) for _ in statements]
            try:
                for cursor, (sql, params) in zip(cursors, statements, strict=True):
                    cursor.execute(sql, params)
                return [cursor.fetchone() for cursor in cursors]
            finally:
                for cursor in cursors:
                    cursor.close()


def statement_fetchone(sql: str, params: Sequence[Any]) -> tuple[Any, ...]:
    """One hot statement (see statements_fetchone); it must return a row."""
    row = statements_fetchone([(sql, params)])[0]
    if row is None:
        raise AssertionError("the statement returned no row")
    return row


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
    customer_id: int | None = None,
    node_id: int | None = None,
    package_id: int | None = None,
) -> JournalEntry:
    """Insert a balanced entry. Must run inside a money transaction. ``locked`` are accounts the caller
    already resolved/locked; ``entry`` an entry it already inserted (to claim a unique key first).
    ``customer_id``/``node_id``/``package_id`` are the entry's reporting dimensions."""
    legs = [leg for leg in legs if leg.amount != 0]
    if locked is None or any(leg.account.code not in locked for leg in legs):
        locked = {**accounts_lock(leg.account for leg in legs), **(locked or {})}
    if entry is None:
        entry = JournalEntry.objects.create(
            kind=kind, reason=reason[:255], actor_id=actor_id, external_reference=external_reference[:128],
            reversal_of=reversal_of, customer_id=customer_id, node_id=node_id, package_id=package_id,
        )
    currency = ledger_currency()
    Posting.objects.bulk_create([
        Posting(entry=entry, account_id=locked[leg.account.code].id, currency=currency,
                debit=max(leg.amount, 0), credit=max(-leg.amount, 0))
        for leg in legs
    ])
    return entry
