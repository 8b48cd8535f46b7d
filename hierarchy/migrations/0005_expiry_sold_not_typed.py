"""A prepaid customer always has a paid-until (RADIUS reads NULL as "never expires").

Which customers are postpaid (billed in arrears, and so may have none) is the billing app's
``BillingProfile.terms``; that table lives in another app, so the rule is a pair of constraint triggers,
DEFERRABLE INITIALLY DEFERRED, checked at commit:

- on ``hierarchy_subscriber`` (insert, or an update of ``expires_at``, only for rows whose expiry is
  NULL): the customer must have a postpaid billing profile;
- on ``billing_billingprofile`` (terms changed away from postpaid, or the profile deleted): the customer,
  if it still exists, must then have an expiry.

Deferred to commit so one transaction may create a postpaid customer and then its profile, or switch a
customer to prepaid and give it its paid-until. Existing prepaid customers without an expiry are set to
expire now (no time was sold to them) and each such change is written to the audit log.
"""

import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models

CHECK = """
CREATE OR REPLACE FUNCTION hierarchy_prepaid_has_expiry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    customer bigint;
    missing boolean;
BEGIN
    IF TG_TABLE_NAME = 'hierarchy_subscriber' THEN
        customer := NEW.id;
    ELSE
        customer := OLD.customer_id;
    END IF;
    -- The tenant's own tables, whatever the search_path is when the deferred check fires at commit.
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %1$I.hierarchy_subscriber s
                                    WHERE s.id = $1 AND s.expires_at IS NULL
                                      AND NOT EXISTS (SELECT 1 FROM %1$I.billing_billingprofile b
                                                       WHERE b.customer_id = s.id AND b.terms = ''postpaid''))',
                   TG_TABLE_SCHEMA)
        INTO missing USING customer;
    IF missing THEN
        RAISE EXCEPTION 'customer % is prepaid and has no paid-until (expires_at)', customer
            USING ERRCODE = 'check_violation', CONSTRAINT = 'subscriber_prepaid_has_expiry';
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER subscriber_prepaid_has_expiry
    AFTER INSERT OR UPDATE OF expires_at ON hierarchy_subscriber
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.expires_at IS NULL)
    EXECUTE FUNCTION hierarchy_prepaid_has_expiry();

CREATE CONSTRAINT TRIGGER billing_profile_prepaid_has_expiry
    AFTER UPDATE OF terms, customer_id OR DELETE ON billing_billingprofile
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (OLD.terms = 'postpaid')
    EXECUTE FUNCTION hierarchy_prepaid_has_expiry();
"""

UNDO = """
DROP TRIGGER IF EXISTS billing_profile_prepaid_has_expiry ON billing_billingprofile;
DROP TRIGGER IF EXISTS subscriber_prepaid_has_expiry ON hierarchy_subscriber;
DROP FUNCTION IF EXISTS hierarchy_prepaid_has_expiry();
"""

EXISTING = """
WITH expired AS (
    UPDATE hierarchy_subscriber s SET expires_at = now()
     WHERE s.expires_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM billing_billingprofile b WHERE b.customer_id = s.id AND b.terms = 'postpaid')
    RETURNING s.id, s.username, s.expires_at
)
INSERT INTO hierarchy_auditevent (object_type, object_id, object_repr, action, changes, actor_id, actor_email, at)
SELECT 'customer', id, left(username, 150), 'update',
       jsonb_build_object('expires_at', jsonb_build_array(NULL, expires_at),
                          'reason', jsonb_build_array(NULL, 'prepaid customers always have a paid-until')),
       NULL, 'system', now()
  FROM expired;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('hierarchy', '0004_operator_credit_limit_network_grant'),
        ('billing', '0001_invoices_credit_notes_allocations'),
    ]

    operations = [
        migrations.AddField(
            model_name='importjob',
            name='expiries',
            field=models.JSONField(default=list, help_text='Each paid-until the import sets: [{"row": 2, "username": "...", "expires_at": "..."}]'),
        ),
        migrations.AlterField(
            model_name='subscriber',
            name='expires_at',
            field=models.DateTimeField(blank=True, db_default=django.db.models.functions.datetime.Now(), default=django.utils.timezone.now, null=True),
        ),
        migrations.RunSQL(EXISTING, migrations.RunSQL.noop),
        migrations.RunSQL(CHECK, UNDO),
    ]
