"""radius.nas shortnames are tenant schema names (isp_...) by CHECK, since FreeRADIUS now calls
``%{Client-Shortname}.radius_check(...)`` directly; the dispatching check_items/reply_items go;
the FreeRADIUS role is recorded so that ensure_tenant_partition (signup) grants a new tenant's
radius_check / radius_reply to it and keeps the other RADIUS functions private."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

from network.radius import sql


def forward(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql.DIRECT_SQL)
        cursor.execute(
            "INSERT INTO radius.server_role (role) VALUES (%s) ON CONFLICT (singleton) DO UPDATE SET role = EXCLUDED.role",
            [settings.RADIUS_DB_ROLE],
        )


class Migration(migrations.Migration):
    dependencies = [("radius_registry", "0002_one_lookup_per_request")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
