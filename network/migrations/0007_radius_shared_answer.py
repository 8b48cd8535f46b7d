"""Each tenant schema's radius_lookup becomes one statement reading the subscriber's state, answered by the
shared radius.answer (radius_registry 0005); radius_check calls it for a NAS registered to the ISP. Runs in
the template schema and every existing tenant schema, like 0006."""

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
        for statement in tenant_sql.answer_sql(schema, settings.RADIUS_DB_ROLE):
            cursor.execute(statement)


def backward(apps: Any, schema_editor: Any) -> None:
    schema = _schema(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        for statement in tenant_sql.authorize_sql(schema, settings.RADIUS_DB_ROLE):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("network", "0006_radius_one_query"), ("radius_registry", "0005_shared_answer")]
    operations = [migrations.RunPython(forward, backward)]
