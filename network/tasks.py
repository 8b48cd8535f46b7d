"""Celery tasks of the network app (RADIUS side). Tenant tasks take the schema name first."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db import transaction

from network.models import DisconnectRequest, RadiusActionKind, RadiusActionStatus
from network.radius.coa import NasAddressRefused, NasUnreachable, coa_send
from tenants.models import Tenant, TenantStatus
from tenants.tasks import tenant_task

MAX_ATTEMPTS = 5


@tenant_task(max_retries=MAX_ATTEMPTS - 1, default_retry_delay=10)
def radius_action_send(action_id: int) -> str:
    """Send one logged Disconnect/CoA request; retried with backoff while the NAS is silent."""
    with transaction.atomic():
        action = DisconnectRequest.objects.select_for_update(of=("self",)).select_related("nas").get(pk=action_id)
        if action.status != RadiusActionStatus.PENDING:
            return str(action.status)
        action.attempts += 1
        action.save(update_fields=["attempts", "updated"])
    if action.nas is None:
        action.status, action.last_error = RadiusActionStatus.FAILED, "NAS no longer registered"
        action.save(update_fields=["status", "last_error", "updated"])
        return str(action.status)
    try:
        result = coa_send(
            address=action.nas_address, port=action.nas.coa_port, secret=action.nas.secret,
            disconnect=action.kind == RadiusActionKind.DISCONNECT, username=action.username,
            session_id=action.acct_session_id, attributes=action.attributes,
            timeout=settings.RADIUS_COA_TIMEOUT, retries=1,
        )
    except NasAddressRefused as exc:  # the egress guard: nothing was sent, and a retry would be refused too
        action.status, action.last_error = RadiusActionStatus.FAILED, str(exc)[:255]
        action.save(update_fields=["status", "last_error", "updated"])
        return str(action.status)
    except NasUnreachable as exc:
        action.last_error = str(exc)[:255]
        if action.attempts >= MAX_ATTEMPTS:
            action.status = RadiusActionStatus.FAILED
            action.save(update_fields=["status", "last_error", "updated"])
            return str(action.status)
        action.save(update_fields=["last_error", "updated"])
        # The task object itself: tenant_task wraps the function, so no bound self here.
        raise radius_action_send.retry(countdown=min(300, settings.RADIUS_COA_RETRY_SECONDS * 2 ** (action.attempts - 1))) from exc
    action.status = RadiusActionStatus.ACKED if result.acked else RadiusActionStatus.NAKED
    action.last_error = result.error[:255]
    action.save(update_fields=["status", "last_error", "updated"])
    return str(action.status)


@tenant_task()
def radius_tenant_disconnect() -> int:
    """The ISP was suspended: drop every live session of it (tenants.services.tenant_suspend)."""
    from network.services import tenant_sessions_disconnect

    return len(tenant_sessions_disconnect())


@tenant_task()
def radius_sessions_close_stale() -> int:
    from network.services import sessions_close_stale

    return sessions_close_stale(interim_seconds=settings.RADIUS_INTERIM_SECONDS)


@tenant_task()
def radius_quota_alerts() -> int:
    from network.quota import quota_alerts_record

    return len(quota_alerts_record())


@shared_task
def radius_stale_sessions_all() -> int:
    """Beat entry: one stale-session sweep and one quota check per active tenant."""
    schemas = list(
        Tenant.objects.exclude(schema_name="public").filter(status=TenantStatus.ACTIVE)
        .values_list("schema_name", flat=True)
    )
    for schema in schemas:
        radius_sessions_close_stale.delay(schema)
        radius_quota_alerts.delay(schema)
    return len(schemas)
