"""Each tenant schema's own radius_check / radius_reply, which FreeRADIUS calls directly through the
verified client's shortname (no dispatch through radius.check_items), and radius_lookup with every
name qualified. Runs in the template schema and every existing tenant schema, like 0004."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

from network.radius import tenant_sql


def _schema(schema_editor: Any) -> str:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return str(cursor.fetchone()[0])


def forward(apps: Any, schema_editor: Any) -> None:
    schema = _schema(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for statement in tenant_sql.direct_sql(schema, settings.RADIUS_DB_ROLE):
            cursor.execute(statement)


def backward(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        for statement in tenant_sql.DIRECT_BACKWARD:
            cursor.execute(statement)
        cursor.execute(tenant_sql.LOOKUP_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [("network", "0004_radius_items"), ("radius_registry", "0003_direct_tenant_functions")]
    operations = [migrations.RunPython(forward, backward)]
