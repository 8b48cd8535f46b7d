"""Vouchers only move forward, and what identifies a card never changes (enforced by PostgreSQL).

Allowed status changes: new → sold, sold → redeemed, new → void, sold → void. A sold voucher keeps its
sale (time, seller, entry); a redeemed one is final. Vouchers and recharges are never deleted.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION vouchers_voucher_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'vouchers: a voucher is never deleted; void it' USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.pin_digest <> OLD.pin_digest OR NEW.pin_encrypted <> OLD.pin_encrypted
       OR NEW.batch_id <> OLD.batch_id OR NEW.number <> OLD.number THEN
        RAISE EXCEPTION 'vouchers: a voucher''s PIN, batch and number never change'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF NEW.status <> OLD.status AND NOT (
           (OLD.status = 'new' AND NEW.status IN ('sold', 'void'))
        OR (OLD.status = 'sold' AND NEW.status IN ('redeemed', 'void'))) THEN
        RAISE EXCEPTION 'vouchers: status % cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status = NEW.status AND OLD.status <> 'new' THEN
        RAISE EXCEPTION 'vouchers: a % voucher does not change', OLD.status USING ERRCODE = 'check_violation';
    END IF;
    IF OLD.status <> 'new' AND (NEW.sold_at IS DISTINCT FROM OLD.sold_at
        OR NEW.sale_entry_id IS DISTINCT FROM OLD.sale_entry_id OR NEW.seller_node_id IS DISTINCT FROM OLD.seller_node_id
        OR NEW.distributor_id IS DISTINCT FROM OLD.distributor_id OR NEW.commission <> OLD.commission) THEN
        RAISE EXCEPTION 'vouchers: the sale of a voucher is not edited' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER vouchers_voucher_guard BEFORE UPDATE OR DELETE ON vouchers_voucher
    FOR EACH ROW EXECUTE FUNCTION vouchers_voucher_guard();

CREATE FUNCTION vouchers_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'vouchers: % on % is refused', TG_OP, TG_TABLE_NAME USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER vouchers_recharge_append_only BEFORE UPDATE OR DELETE ON vouchers_recharge
    FOR EACH ROW EXECUTE FUNCTION vouchers_refuse_change();
CREATE TRIGGER vouchers_batch_no_delete BEFORE DELETE ON vouchers_voucherbatch
    FOR EACH ROW EXECUTE FUNCTION vouchers_refuse_change();
"""

BACKWARD = r"""
DROP TRIGGER vouchers_batch_no_delete ON vouchers_voucherbatch;
DROP TRIGGER vouchers_recharge_append_only ON vouchers_recharge;
DROP TRIGGER vouchers_voucher_guard ON vouchers_voucher;
DROP FUNCTION vouchers_refuse_change(); DROP FUNCTION vouchers_voucher_guard();
"""


class Migration(migrations.Migration):
    dependencies = [("vouchers", "0001_recharges_and_vouchers")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
