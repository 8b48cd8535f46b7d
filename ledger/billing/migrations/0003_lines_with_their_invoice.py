"""Invoice lines may also be written in the transaction that inserts their invoice, just before it (the
foreign key is checked at COMMIT), so the set-based run inserts invoices already issued instead of
inserting drafts and updating them. Once the invoice exists and is not a draft, its lines are immutable."""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    state text;
BEGIN
    SELECT status INTO state FROM billing_invoice
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    -- No invoice row yet: only an INSERT in the invoice's own transaction (the deferred foreign key
    -- refuses the COMMIT otherwise).
    IF state IS NULL AND TG_OP = 'INSERT' THEN
        RETURN NEW;
    END IF;
    IF state IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'billing: the lines of an issued invoice are immutable' USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.invoice_id <> OLD.invoice_id THEN
        RAISE EXCEPTION 'billing: a line stays on its invoice' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""

BACKWARD = r"""
CREATE OR REPLACE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    state text;
BEGIN
    SELECT status INTO state FROM billing_invoice
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
    IF state IS DISTINCT FROM 'draft' THEN
        RAISE EXCEPTION 'billing: the lines of an issued invoice are immutable' USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.invoice_id <> OLD.invoice_id THEN
        RAISE EXCEPTION 'billing: a line stays on its invoice' USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_billing_invariants_in_postgres")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
