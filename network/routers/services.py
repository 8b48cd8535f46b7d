"""Writes on routers: registering one, and queueing jobs for the worker (never calling a router here)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from config.crypto import radius_secret_generate, secret_encrypt
from hierarchy.models import Operator
from network.models import Nas, NasType, RouterJob
from network.routers.models import EXCLUSIVE_KINDS, OPEN_STATUSES, JobKind, JobStatus
from network.services import nas_create
from tenants.db import schema_current

logger = logging.getLogger(__name__)


class JobConflict(Exception):
    """Another job that reconfigures the same router is still open."""


class JobNotOpen(Exception):
    """The job already finished; there is nothing to cancel."""


def router_create(
    *,
    owner: Operator,
    name: str,
    address: str,
    api_username: str,
    api_password: str,
    api_port: int | None = None,
    api_tls: bool = False,
    nas_type: str = NasType.MIKROTIK,
    zone: str = "",
    uses_radius: bool = True,
) -> Nas:
    """A router with encrypted API credentials and a freshly generated RADIUS secret."""
    if Nas.objects.filter(address=address).exists():
        raise ValidationError({"address": f"A router with address {address} is already registered."})
    with transaction.atomic():
        # nas_create also registers the address in the platform-wide RADIUS NAS registry.
        nas = nas_create(owner=owner, name=name, address=address, secret=radius_secret_generate(),
                         nas_type=nas_type, zone=zone, uses_radius=uses_radius)
        nas.api_port = api_port or (8729 if api_tls else 8728)
        nas.api_tls = api_tls
        nas.api_username = api_username
        nas.api_password_encrypted = secret_encrypt(api_password)
        nas.full_clean()
        nas.save(update_fields=["api_port", "api_tls", "api_username", "api_password_encrypted"])
    return nas


def router_job_enqueue(*, nas: Nas, kind: str, created_by: User | None, params: dict[str, Any] | None = None) -> RouterJob:
    """Record the job and hand it to the worker once the row is committed."""
    if kind not in JobKind.values:
        raise ValueError(f"unknown router job kind {kind!r}")
    try:
        with transaction.atomic():
            job = RouterJob.objects.create(
                nas=nas, kind=kind, params=params or {}, created_by=created_by,
                max_attempts=settings.ROUTER_JOB_MAX_ATTEMPTS,
            )
    except IntegrityError as exc:
        if kind not in EXCLUSIVE_KINDS:
            raise
        open_job = RouterJob.objects.filter(nas=nas, status__in=OPEN_STATUSES, kind__in=EXCLUSIVE_KINDS).first()
        raise JobConflict(
            f"Router {nas.name} already has an open {open_job.get_kind_display().lower() if open_job else ''} "
            f"job (#{open_job.pk if open_job else '?'}); wait for it or cancel it."
        ) from exc
    schema = schema_current()
    transaction.on_commit(lambda: _send(schema, job.pk))
    return job


def _send(schema: str, job_id: int) -> None:
    from network.routers.tasks import router_job_run

    try:
        router_job_run.delay(schema, job_id)
    except Exception as exc:  # broker down: the row stays queued and `router_jobs_resume` sends it later
        logger.warning("router job %s/%s not sent to the queue: %s", schema, job_id, exc)
        RouterJob.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
            error="Waiting for the job queue; it will be sent again automatically."
        )


def router_jobs_resume(*, idle: timedelta = timedelta(minutes=10)) -> list[int]:
    """Send again the queued jobs of this ISP that nothing is going to run: never sent (broker was down),
    or a retry whose time passed long ago (its message was lost). Re-sending a live job is harmless:
    the runner only picks up a job that is still open."""
    now = timezone.now()
    stale = RouterJob.objects.filter(status=JobStatus.QUEUED).filter(
        Q(next_attempt_at__isnull=True, created__lt=now - idle) | Q(next_attempt_at__lt=now - idle)
    )
    ids = list(stale.values_list("pk", flat=True))
    schema = schema_current()
    for job_id in ids:
        _send(schema, job_id)
    return ids


def router_job_cancel(*, job: RouterJob, by: User) -> RouterJob:
    """Stop a queued job, or a running one at its next step boundary (what already ran stays done)."""
    updated = RouterJob.objects.filter(pk=job.pk, status__in=OPEN_STATUSES).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), next_attempt_at=None,
        error=f"Cancelled by {by.email}.",
    )
    if not updated:
        raise JobNotOpen(f"Job #{job.pk} already {job.status}; it cannot be cancelled.")
    job.refresh_from_db()
    return job
