"""One authorize query per Access-Request (with network migration 0006): an inlinable radius.mac_key,
signup grants radius_check only, and the FreeRADIUS role's session settings in this database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import migrations

from network.radius import sql


def forward(apps: Any, schema_editor: Any) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(sql.ONE_QUERY_SQL)
        cursor.execute(sql.server_role_settings_sql(settings.RADIUS_DB_ROLE))


class Migration(migrations.Migration):
    dependencies = [("radius_registry", "0003_direct_tenant_functions")]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
