"""The shared ``radius`` schema, its functions, and the least-privilege FreeRADIUS login role."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

from network.radius import sql


def create_schema(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql.SCHEMA_SQL)
        # Tenants that existed before RADIUS: give them their accounting partitions.
        cursor.execute(
            "SELECT radius.ensure_tenant_partition(schema_name) FROM public.tenants_tenant"
            " WHERE schema_name <> 'public'"
        )
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [settings.RADIUS_DB_ROLE])
        exists = cursor.fetchone() is not None
        for statement in sql.server_role_sql(
            role=settings.RADIUS_DB_ROLE, password=settings.RADIUS_DB_PASSWORD or None, create=not exists
        ):
            cursor.execute(statement)


def drop_schema(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS radius CASCADE")


class Migration(migrations.Migration):
    initial = True
    dependencies = [("tenants", "0002_tenant_max_reseller_depth_and_more")]
    operations = [migrations.RunPython(create_schema, drop_schema)]
