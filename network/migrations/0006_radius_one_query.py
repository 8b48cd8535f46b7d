"""One authorize query per Access-Request: each tenant schema's radius_check answers check and reply
items (FreeRADIUS moves the reply ones, sites.py), radius_reply goes, and radius_lookup names its
tenant by literal instead of reading pg_class on every call. Runs in the template schema and every
existing tenant schema, like 0005."""

from __future__ import annotations

from django.db import migrations

from network.radius import tenant_sql


class Migration(migrations.Migration):
    dependencies = [("network", "0005_radius_direct_functions"), ("radius_registry", "0004_one_query_role_settings")]
    operations = [
        migrations.RunPython(tenant_sql.run_in_schema(tenant_sql.authorize_sql), tenant_sql.run_in_schema(tenant_sql.direct_sql)),
    ]
