"""radius.check_items reads a tenant's radius_items once per Access-Request and keeps the reply
rows for reply_items (network migration 0004 gives every tenant schema its radius_lookup)."""

from __future__ import annotations

from django.db import migrations

from network.radius import sql


class Migration(migrations.Migration):
    dependencies = [("radius_registry", "0001_radius_schema")]
    operations = [migrations.RunSQL(sql.LOOKUP_SQL, migrations.RunSQL.noop)]
