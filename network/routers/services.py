"""Writes on routers: registering one, and queueing jobs for the worker (never calling a router here).

The network belongs to the ISP. Registering, changing or removing a router (its address and API
credentials) is ``Act.ROUTER_REGISTER``; jobs that change a router (provision, migrate to RADIUS, suspend or
reactivate a subscriber on it) are ``Act.ROUTER_OPERATE``; an import is ``Act.ROUTER_IMPORT`` (resellers
too, into their own part of the tree); looking (test connection, live view) is ``Act.ROUTER_VIEW``. Every
service takes the acting login (``actor``; SYSTEM for the platform itself) and checks it first.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from config.crypto import radius_secret_generate, secret_encrypt
from hierarchy.authority import Act, authorize, is_system
from hierarchy.models import Operator
from network import egress
from network.models import Nas, NasType, RouterJob
from network.routers.importing import import_params_check, login_of
from network.routers.jobs import JOB_ACTS
from network.routers.models import EXCLUSIVE_KINDS, OPEN_STATUSES, JobKind, JobStatus
from network.routers.tasks import router_job_run
from network.services import nas_create, nas_delete, nas_update
from tenants.db import schema_current

logger = logging.getLogger(__name__)

API_FIELDS = frozenset({"api_port", "api_tls", "api_username", "api_password"})
NAS_FIELDS = frozenset({"name", "address", "nas_type", "zone", "uses_radius"})


class JobConflict(Exception):
    """Another job that reconfigures the same router is still open."""


class JobNotOpen(Exception):
    """The job already finished; there is nothing to cancel."""


def _router_clean(*, address: str | None = None, port: int | None = None, api_username: str | None = None,
                  api_password: str | None = None) -> str | None:
    """Check what goes into the API's words and where the platform will connect; the address as the IP it
    resolved to (resolved once, here, so a later DNS answer cannot move the router)."""
    errors: dict[str, str] = {}
    for field, value in (("api_username", api_username), ("api_password", api_password)):
        if value is not None:
            try:
                egress.text_check(str(value), what="The value")
            except ValueError as exc:
                errors[field] = str(exc)
    if api_username is not None and not str(api_username).strip():
        errors["api_username"] = "Enter the router's API user name."
    if port is not None and not (isinstance(port, int) and 0 < port < 65536):
        errors["api_port"] = "Enter a port between 1 and 65535."
    resolved = None
    if address is not None:
        try:
            resolved = str(egress.resolve(str(address), port or 8728, what="Router address").address)
        except egress.EgressRefused as exc:
            errors["address"] = exc.message
        except ValueError as exc:
            errors["address"] = str(exc)
    if errors:
        raise ValidationError(errors)
    return resolved


def router_create(
    *,
    actor: Any,
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
    """A router with encrypted API credentials and a freshly generated RADIUS secret. ``address`` may be a
    host name: it is resolved once and every address it resolves to must pass the egress guard."""
    authorize(actor, Act.ROUTER_REGISTER, node=owner)
    port = api_port or (8729 if api_tls else 8728)
    address = _router_clean(address=address, port=port, api_username=api_username,
                            api_password=api_password) or address
    if Nas.objects.filter(address=address).exists():
        raise ValidationError({"address": f"A router with address {address} is already registered."})
    with transaction.atomic():
        # nas_create also registers the address in the platform-wide RADIUS NAS registry.
        nas = nas_create(actor=actor, owner=owner, name=name, address=address, secret=radius_secret_generate(),
                         nas_type=nas_type, zone=zone, uses_radius=uses_radius)
        nas.api_port = port
        nas.api_tls = api_tls
        nas.api_username = api_username
        nas.api_password_encrypted = secret_encrypt(api_password)
        nas.full_clean()
        nas.save(update_fields=["api_port", "api_tls", "api_username", "api_password_encrypted"])
    return nas


def router_update(*, actor: Any, nas: Nas, **changes: Any) -> Nas:
    """Change a router's name, address, zone or API credentials (the password is stored encrypted)."""
    authorize(actor, Act.ROUTER_REGISTER, node=nas.owner)
    unknown = set(changes) - API_FIELDS - NAS_FIELDS
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in sorted(unknown)})
    port = changes.get("api_port", nas.api_port)
    resolved = _router_clean(address=changes.get("address"), port=port, api_username=changes.get("api_username"),
                             api_password=changes.get("api_password"))
    if resolved is not None:
        changes["address"] = resolved
    with transaction.atomic():
        nas_changes = {key: value for key, value in changes.items() if key in NAS_FIELDS}
        if nas_changes:
            nas = nas_update(actor=actor, nas=nas, **nas_changes)
        api = {key: value for key, value in changes.items() if key in API_FIELDS}
        if "api_password" in api:
            nas.api_password_encrypted = secret_encrypt(api.pop("api_password"))
            api["api_password_encrypted"] = nas.api_password_encrypted
        for key, value in api.items():
            setattr(nas, key, value)
        if api:
            nas.full_clean()
            nas.save(update_fields=sorted(api))
    return nas


def router_delete(*, actor: Any, nas: Nas) -> None:
    """Forget a router: its jobs and read copies go with it, and its address leaves the RADIUS registry."""
    authorize(actor, Act.ROUTER_REGISTER, node=nas.owner)
    nas_delete(actor=actor, nas=nas)


def router_job_enqueue(*, actor: Any, nas: Nas, kind: str, params: dict[str, Any] | None = None) -> RouterJob:
    """Record the job and hand it to the worker once the row is committed."""
    if kind not in JobKind.values:
        raise ValueError(f"unknown router job kind {kind!r}")
    authorize(actor, JOB_ACTS[kind], node=nas.owner)
    params = dict(params or {})
    if kind == JobKind.IMPORT:
        params = import_params_check(actor=actor, params=params)
    params["queued_by_system"] = is_system(actor)  # set here, never by the caller: the handler's actor
    try:
        with transaction.atomic():
            job = RouterJob.objects.create(
                nas=nas, kind=kind, params=params, created_by=login_of(actor),
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


def router_job_cancel(*, actor: Any, job: RouterJob) -> RouterJob:
    """Stop a queued job, or a running one at its next step boundary (what already ran stays done)."""
    authorize(actor, JOB_ACTS[job.kind], node=job.nas.owner)
    login = login_of(actor)
    updated = RouterJob.objects.filter(pk=job.pk, status__in=OPEN_STATUSES).update(
        status=JobStatus.CANCELLED, finished_at=timezone.now(), next_attempt_at=None,
        error=f"Cancelled by {login.email if login is not None else 'the platform'}.",
    )
    if not updated:
        raise JobNotOpen(f"Job #{job.pk} already {job.status}; it cannot be cancelled.")
    job.refresh_from_db()
    return job
