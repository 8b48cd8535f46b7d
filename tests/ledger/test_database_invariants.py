"""The database itself refuses what would break the books, even through raw SQL (alpha is a schema cloned
from the template, so this also proves the triggers survive cloning)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
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
    payment_record(actor=SYSTEM, customer=_customer(), amount=1_000, method="bank", idempotency_key="raw-setup")
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
        payment_refund(actor=SYSTEM, payment=payment)
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


def test_a_posting_needs_an_existing_account_and_entry(alpha):
    # No foreign-key constraints on postings (migration 0006): the statement trigger checks both.
    with schema_context(alpha.schema):
        bank, _ = _accounts()
        entry = ENTRY
        assert "refers to no account" in _refused(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
            "(%s, %s, 'USD', 100, 0), (%s, 987654321, 'USD', 0, 100)", [entry, bank, entry])
        # Even with the open-entries list forged, an entry that does not exist takes no postings.
        assert "refers to no journal entry" in _refused(
            "SELECT set_config('ledger.open_entries', ',987654321,', true); "
            "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
            "(987654321, %s, 'USD', 100, 0)", [bank])


def test_a_posting_is_in_its_accounts_currency(alpha):
    with schema_context(alpha.schema):
        bank, revenue = _accounts()
        entry = ENTRY
        assert "currency differs" in _refused(
            "INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit) VALUES "
            "(%s, %s, 'EUR', 100, 0), (%s, %s, 'EUR', 0, 100)", [entry, bank, entry, revenue])


@pytest.mark.parametrize("table", ["ledger_posting", "ledger_journalentry", "ledger_payment", "ledger_settlement",
                                   "ledger_wallettopup", "ledger_account", "ledger_accountbalance"])
def test_ledger_tables_cannot_be_truncated(alpha, table):
    with schema_context(alpha.schema):
        _accounts()
        check_deferred_now()  # (TRUNCATE refuses to run with trigger events pending)
        with pytest.raises(DatabaseError, match=r"TRUNCATE on .* is refused"), transaction.atomic():
            _sql(f"TRUNCATE {table} CASCADE")


def test_cloned_ledger_functions_name_their_own_schema(alpha, beta):
    """The functions with static SQL name their schema; clone_schema must have rewritten the template's
    name, or alpha's postings would update the template's balances."""
    with schema_context(alpha.schema):
        rows = _sql("SELECT n.nspname, p.proname, pg_get_functiondef(p.oid) FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN (%s, %s) "
                    "AND p.proname IN ('ledger_balances_apply', 'ledger_entry_check_balanced', "
                    "'ledger_payment_post', 'ledger_chain_fingerprint')", [alpha.schema, beta.schema])
    assert len(rows) == 8
    for schema, name, source in rows:
        other = beta.schema if schema == alpha.schema else alpha.schema
        assert f"{schema}.ledger_" in source and f"{other}." not in source and "tenant_template" not in source, name
