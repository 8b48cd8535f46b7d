"""One authorize query per Access-Request: each tenant schema's radius_check answers check and reply
items (FreeRADIUS moves the reply ones, sites.py), radius_reply goes, and radius_lookup names its
tenant by literal instead of reading pg_class on every call. Runs in the template schema and every
existing tenant schema, like 0005."""

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
        for statement in tenant_sql.authorize_sql(schema, settings.RADIUS_DB_ROLE):
            cursor.execute(statement)


def backward(apps: Any, schema_editor: Any) -> None:
    schema = _schema(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for statement in tenant_sql.direct_sql(schema, settings.RADIUS_DB_ROLE):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("network", "0005_radius_direct_functions"), ("radius_registry", "0004_one_query_role_settings")]
    operations = [migrations.RunPython(forward, backward)]
