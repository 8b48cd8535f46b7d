"""PackageChange carries the old and new price per period (what a postpaid arrears invoice splits by) and is
append-only: a trigger refuses UPDATE and DELETE."""

from django.db import migrations, models

FORWARD = r"""
CREATE FUNCTION billing_packagechange_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'billing: package changes are append-only' USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER billing_packagechange_append_only BEFORE UPDATE OR DELETE ON billing_packagechange
    FOR EACH ROW EXECUTE FUNCTION billing_packagechange_append_only();
"""

BACKWARD = r"""
DROP TRIGGER IF EXISTS billing_packagechange_append_only ON billing_packagechange;
DROP FUNCTION IF EXISTS billing_packagechange_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0004_refund_releases_allocations"),
    ]

    operations = [
        migrations.AddField(
            model_name="packagechange",
            name="old_price",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="packagechange",
            name="new_price",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="packagechange",
            index=models.Index(fields=["customer", "effective"], name="package_change_customer_day"),
        ),
        migrations.AddConstraint(
            model_name="packagechange",
            constraint=models.CheckConstraint(condition=models.Q(old_price__gte=0, new_price__gte=0),
                                              name="package_change_prices"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
