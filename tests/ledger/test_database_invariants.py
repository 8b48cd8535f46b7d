"""The database itself refuses what would break the books, even through raw SQL (alpha is a schema cloned
from the template, so this also proves the triggers survive cloning)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from ledger.models import Account, Payment
from ledger.services import payment_record, payment_refund
from tests.ledger.factories import check_deferred_now

pytestmark = pytest.mark.django_db


def _sql(statement: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def _refused(statement: str, params: list[Any] | None = None) -> str:
    """Run the statement in a savepoint (the deferred checks fired before it is rolled back); a fresh raw
    entry without postings is passed wherever ENTRY appears in the parameters."""
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        entry = _entry()
        _sql(statement, [entry if p == ENTRY else p for p in (params or [])])
        check_deferred_now()
    return str(info.value)


ENTRY = object()


def _accounts() -> tuple[int, int]:
    payment_record(customer=_customer(), amount=1_000, method="bank", idempotency_key="raw-setup")
    return (Account.objects.get(code="bank").pk, Account.objects.get(code="commission_expense").pk)


def _customer():
    from hierarchy.models import Subscriber

    return Subscriber.objects.get(username="carol")


def _entry() -> int:
    return int(_sql("INSERT INTO ledger_journalentry (kind, created, reason, external_reference) "
                    "VALUES ('manual', now(), 'raw', '') RETURNING id")[0][0])


def test_unbalanced_entry_is_refused_at_commit(alpha):
    with schema_context(alpha.schema):
        bank, revenue = _accounts()
        entry = ENTRY
        message = _refused(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
            "(%s, %s, 'USD', 100, 0), (%s, %s, 'USD', 0, 99)", [entry, bank, entry, revenue])
        assert "does not balance" in message


def test_entry_without_postings_is_refused(alpha):
    with schema_context(alpha.schema):
        message = _refused("SELECT 1")
        assert "fewer than two postings" in message


def test_posting_sides_are_checked(alpha):
    with schema_context(alpha.schema):
        bank, _ = _accounts()
        entry = ENTRY
        for debit, credit in ((0, 0), (5, 5), (-5, 0)):
            assert "posting_one_positive_side" in _refused(
                "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES (%s, %s, 'USD', %s, %s)",
                [entry, bank, debit, credit])


def test_postings_and_entries_cannot_be_updated_or_deleted(alpha):
    with schema_context(alpha.schema):
        _accounts()
        for statement in ("UPDATE ledger_posting SET debit = debit + 1", "DELETE FROM ledger_posting",
                          "UPDATE ledger_journalentry SET reason = 'x'", "DELETE FROM ledger_journalentry",
                          "UPDATE ledger_payment SET amount = 1", "DELETE FROM ledger_account"):
            assert "refused" in _refused(statement) or "never deleted" in _refused(statement)


def test_balances_cannot_be_written_directly(alpha):
    with schema_context(alpha.schema):
        _accounts()
        assert "not edited directly" in _refused("UPDATE ledger_accountbalance SET balance = 0")
        assert "not edited directly" in _refused("DELETE FROM ledger_accountbalance")
        assert "not edited directly" in _refused(
            "INSERT INTO ledger_accountbalance (account_id, slot, is_wallet, balance) "
            "SELECT id, 99, false, 5 FROM ledger_account LIMIT 1")
        assert "not edited" in _refused("UPDATE ledger_account SET kind = 'bank'")


def test_an_entry_is_reversible_once(alpha):
    with schema_context(alpha.schema):
        _accounts()
        payment = Payment.objects.get(idempotency_key="raw-setup")
        payment_refund(payment=payment)
        insert = ("INSERT INTO ledger_journalentry (kind, created, reason, external_reference, reversal_of_id) "
                  "VALUES ('reversal', now(), 'raw', '', %s)")
        assert "reversal_of" in _refused(insert, [payment.entry_id])


def test_a_wallet_cannot_go_negative_even_by_raw_postings(alpha):
    with schema_context(alpha.schema):
        bank, _ = _accounts()
        wallet = _sql("INSERT INTO ledger_account (code, kind, owner_id, currency) "
                      "VALUES (%s, 'wallet', %s, 'USD') RETURNING id",
                      [f"wallet:{alpha.reseller.pk}", alpha.reseller.pk])[0][0]
        entry = ENTRY
        assert "wallet_never_negative" in _refused(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
            "(%s, %s, 'USD', 100, 0), (%s, %s, 'USD', 0, 100)", [entry, wallet, entry, bank])


def test_duplicate_idempotency_key_is_refused(alpha):
    with schema_context(alpha.schema):
        _accounts()
        row = _sql("SELECT customer_id, entry_id FROM ledger_payment WHERE idempotency_key = 'raw-setup'")[0]
        assert "idempotency_key" in _refused(
            "INSERT INTO ledger_payment (customer_id, amount, currency, method, idempotency_key, payload_hash,"
            " entry_id, created) VALUES (%s, 1, 'USD', 'bank', 'raw-setup', 'x', %s, now())", [row[0], ENTRY])


def test_postings_cannot_be_added_to_a_checked_entry(alpha):
    with schema_context(alpha.schema):
        bank, revenue = _accounts()
        check_deferred_now()  # the payment's entry is checked and closed
        entry = Payment.objects.get(idempotency_key="raw-setup").entry_id
        with pytest.raises(DatabaseError, match="is closed"), transaction.atomic():
            _sql("INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
                 "(%s, %s, 'USD', 100, 0), (%s, %s, 'USD', 0, 100)", [entry, bank, entry, revenue])
