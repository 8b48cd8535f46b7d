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
-- Postings may only be added to an entry created in the same transaction and not yet checked (a
-- transaction-local list of open entries), so the one deferred check per entry, run at COMMIT, sees all of
-- its postings; after the check the entry is closed.
CREATE FUNCTION ledger_entry_open() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('ledger.open_entries',
                       coalesce(nullif(current_setting('ledger.open_entries', true), ''), ',') || NEW.id || ',', true);
    RETURN NEW;
END $$;
-- BEFORE: postings inserted by the same statement (a data-modifying CTE) must already see it open.
CREATE TRIGGER ledger_entry_open BEFORE INSERT ON ledger_journalentry
    FOR EACH ROW EXECUTE FUNCTION ledger_entry_open();

CREATE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SELECT %I.ledger_entry_assert_balanced($1, $2)', TG_TABLE_SCHEMA) USING TG_TABLE_SCHEMA, NEW.id;
    PERFORM set_config('ledger.open_entries',
                       replace(current_setting('ledger.open_entries', true), ',' || NEW.id || ',', ','), true);
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_journalentry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

-- A posting goes into an open entry, in its account's currency.
CREATE FUNCTION ledger_posting_admit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF position(',' || NEW.entry_id || ',' IN coalesce(current_setting('ledger.open_entries', true), '')) = 0 THEN
        RAISE EXCEPTION 'ledger: journal entry % is closed; postings are only added with their entry',
            NEW.entry_id USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.currency IS DISTINCT FROM (SELECT currency FROM ledger_account WHERE id = NEW.account_id) THEN
        RAISE EXCEPTION 'ledger: posting currency % differs from its account''s', NEW.currency
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_posting_admit BEFORE INSERT ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_admit();

-- Maintained balances, written by the same statement that inserts the postings, so Σ slots of an account is
-- always Σ of its postings. Slot rows are upserted in account-id order (no deadlock between payments);
-- a wallet uses slot 0 only and the CHECK wallet_never_negative refuses any posting taking it below zero.
CREATE FUNCTION ledger_balances_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    d record;
    updated bigint;
BEGIN
    FOR d IN EXECUTE format(
        'SELECT n.account_id, a.kind = ''wallet'' AS is_wallet, '
        '       CASE WHEN a.kind = ''wallet'' THEN 0 ELSE pg_backend_pid() %% 64 END AS slot, '
        '       sum(n.debit - n.credit) AS delta '
        'FROM new_postings n JOIN %I.ledger_account a ON a.id = n.account_id '
        'GROUP BY n.account_id, a.kind ORDER BY n.account_id', TG_TABLE_SCHEMA)
    LOOP
        -- UPDATE first: an INSERT .. ON CONFLICT would check the CHECK on the delta row alone.
        EXECUTE format('UPDATE %I.ledger_accountbalance SET balance = balance + $1 '
                       'WHERE account_id = $2 AND slot = $3', TG_TABLE_SCHEMA)
            USING d.delta, d.account_id, d.slot;
        GET DIAGNOSTICS updated = ROW_COUNT;  -- (EXECUTE does not set FOUND)
        IF updated = 0 THEN
            EXECUTE format('INSERT INTO %I.ledger_accountbalance AS b (account_id, slot, is_wallet, balance) '
                           'VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, slot) '
                           'DO UPDATE SET balance = b.balance + EXCLUDED.balance', TG_TABLE_SCHEMA)
                USING d.account_id, d.slot, d.is_wallet, d.delta;
        END IF;
    END LOOP;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_balances_apply AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_balances_apply();

-- Nobody else writes a balance slot (only the trigger above, one level down).
CREATE FUNCTION ledger_balance_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'ledger: balances are not edited directly; they follow the postings'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER ledger_balance_guard BEFORE INSERT OR UPDATE OR DELETE ON ledger_accountbalance
    FOR EACH ROW EXECUTE FUNCTION ledger_balance_guard();

-- Accounts are never deleted and never change what they are.
CREATE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'ledger: accounts are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.currency <> OLD.currency OR NEW.kind <> OLD.kind OR NEW.code <> OLD.code THEN
        RAISE EXCEPTION 'ledger: an account''s kind, code and currency are not edited'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_guard BEFORE UPDATE OR DELETE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_guard();
"""

BACKWARD = r"""
DROP TRIGGER ledger_account_guard ON ledger_account;
DROP TRIGGER ledger_balance_guard ON ledger_accountbalance;
DROP TRIGGER ledger_balances_apply ON ledger_posting;
DROP TRIGGER ledger_posting_admit ON ledger_posting;
DROP TRIGGER ledger_entry_balanced ON ledger_journalentry;
DROP TRIGGER ledger_entry_open ON ledger_journalentry;
DROP TRIGGER ledger_topup_append_only ON ledger_wallettopup;
DROP TRIGGER ledger_settlement_append_only ON ledger_settlement;
DROP TRIGGER ledger_payment_append_only ON ledger_payment;
DROP TRIGGER ledger_entry_append_only ON ledger_journalentry;
DROP TRIGGER ledger_posting_append_only ON ledger_posting;
DROP FUNCTION ledger_account_guard(); DROP FUNCTION ledger_balance_guard(); DROP FUNCTION ledger_balances_apply();
DROP FUNCTION ledger_posting_admit(); DROP FUNCTION ledger_entry_check_balanced(); DROP FUNCTION ledger_entry_open();
DROP FUNCTION ledger_entry_assert_balanced(text, bigint); DROP FUNCTION ledger_refuse_change();
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_chart_journal_payments")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
