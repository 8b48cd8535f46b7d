"""The posting path with plans PostgreSQL can cache (bench/ledger.py: 646 → see README, Ledger).

Migration 0002 built every statement of its triggers with ``EXECUTE format('… %I.ledger_posting …',
TG_TABLE_SCHEMA)`` because deferred triggers fire at COMMIT, when the connection's search_path may point at
another ISP. Dynamic SQL is parsed and planned on every call (eight statements per payment). Here each
schema gets its own copy of the functions with the schema's name written into static SQL, so PL/pgSQL keeps
one plan per statement per connection and the search_path never matters:

- the functions are created by ``CREATE FUNCTION <schema>.f … <schema>.ledger_posting`` for the schema being
  migrated (``current_schema()``); ``clone_schema`` copies them to a new ISP rewriting ``<template>.`` into
  ``<new schema>.`` (it does so for every function), and each function refuses to run for a table of
  another schema, so a clone that failed to rewrite cannot write into the template's books;
- postings have no foreign-key constraints (their RI checks took KEY SHARE locks on the busiest account
  rows, which concurrent payments turn into multixacts): the statement trigger checks that their entries
  and accounts exist (neither is ever deleted; TRUNCATE is refused now too);
- the per-row currency check of ``ledger_posting_admit`` (a subquery per posting) moves into the statement
  trigger, which already joins the new postings with their accounts: one join for all rows, same guarantee;
- the deferred balance check reads the entry's postings once (per currency: sum of debits, credits, count);
- ``ledger_chain_fingerprint`` describes the price/commission data a payment's split depends on, and
  ``ledger_payment_post`` inserts the entry, the payment (claiming the idempotency key) and its postings in
  one call after checking the caller's split was computed from that same data (else it answers ``stale``
  and inserts nothing), so the service caches chains safely without a query per payment.

Cached plans outlive the table sizes they were made for: a plan made while a new ISP's tables held a page
(a hash join over a sequential scan of the entries, say) would be kept while they grow to millions of rows
until the next autoanalyze. These functions only ever look rows up by key, so they run with
``enable_seqscan = off`` and their plans use the indexes whatever the size they were planned at.

Every invariant stays where it was: the triggers fire for any INSERT, from these functions or raw SQL.
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
DO $migration$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION @S.ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $f$
DECLARE
    r record;
    legs bigint := 0;
BEGIN
    IF TG_TABLE_SCHEMA || '.' <> '@S.' THEN  -- (with the dot, so clone_schema rewrites it too)
        RAISE EXCEPTION 'ledger: the trigger function of @S. fired for %', TG_TABLE_SCHEMA;
    END IF;
    FOR r IN SELECT currency, count(*) AS n, sum(debit) AS d, sum(credit) AS c
             FROM @S.ledger_posting WHERE entry_id = NEW.id GROUP BY currency
    LOOP
        IF r.d <> r.c THEN
            RAISE EXCEPTION 'ledger: journal entry % does not balance in % (debits %, credits %)',
                NEW.id, r.currency, r.d, r.c USING ERRCODE = 'check_violation';
        END IF;
        legs := legs + r.n;
    END LOOP;
    IF legs < 2 THEN
        RAISE EXCEPTION 'ledger: journal entry % has fewer than two postings', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('ledger.open_entries',
                       replace(current_setting('ledger.open_entries', true), ',' || NEW.id || ',', ','), true);
    RETURN NULL;
END $f$;

CREATE OR REPLACE FUNCTION @S.ledger_posting_admit() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF position(',' || NEW.entry_id || ',' IN coalesce(current_setting('ledger.open_entries', true), '')) = 0 THEN
        RAISE EXCEPTION 'ledger: journal entry % is closed; postings are only added with their entry',
            NEW.entry_id USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $f$;

CREATE OR REPLACE FUNCTION @S.ledger_balances_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $f$
DECLARE
    d record;
    joined bigint := 0;
BEGIN
    IF TG_TABLE_SCHEMA || '.' <> '@S.' THEN  -- (with the dot, so clone_schema rewrites it too)
        RAISE EXCEPTION 'ledger: the trigger function of @S. fired for %', TG_TABLE_SCHEMA;
    END IF;
    -- Referential integrity of postings without foreign keys (no KEY SHARE locks on busy account rows):
    -- entries and accounts are never deleted, so existence now is existence for good.
    IF EXISTS (SELECT 1 FROM (SELECT DISTINCT n.entry_id FROM new_postings n) n
               WHERE NOT EXISTS (SELECT 1 FROM @S.ledger_journalentry e WHERE e.id = n.entry_id)) THEN
        RAISE EXCEPTION 'ledger: a posting refers to no journal entry' USING ERRCODE = 'foreign_key_violation';
    END IF;
    FOR d IN SELECT n.account_id, a.kind = 'wallet' AS is_wallet,
                    CASE WHEN a.kind = 'wallet' THEN 0 ELSE pg_backend_pid() % 64 END AS slot,
                    sum(n.debit - n.credit) AS delta, bool_and(n.currency = a.currency) AS same_currency,
                    count(*) AS n
             FROM new_postings n JOIN @S.ledger_account a ON a.id = n.account_id
             GROUP BY n.account_id, a.kind ORDER BY n.account_id
    LOOP
        IF NOT d.same_currency THEN
            RAISE EXCEPTION 'ledger: a posting''s currency differs from its account''s (account %)', d.account_id
                USING ERRCODE = 'check_violation';
        END IF;
        joined := joined + d.n;
        -- UPDATE first: an INSERT .. ON CONFLICT would check the CHECK on the delta row alone.
        UPDATE @S.ledger_accountbalance SET balance = balance + d.delta
            WHERE account_id = d.account_id AND slot = d.slot;
        IF NOT FOUND THEN
            INSERT INTO @S.ledger_accountbalance AS b (account_id, slot, is_wallet, balance)
                VALUES (d.account_id, d.slot, d.is_wallet, d.delta)
                ON CONFLICT (account_id, slot) DO UPDATE SET balance = b.balance + EXCLUDED.balance;
        END IF;
    END LOOP;
    IF joined <> (SELECT count(*) FROM new_postings) THEN
        RAISE EXCEPTION 'ledger: a posting refers to no account' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $f$;

-- What a payment's split is computed from: the owner's chain (current path) with each node's share,
-- price and commission mode for the package, and the master price.
CREATE OR REPLACE FUNCTION @S.ledger_chain_fingerprint(p_owner bigint, p_package bigint) RETURNS text
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $f$
DECLARE
    fingerprint text;
BEGIN
    SELECT string_agg(concat_ws(':', o.id, o.depth, o.share_percent, coalesce(a.price::text, '-'),
                                coalesce(a.commission_mode, '-')), '/' ORDER BY o.depth)
           || '|' || (SELECT p.price FROM @S.hierarchy_package p WHERE p.id = p_package)
      INTO fingerprint
      FROM @S.hierarchy_operator o
      LEFT JOIN @S.hierarchy_packageassignment a ON a.operator_id = o.id AND a.package_id = p_package
     WHERE o.id = ANY((SELECT string_to_array(trim(BOTH '/' FROM w.path), '/')::bigint[]
                         FROM @S.hierarchy_operator w WHERE w.id = p_owner)::bigint[]);
    RETURN fingerprint;
END $f$;

-- A customer payment in one call: entry, payment (claims the idempotency key), postings.
-- outcome: 'posted'; 'stale' (the split was computed from other prices/shares: nothing inserted);
-- 'replay' (the key is taken: the caller rolls the transaction back).
CREATE OR REPLACE FUNCTION @S.ledger_payment_post(
    p_fingerprint text, p_owner bigint, p_package bigint, p_actor bigint, p_reason text, p_reference text,
    p_customer bigint, p_amount bigint, p_currency text, p_method text, p_collector bigint, p_key text,
    p_hash text, p_accounts bigint[], p_debits bigint[], p_credits bigint[],
    OUT payment_id bigint, OUT entry_id bigint, OUT created timestamptz, OUT outcome text)
LANGUAGE plpgsql SET enable_seqscan = off AS $f$
BEGIN
    IF p_fingerprint IS DISTINCT FROM @S.ledger_chain_fingerprint(p_owner, p_package) THEN
        outcome := 'stale';
        RETURN;
    END IF;
    INSERT INTO @S.ledger_journalentry (kind, created, actor_id, reason, external_reference, customer_id, node_id,
                                        package_id)
        VALUES ('payment', now(), p_actor, p_reason, p_reference, p_customer, p_owner, p_package)
        RETURNING id INTO entry_id;
    INSERT INTO @S.ledger_payment AS x (customer_id, amount, currency, method, collector_id, idempotency_key,
                                        payload_hash, entry_id, created)
        VALUES (p_customer, p_amount, p_currency, p_method, p_collector, p_key, p_hash, entry_id, now())
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING x.id, x.created INTO payment_id, created;
    IF payment_id IS NULL THEN
        outcome := 'replay';
        RETURN;
    END IF;
    INSERT INTO @S.ledger_posting (entry_id, account_id, currency, debit, credit)
        SELECT ledger_payment_post.entry_id, u.account_id, p_currency, u.debit, u.credit
          FROM unnest(p_accounts, p_debits, p_credits) AS u (account_id, debit, credit);
    outcome := 'posted';
END $f$;
$sql$, '@S', s);
END $migration$;

-- Append-only also against TRUNCATE (which fires no row trigger).
CREATE TRIGGER ledger_posting_no_truncate BEFORE TRUNCATE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_journalentry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_payment_no_truncate BEFORE TRUNCATE ON ledger_payment
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_settlement_no_truncate BEFORE TRUNCATE ON ledger_settlement
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_topup_no_truncate BEFORE TRUNCATE ON ledger_wallettopup
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_no_truncate BEFORE TRUNCATE ON ledger_account
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_balance_no_truncate BEFORE TRUNCATE ON ledger_accountbalance
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
"""

# Backwards only the new functions go: the rewritten trigger functions are valid for 0003's tables too.
BACKWARD = r"""
DROP TRIGGER ledger_posting_no_truncate ON ledger_posting;
DROP TRIGGER ledger_entry_no_truncate ON ledger_journalentry;
DROP TRIGGER ledger_payment_no_truncate ON ledger_payment;
DROP TRIGGER ledger_settlement_no_truncate ON ledger_settlement;
DROP TRIGGER ledger_topup_no_truncate ON ledger_wallettopup;
DROP TRIGGER ledger_account_no_truncate ON ledger_account;
DROP TRIGGER ledger_balance_no_truncate ON ledger_accountbalance;
DROP FUNCTION ledger_payment_post(text, bigint, bigint, bigint, text, text, bigint, bigint, text, text, bigint,
                                  text, text, bigint[], bigint[], bigint[]);
DROP FUNCTION ledger_chain_fingerprint(bigint, bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_voucher_accounts")]
    operations = [
        # Postings lose their foreign-key constraints (the statement trigger below checks both references) and
        # the account_id index (posting_account_entry covers it); the payment's idempotency key its LIKE index.
        migrations.AlterField(
            model_name="payment", name="idempotency_key", field=models.CharField(max_length=200),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(fields=("idempotency_key",), name="payment_idempotency_key_unique"),
        ),
        migrations.AlterField(
            model_name="posting", name="account",
            field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="postings", to="ledger.account"),
        ),
        migrations.AlterField(
            model_name="posting", name="entry",
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="postings", to="ledger.journalentry"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
