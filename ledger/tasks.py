"""Scheduled proof that every ISP's books hold (ARCHITECTURE.md, Ledger invariant 4), and the retry of
Stripe events whose handling failed."""

from __future__ import annotations

import logging

from celery import shared_task

from ledger.checks import ledger_check
from ledger.models import StripeEvent, StripeEventStatus
from ledger.stripe_gateway import stripe_events_retry
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


@tenant_task(name="ledger.stripe_events_retry_tenant")
def stripe_events_retry_tenant() -> dict[str, int]:
    return stripe_events_retry()


@shared_task(name="ledger.stripe_events_retry_all")
def stripe_events_retry_all() -> int:
    """Queue a retry for each ISP that has Stripe events left failed (or an attempt that died)."""
    from django_tenants.utils import schema_context

    queued = 0
    for schema in Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True):
        with schema_context(schema):
            waiting = StripeEvent.objects.exclude(
                status__in=[StripeEventStatus.PROCESSED, StripeEventStatus.IGNORED]).exists()
        if waiting:
            stripe_events_retry_tenant.delay(schema)
            queued += 1
    return queued
