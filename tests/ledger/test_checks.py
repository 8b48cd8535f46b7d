"""`manage.py ledger_check` and the scheduled Celery check: clean books pass, any drift is reported."""

from __future__ import annotations

from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from ledger.checks import ledger_check
from ledger.services import payment_record
from ledger.tasks import ledger_check_tenant
from tests.ledger.factories import check_deferred_now

pytestmark = pytest.mark.django_db


def test_clean_books_pass(alpha):
    with schema_context(alpha.schema):
        payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="bank", idempotency_key="chk-1")
    out = StringIO()
    call_command("ledger_check", schema=alpha.schema, stdout=out)
    assert f"{alpha.schema}: OK" in out.getvalue()
    result = ledger_check_tenant(alpha.schema)
    assert result["ok"] is True and result["totals"] == {"USD": 0}
    assert settings.CELERY_BEAT_SCHEDULE["ledger-check"]["task"] == "ledger.check_all"


def test_drift_is_reported(alpha):
    with schema_context(alpha.schema):
        payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="bank", idempotency_key="chk-2")
        check_deferred_now()
        with connection.cursor() as cursor:
            # Only possible by switching triggers off as a superuser (replication role), rolled back after.
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute("UPDATE ledger_accountbalance SET balance = balance + 1 "
                           "WHERE account_id = (SELECT id FROM ledger_account WHERE code = 'bank')")
            cursor.execute("SET LOCAL session_replication_role = origin")
        report = ledger_check()
        assert not report.ok and report.totals == {"USD": 1} and report.drift == [("bank", 10_001, 10_000)]
    with pytest.raises(CommandError, match=alpha.schema):
        call_command("ledger_check", schema=alpha.schema, stdout=StringIO())
