"""One per-tenant view of every RADIUS check and reply item (radcheck / radreply are its halves),
one index for login and MAC-key lookups, and radius_lookup for radius.check_items. Runs in the
template schema and in every existing tenant schema, like 0002."""

from __future__ import annotations

from django.db import migrations

from network.radius import tenant_sql, tenant_sql_0002


class Migration(migrations.Migration):
    dependencies = [
        ("radius_registry", "0002_one_lookup_per_request"),
        ("network", "0003_merge_0002_radius_views_0002_router_jobs"),
    ]
    operations = [
        migrations.RunSQL(tenant_sql.FORWARD, [*tenant_sql.BACKWARD, *tenant_sql_0002.FORWARD]),
    ]
