"""Scheduled proof that every ISP's books hold (ARCHITECTURE.md, Ledger invariant 4)."""

from __future__ import annotations

import logging

from celery import shared_task

from ledger.checks import ledger_check
from tenants.models import Tenant
from tenants.tasks import tenant_task

logger = logging.getLogger(__name__)


@tenant_task(name="ledger.check_tenant")
def ledger_check_tenant() -> dict[str, object]:
    report = ledger_check()
    if not report.ok:
        logger.error("ledger check failed:\n%s", "\n".join(report.lines()))
    return {"schema": report.schema, "ok": report.ok, "totals": report.totals,
            "drift": len(report.drift), "unbalanced": len(report.unbalanced)}


@shared_task(name="ledger.check_all")
def ledger_check_all() -> int:
    """Queue one check per ISP (each in its own schema, via tenant_task)."""
    schemas = list(Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True))
    for schema in schemas:
        ledger_check_tenant.delay(schema)
    return len(schemas)
