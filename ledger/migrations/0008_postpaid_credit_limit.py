"""A postpaid node's credit limit, enforced by PostgreSQL like the prepaid wallet floor (invariant 7).

What a postpaid node owes the ISP is the balance of its ``node_receivable:<id>`` account (debits: the cost of
what it activates, recharges and sells; credits: what it settles). Its parent sets how much it may owe:
``hierarchy_operator.credit_limit`` (default 0: no credit at all). The check is a CHECK on the maintained
balance row, never a read-then-write in Python:

- the receivable's balance lives in the single slot 0 (like a wallet's), so one row holds all of it and
  concurrent postings queue on that row's lock;
- that row carries ``ceiling``: the node's credit limit in minor units. The posting trigger fills it when it
  creates the row (reading the operator's limit FOR SHARE, so a limit being changed waits for it), and the
  trigger ``ledger_credit_limit`` on ``hierarchy_operator`` copies every change of the limit onto it;
- CHECK ``node_receivable_within_credit`` (``ceiling IS NULL OR (slot = 0 AND balance <= ceiling)``) refuses
  the posting statement that would make the node owe more than its limit: the whole transaction (entry,
  renewal, card) rolls back. Just before, the trigger raises the same refusal (same constraint name) with
  the node's name and the amounts, which ``money_atomic`` passes on as ``CreditLimitExceeded``. Lowering a limit below what the node owes now is refused too (the parent first
  collects the dues, or suspends the node).

Existing books stay valid: nodes that owe more than their (new, zero) limit get a limit equal to what they
owe, and their receivable's balance slots are folded into slot 0.
"""

from django.db import migrations, models

BALANCES_APPLY = r"""
DO $migration$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION @S.ledger_balances_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $f$
DECLARE
    d record;
    joined bigint := 0;
    limit_minor bigint;
    owed bigint;
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
    FOR d IN SELECT n.account_id, a.kind, a.owner_id, a.kind = 'wallet' AS is_wallet,
                    CASE WHEN a.kind @SINGLE THEN 0 ELSE pg_backend_pid() % 64 END AS slot,
                    sum(n.debit - n.credit) AS delta, bool_and(n.currency = a.currency) AS same_currency,
                    count(*) AS n
             FROM new_postings n JOIN @S.ledger_account a ON a.id = n.account_id
             GROUP BY n.account_id, a.kind, a.owner_id ORDER BY n.account_id
    LOOP
        IF NOT d.same_currency THEN
            RAISE EXCEPTION 'ledger: a posting''s currency differs from its account''s (account %)', d.account_id
                USING ERRCODE = 'check_violation';
        END IF;
        joined := joined + d.n;
        @EXPLAIN
        -- UPDATE first: an INSERT .. ON CONFLICT would check the CHECK on the delta row alone.
        UPDATE @S.ledger_accountbalance SET balance = balance + d.delta
            WHERE account_id = d.account_id AND slot = d.slot;
        IF NOT FOUND THEN
            limit_minor := NULL;
            @CEILING
            INSERT INTO @S.ledger_accountbalance AS b (account_id, slot, is_wallet, balance, ceiling)
                VALUES (d.account_id, d.slot, d.is_wallet, d.delta, limit_minor)
                ON CONFLICT (account_id, slot) DO UPDATE SET balance = b.balance + EXCLUDED.balance;
        END IF;
    END LOOP;
    IF joined <> (SELECT count(*) FROM new_postings) THEN
        RAISE EXCEPTION 'ledger: a posting refers to no account' USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $f$;
$sql$, '@S', s);
END $migration$;
"""

# Before the CHECK refuses a postpaid node's posting, say who and how much (the CHECK stays the guarantee:
# this read takes no lock, so under a race the CHECK's own message is what the caller gets).
EXPLAIN = """IF d.kind = 'node_receivable' AND d.delta > 0 THEN
            SELECT b.balance, b.ceiling INTO owed, limit_minor FROM @S.ledger_accountbalance b
             WHERE b.account_id = d.account_id AND b.slot = 0;
            IF NOT FOUND THEN
                owed := 0;
                SELECT round(o.credit_limit * 100)::bigint INTO limit_minor FROM @S.hierarchy_operator o
                 WHERE o.id = d.owner_id;
            END IF;
            IF owed + d.delta > limit_minor THEN
                RAISE EXCEPTION '% may owe at most %; this would make it owe %; nothing was changed.',
                    (SELECT o.name FROM @S.hierarchy_operator o WHERE o.id = d.owner_id),
                    round(limit_minor::numeric / 100, 2), round((owed + d.delta)::numeric / 100, 2)
                    USING ERRCODE = 'check_violation', CONSTRAINT = 'node_receivable_within_credit';
            END IF;
        END IF;"""

# A new receivable row starts with its node's limit; FOR SHARE makes a concurrent change of the limit wait
# for this transaction (its trigger then sees the row and keeps it current).
CEILING = """IF d.kind = 'node_receivable' THEN
                SELECT round(o.credit_limit * 100)::bigint INTO limit_minor
                  FROM @S.hierarchy_operator o WHERE o.id = d.owner_id FOR SHARE;
            END IF;"""

FORWARD = r"""
-- Foreign-key checks now, not at COMMIT: ALTER TABLE refuses a table with pending trigger events.
SET CONSTRAINTS ALL IMMEDIATE;
-- 1. Nobody may owe more than its limit once the CHECK exists: raise the limit of nodes that owe more.
UPDATE hierarchy_operator o SET credit_limit = owed.total::numeric / 100
  FROM (SELECT a.owner_id, sum(b.balance) AS total FROM ledger_account a
          JOIN ledger_accountbalance b ON b.account_id = a.id
         WHERE a.kind = 'node_receivable' GROUP BY a.owner_id) owed
 WHERE owed.owner_id = o.id AND owed.total > round(o.credit_limit * 100);

-- 2. Fold each receivable's balance slots into slot 0 and give it its ceiling (the balance guard allows
--    only the posting trigger to write balances; it is off for these two statements).
ALTER TABLE ledger_accountbalance DISABLE TRIGGER ledger_balance_guard;
WITH folded AS (
    DELETE FROM ledger_accountbalance b USING ledger_account a
     WHERE a.id = b.account_id AND a.kind = 'node_receivable'
    RETURNING b.account_id, b.balance
)
INSERT INTO ledger_accountbalance (account_id, slot, is_wallet, balance, ceiling)
SELECT f.account_id, 0, false, sum(f.balance), round(o.credit_limit * 100)::bigint
  FROM folded f JOIN ledger_account a ON a.id = f.account_id JOIN hierarchy_operator o ON o.id = a.owner_id
 GROUP BY f.account_id, o.credit_limit;
ALTER TABLE ledger_accountbalance ENABLE TRIGGER ledger_balance_guard;
SET CONSTRAINTS ALL DEFERRED;
"""

LIMIT_TRIGGER = r"""
DO $migration$
DECLARE
    s text := quote_ident(current_schema());
BEGIN
EXECUTE replace($sql$
CREATE OR REPLACE FUNCTION @S.ledger_credit_limit_apply() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE
    new_ceiling bigint := round(NEW.credit_limit * 100)::bigint;
    owed bigint;
BEGIN
    IF TG_TABLE_SCHEMA || '.' <> '@S.' THEN
        RAISE EXCEPTION 'ledger: the trigger function of @S. fired for %', TG_TABLE_SCHEMA;
    END IF;
    SELECT b.balance INTO owed FROM @S.ledger_accountbalance b
      JOIN @S.ledger_account a ON a.id = b.account_id
     WHERE a.code = 'node_receivable:' || NEW.id AND b.slot = 0 FOR UPDATE OF b;
    IF owed IS NULL THEN
        RETURN NULL;  -- the node never owed anything: its row takes the limit when it is created
    END IF;
    IF owed > new_ceiling THEN
        RAISE EXCEPTION 'ledger: % owes %, more than a credit limit of %; collect its dues first',
            NEW.name, round(owed::numeric / 100, 2), NEW.credit_limit
            USING ERRCODE = 'check_violation', CONSTRAINT = 'node_receivable_within_credit';
    END IF;
    UPDATE @S.ledger_accountbalance b SET ceiling = new_ceiling
      FROM @S.ledger_account a WHERE a.id = b.account_id AND a.code = 'node_receivable:' || NEW.id AND b.slot = 0;
    RETURN NULL;
END $f$;
$sql$, '@S', s);
END $migration$;
CREATE TRIGGER ledger_credit_limit AFTER UPDATE OF credit_limit ON hierarchy_operator
    FOR EACH ROW WHEN (NEW.credit_limit IS DISTINCT FROM OLD.credit_limit)
    EXECUTE FUNCTION ledger_credit_limit_apply();
"""

BACKWARD = r"""
DROP TRIGGER ledger_credit_limit ON hierarchy_operator;
DROP FUNCTION ledger_credit_limit_apply();
"""


def _balances_apply(*, credit: bool) -> str:
    single = "IN ('wallet', 'node_receivable')" if credit else "= 'wallet'"
    sql = (BALANCES_APPLY.replace("@SINGLE", single).replace("@CEILING", CEILING if credit else "")
           .replace("@EXPLAIN", EXPLAIN if credit else ""))
    return sql if credit else sql.replace(", ceiling)", ")").replace(", limit_minor)", ")")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_entry_attachment"),
        ("hierarchy", "0004_operator_credit_limit_network_grant"),
    ]

    operations = [
        migrations.AddField(
            model_name="accountbalance", name="ceiling", field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunSQL(FORWARD, migrations.RunSQL.noop),
        migrations.RunSQL(_balances_apply(credit=True), _balances_apply(credit=False)),
        migrations.RunSQL(LIMIT_TRIGGER, BACKWARD),
        migrations.AddConstraint(
            model_name="accountbalance",
            constraint=models.CheckConstraint(
                condition=models.Q(("ceiling__isnull", True), models.Q(("balance__lte", models.F("ceiling")), ("slot", 0)),
                                   _connector="OR"),
                name="node_receivable_within_credit",
            ),
        ),
    ]
