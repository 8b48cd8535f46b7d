"""Each tenant schema's radius_lookup becomes one statement reading the subscriber's state, answered by the
shared radius.answer (radius_registry 0005); radius_check runs the same statement for a NAS registered to the ISP. Runs in
the template schema and every existing tenant schema, like 0006."""

from __future__ import annotations

from django.db import migrations

from network.radius import tenant_sql


class Migration(migrations.Migration):
    dependencies = [("network", "0006_radius_one_query"), ("radius_registry", "0005_shared_answer")]
    operations = [
        migrations.RunPython(tenant_sql.run_in_schema(tenant_sql.answer_sql), tenant_sql.run_in_schema(tenant_sql.authorize_sql)),
    ]
