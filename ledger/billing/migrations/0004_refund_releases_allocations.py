"""A refund (chargeback) of a payment releases its allocations to invoices.

A release is an append-only row with the opposite amount of the allocation it ``releases`` (UNIQUE: once),
on the same invoice and payment; sums of allocation amounts are net. The allocation trigger now:
- admits a release only of a payment allocation (not itself a release) of a payment whose journal entry
  was reversed, and moves the invoice back to partially paid or open;
- refuses a new allocation from a reversed payment (its remainder is no credit any more).
"""

import django.db.models.deletion
from django.db import migrations, models

FORWARD = r"""
CREATE OR REPLACE FUNCTION billing_allocation_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source_amount bigint;
    used bigint;
    state text;
    released record;
BEGIN
    IF NEW.releases_id IS NOT NULL THEN
        SELECT invoice_id, payment_id, credit_note_id, amount, releases_id INTO released
          FROM billing_paymentallocation WHERE id = NEW.releases_id;
        IF released.payment_id IS NULL OR released.releases_id IS NOT NULL
           OR (NEW.invoice_id, NEW.payment_id, -NEW.amount)
              IS DISTINCT FROM (released.invoice_id, released.payment_id, released.amount) THEN
            RAISE EXCEPTION 'billing: a release mirrors one payment allocation (same invoice and payment, opposite amount)'
                USING ERRCODE = 'check_violation';
        END IF;
        PERFORM 1 FROM ledger_payment WHERE id = NEW.payment_id FOR UPDATE;
        -- (The UNIQUE releases_id is the guarantee; this says it plainly before the invoice's CHECK would.)
        IF EXISTS (SELECT 1 FROM billing_paymentallocation WHERE releases_id = NEW.releases_id) THEN
            RAISE EXCEPTION 'billing: allocation % is already released', NEW.releases_id
                USING ERRCODE = 'unique_violation';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM ledger_payment p JOIN ledger_journalentry r ON r.reversal_of_id = p.entry_id
                        WHERE p.id = NEW.payment_id) THEN
            RAISE EXCEPTION 'billing: only the allocations of a refunded payment are released'
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT status INTO state FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
        IF state NOT IN ('partially_paid', 'paid') THEN
            RAISE EXCEPTION 'billing: invoice % is %, nothing to release', NEW.invoice_id, state
                USING ERRCODE = 'check_violation';
        END IF;
    ELSE
        IF NEW.payment_id IS NOT NULL THEN
            SELECT amount INTO source_amount FROM ledger_payment WHERE id = NEW.payment_id FOR UPDATE;
            IF EXISTS (SELECT 1 FROM ledger_payment p JOIN ledger_journalentry r ON r.reversal_of_id = p.entry_id
                        WHERE p.id = NEW.payment_id) THEN
                RAISE EXCEPTION 'billing: payment % was refunded, nothing of it can be allocated', NEW.payment_id
                    USING ERRCODE = 'check_violation';
            END IF;
            SELECT coalesce(sum(amount), 0) INTO used FROM billing_paymentallocation WHERE payment_id = NEW.payment_id;
        ELSE
            SELECT total INTO source_amount FROM billing_creditnote WHERE id = NEW.credit_note_id FOR UPDATE;
            SELECT coalesce(sum(amount), 0) INTO used FROM billing_paymentallocation WHERE credit_note_id = NEW.credit_note_id;
        END IF;
        IF used + NEW.amount > source_amount THEN
            RAISE EXCEPTION 'billing: allocations (% + %) exceed the source''s amount %', used, NEW.amount, source_amount
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT status INTO state FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
        IF state NOT IN ('open', 'partially_paid') THEN
            RAISE EXCEPTION 'billing: invoice % is %, nothing can be allocated to it', NEW.invoice_id, state
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    UPDATE billing_invoice SET
        amount_paid = amount_paid + CASE WHEN NEW.payment_id IS NOT NULL THEN NEW.amount ELSE 0 END,
        amount_credited = amount_credited + CASE WHEN NEW.credit_note_id IS NOT NULL THEN NEW.amount ELSE 0 END
     WHERE id = NEW.invoice_id;
    UPDATE billing_invoice SET status = CASE WHEN amount_paid + amount_credited >= total THEN 'paid'
                                             WHEN amount_paid + amount_credited = 0 THEN 'open'
                                             ELSE 'partially_paid' END
     WHERE id = NEW.invoice_id;
    RETURN NEW;
END $$;
"""

BACKWARD = r"""
CREATE OR REPLACE FUNCTION billing_allocation_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    source_amount bigint;
    used bigint;
    state text;
BEGIN
    IF NEW.payment_id IS NOT NULL THEN
        SELECT amount INTO source_amount FROM ledger_payment WHERE id = NEW.payment_id FOR UPDATE;
        SELECT coalesce(sum(amount), 0) INTO used FROM billing_paymentallocation WHERE payment_id = NEW.payment_id;
    ELSE
        SELECT total INTO source_amount FROM billing_creditnote WHERE id = NEW.credit_note_id FOR UPDATE;
        SELECT coalesce(sum(amount), 0) INTO used FROM billing_paymentallocation WHERE credit_note_id = NEW.credit_note_id;
    END IF;
    IF used + NEW.amount > source_amount THEN
        RAISE EXCEPTION 'billing: allocations (% + %) exceed the source''s amount %', used, NEW.amount, source_amount
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT status INTO state FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
    IF state NOT IN ('open', 'partially_paid') THEN
        RAISE EXCEPTION 'billing: invoice % is %, nothing can be allocated to it', NEW.invoice_id, state
            USING ERRCODE = 'check_violation';
    END IF;
    UPDATE billing_invoice SET
        amount_paid = amount_paid + CASE WHEN NEW.payment_id IS NOT NULL THEN NEW.amount ELSE 0 END,
        amount_credited = amount_credited + CASE WHEN NEW.credit_note_id IS NOT NULL THEN NEW.amount ELSE 0 END
     WHERE id = NEW.invoice_id;
    UPDATE billing_invoice SET status = CASE WHEN amount_paid + amount_credited >= total THEN 'paid'
                                             ELSE 'partially_paid' END
     WHERE id = NEW.invoice_id;
    RETURN NEW;
END $$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ("billing", "0003_lines_with_their_invoice"),
        ("ledger", "0007_entry_attachment"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="paymentallocation",
            name="allocation_amount_positive",
        ),
        migrations.AddField(
            model_name="paymentallocation",
            name="releases",
            field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                       related_name="release", to="billing.paymentallocation"),
        ),
        migrations.AddConstraint(
            model_name="paymentallocation",
            constraint=models.CheckConstraint(
                condition=models.Q(models.Q(("amount__gt", 0), ("releases__isnull", True)),
                                   models.Q(("amount__lt", 0), ("payment__isnull", False),
                                            ("releases__isnull", False)), _connector="OR"),
                name="allocation_positive_or_release"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
