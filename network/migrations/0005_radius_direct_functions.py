"""Each tenant schema's own radius_check / radius_reply, which FreeRADIUS calls directly through the
verified client's shortname (no dispatch through radius.check_items), and radius_lookup with every
name qualified. Runs in the template schema and every existing tenant schema, like 0004."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from network.radius import tenant_sql


def backward(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in tenant_sql.DIRECT_BACKWARD:
            cursor.execute(statement)
        cursor.execute(tenant_sql.LOOKUP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("network", "0004_radius_items"), ("radius_registry", "0003_direct_tenant_functions")]
    operations = [migrations.RunPython(tenant_sql.run_in_schema(tenant_sql.direct_sql), backward)]
