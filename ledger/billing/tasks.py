"""Scheduled billing: the monthly run (hourly: idempotent, and each ISP's "today" is in its own time zone)
and late fees (daily), one ``tenant_task`` per ISP."""

from __future__ import annotations

import datetime

from celery import shared_task

from ledger.billing.services import late_fees_apply, monthly_run
from tenants.models import Tenant, TenantStatus
from tenants.tasks import tenant_task


def _day(on: str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(on) if on else None


@tenant_task(name="billing.run_tenant")
def billing_run_tenant(on: str | None = None) -> dict[str, int]:
    result = monthly_run(on=_day(on))
    return {"issued": result.issued, "skipped": result.skipped, "failed": result.failed}


@tenant_task(name="billing.late_fees_tenant")
def billing_late_fees_tenant(on: str | None = None) -> int:
    return late_fees_apply(on=_day(on))


def _active_schemas() -> list[str]:
    return list(Tenant.objects.exclude(schema_name="public").filter(status=TenantStatus.ACTIVE)
                .values_list("schema_name", flat=True))


@shared_task(name="billing.run_all")
def billing_run_all(on: str | None = None) -> int:
    """Queue the monthly run of every active ISP."""
    schemas = _active_schemas()
    for schema in schemas:
        billing_run_tenant.delay(schema, on)
    return len(schemas)


@shared_task(name="billing.late_fees_all")
def billing_late_fees_all(on: str | None = None) -> int:
    schemas = _active_schemas()
    for schema in schemas:
        billing_late_fees_tenant.delay(schema, on)
    return len(schemas)
