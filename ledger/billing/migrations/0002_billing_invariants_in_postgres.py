"""Billing invariants enforced by PostgreSQL (see ledger/billing/models.py)."""

from django.db import migrations

FORWARD = r"""
-- An issued invoice is immutable: only its status moves (open → void, or along paid/partially paid, which
-- only the allocation trigger below may set) and only that trigger writes the paid/credited amounts.
CREATE FUNCTION billing_invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'draft' THEN RETURN OLD; END IF;
        RAISE EXCEPTION 'billing: issued invoice % is never deleted; void it', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status NOT IN ('draft', 'open', 'void') AND NOT (NEW.status = 'paid' AND NEW.total = 0) THEN
            RAISE EXCEPTION 'billing: a draft invoice is issued (open) or voided' USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.amount_paid <> 0 OR NEW.amount_credited <> 0 THEN
            RAISE EXCEPTION 'billing: nothing is allocated to a draft' USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF (NEW.number, NEW.sequence, NEW.customer_id, NEW.owner_id, NEW.kind, NEW.period_start, NEW.period_end,
        NEW.issue_date, NEW.due_date, NEW.currency, NEW.subtotal, NEW.discount, NEW.tax, NEW.total, NEW.entry_id,
        NEW.created)
       IS DISTINCT FROM
       (OLD.number, OLD.sequence, OLD.customer_id, OLD.owner_id, OLD.kind, OLD.period_start, OLD.period_end,
        OLD.issue_date, OLD.due_date, OLD.currency, OLD.subtotal, OLD.discount, OLD.tax, OLD.total, OLD.entry_id,
        OLD.created) THEN
        RAISE EXCEPTION 'billing: issued invoice % is immutable; correct it with a credit note', OLD.number
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'void' THEN
        RAISE EXCEPTION 'billing: invoice % is void', OLD.number USING ERRCODE = 'restrict_violation';
    END IF;
    IF pg_trigger_depth() < 2 THEN
        -- A direct UPDATE may only void an invoice nothing was allocated to.
        IF NEW.amount_paid <> OLD.amount_paid OR NEW.amount_credited <> OLD.amount_credited THEN
            RAISE EXCEPTION 'billing: paid and credited amounts follow the allocations'
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF NEW.status <> OLD.status AND NOT (NEW.status = 'void' AND OLD.amount_paid = 0 AND OLD.amount_credited = 0) THEN
            RAISE EXCEPTION 'billing: invoice % cannot go from % to %', OLD.number, OLD.status, NEW.status
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER billing_invoice_guard BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();

-- Lines are written only while their invoice is a draft.
CREATE FUNCTION billing_invoiceline_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER billing_invoiceline_guard BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_guard();

-- An allocation: the source (payment or credit note) is locked and may not be over-allocated; the
-- invoice's paid/credited amount and status follow in the same statement (its CHECK
-- invoice_allocations_within_total caps the sum at the invoice's total).
CREATE FUNCTION billing_allocation_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER billing_allocation_apply BEFORE INSERT ON billing_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION billing_allocation_apply();

-- Credit notes on an invoice never exceed its total; never on a draft or void invoice.
CREATE FUNCTION billing_credit_note_admit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    inv record;
    credited bigint;
BEGIN
    IF NEW.invoice_id IS NULL THEN RETURN NEW; END IF;
    SELECT status, total INTO inv FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
    IF inv.status IN ('draft', 'void') THEN
        RAISE EXCEPTION 'billing: no credit note on a % invoice', inv.status USING ERRCODE = 'check_violation';
    END IF;
    SELECT coalesce(sum(total), 0) INTO credited FROM billing_creditnote WHERE invoice_id = NEW.invoice_id;
    IF credited + NEW.total > inv.total THEN
        RAISE EXCEPTION 'billing: credit notes (% + %) exceed the invoice''s total %', credited, NEW.total, inv.total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER billing_credit_note_admit BEFORE INSERT ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION billing_credit_note_admit();

-- Append-only money records (ledger_refuse_change comes from ledger 0002).
CREATE TRIGGER billing_allocation_append_only BEFORE UPDATE OR DELETE ON billing_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER billing_credit_note_append_only BEFORE UPDATE OR DELETE ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER billing_late_fee_append_only BEFORE UPDATE OR DELETE ON billing_latefee
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
"""

BACKWARD = r"""
DROP TRIGGER billing_late_fee_append_only ON billing_latefee;
DROP TRIGGER billing_credit_note_append_only ON billing_creditnote;
DROP TRIGGER billing_allocation_append_only ON billing_paymentallocation;
DROP TRIGGER billing_credit_note_admit ON billing_creditnote;
DROP TRIGGER billing_allocation_apply ON billing_paymentallocation;
DROP TRIGGER billing_invoiceline_guard ON billing_invoiceline;
DROP TRIGGER billing_invoice_guard ON billing_invoice;
DROP FUNCTION billing_credit_note_admit(); DROP FUNCTION billing_allocation_apply();
DROP FUNCTION billing_invoiceline_guard(); DROP FUNCTION billing_invoice_guard();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_invoices_credit_notes_allocations"),
        ("ledger", "0002_ledger_invariants_in_postgres"),
    ]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
