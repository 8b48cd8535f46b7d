"""radius.answer: the items of an Access-Request computed from a subscriber's state, shared by every ISP
(network migration 0007 makes each ISP's radius_lookup a single statement over it)."""

from __future__ import annotations

from django.db import migrations

from network.radius import sql


class Migration(migrations.Migration):
    dependencies = [("radius_registry", "0004_one_query_role_settings")]
    operations = [migrations.RunSQL(sql.ANSWER_SQL, migrations.RunSQL.noop)]
