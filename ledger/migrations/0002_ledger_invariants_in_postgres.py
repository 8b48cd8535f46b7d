"""The ledger invariants, enforced by PostgreSQL itself (see ARCHITECTURE.md, Ledger 1-4, 7)."""

from django.db import migrations

FORWARD = r"""
-- 3. Append-only: postings, entries and the money records that point at them are never changed.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is refused; post a reversing entry instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_append_only BEFORE UPDATE OR DELETE ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_payment_append_only BEFORE UPDATE OR DELETE ON ledger_payment
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_settlement_append_only BEFORE UPDATE OR DELETE ON ledger_settlement
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_topup_append_only BEFORE UPDATE OR DELETE ON ledger_wallettopup
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();

-- 1. Every entry balances per currency at commit, and has at least two postings.
-- Names are qualified with TG_TABLE_SCHEMA: deferred triggers fire at COMMIT, when the connection's
-- search_path may already point at another schema.
CREATE FUNCTION ledger_entry_assert_balanced(schema_name text, entry bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    legs bigint;
BEGIN
    EXECUTE format('SELECT currency, sum(debit) AS d, sum(credit) AS c FROM %I.ledger_posting '
                   'WHERE entry_id = $1 GROUP BY currency HAVING sum(debit) <> sum(credit) LIMIT 1', schema_name)
        INTO bad USING entry;
    IF bad.currency IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: journal entry % does not balance in % (debits %, credits %)',
            entry, bad.currency, bad.d, bad.c USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('SELECT count(*) FROM %I.ledger_posting WHERE entry_id = $1', schema_name) INTO legs USING entry;
    IF legs < 2 THEN
        RAISE EXCEPTION 'ledger: journal entry % has fewer than two postings', entry
            USING ERRCODE = 'check_violation';
    END IF;
END $$;
CREATE FUNCTION ledger_posting_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %I.ledger_entry_assert_balanced($1, $2)', TG_TABLE_SCHEMA) USING TG_TABLE_SCHEMA, NEW.entry_id;
    RETURN NULL;
END $$;
CREATE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %I.ledger_entry_assert_balanced($1, $2)', TG_TABLE_SCHEMA) USING TG_TABLE_SCHEMA, NEW.id;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_posting_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

-- A posting's currency is its account's currency.
CREATE FUNCTION ledger_posting_currency() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.currency IS DISTINCT FROM (SELECT currency FROM ledger_account WHERE id = NEW.account_id) THEN
        RAISE EXCEPTION 'ledger: posting currency % differs from its account''s', NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_posting_currency BEFORE INSERT ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_currency();

-- Maintained balances: updated by the same statement that inserts the postings, so a balance is always
-- the sum of its postings. Services lock the accounts in id order first (no deadlocks); the wallet CHECK
-- on ledger_account refuses anything that would take a prepaid wallet below zero.
CREATE FUNCTION ledger_balances_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('UPDATE %I.ledger_account a SET balance = a.balance + s.delta FROM (SELECT account_id, '
                   'sum(debit - credit) AS delta FROM new_postings GROUP BY account_id) s WHERE a.id = s.account_id',
                   TG_TABLE_SCHEMA);
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_balances_apply AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_balances_apply();

-- Nobody else writes a balance (only the trigger above, one level down), and accounts are never deleted.
CREATE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger: accounts are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.balance <> OLD.balance AND pg_trigger_depth() < 2) OR NEW.currency <> OLD.currency
       OR NEW.kind <> OLD.kind OR NEW.code <> OLD.code THEN
        RAISE EXCEPTION 'ledger: an account''s balance, kind, code and currency are not edited directly'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER ledger_account_guard BEFORE UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();
"""

BACKWARD = r"""
DROP TRIGGER ledger_account_guard ON ledger_account;
DROP TRIGGER ledger_balances_apply ON ledger_posting;
DROP TRIGGER ledger_posting_currency ON ledger_posting;
DROP TRIGGER ledger_entry_balanced ON ledger_journalentry;
DROP TRIGGER ledger_posting_balanced ON ledger_posting;
DROP TRIGGER ledger_topup_append_only ON ledger_wallettopup;
DROP TRIGGER ledger_settlement_append_only ON ledger_settlement;
DROP TRIGGER ledger_payment_append_only ON ledger_payment;
DROP TRIGGER ledger_entry_append_only ON ledger_journalentry;
DROP TRIGGER ledger_posting_append_only ON ledger_posting;
DROP FUNCTION ledger_account_guard(); DROP FUNCTION ledger_balances_apply(); DROP FUNCTION ledger_posting_currency();
DROP FUNCTION ledger_entry_check_balanced(); DROP FUNCTION ledger_posting_check_balanced();
DROP FUNCTION ledger_entry_assert_balanced(text, bigint); DROP FUNCTION ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_chart_journal_payments")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
