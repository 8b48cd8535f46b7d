"""Carrying out one RouterJob in a worker: state changes, progress, cancellation and retry decisions.

The job row is the source of truth. A router that cannot be reached puts the job back to `queued`
with the reason and the time of the next attempt (the Celery task schedules it); nothing the caller
asked for is dropped until the attempts run out or someone cancels it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from hierarchy.authority import authorize
from network.models import Nas, RouterJob, RouterStatus
from network.routeros import RouterAddressRefused, RouterError, RouterUnreachable
from network.routers.connect import RecordingRouterClient, router_client_for
from network.routers.handlers import HANDLERS
from network.routers.jobs import JOB_ACTS, Handler, JobCancelled, JobContext, JobInputError, StepFailed, job_actor
from network.routers.models import OPEN_STATUSES, JobStatus


@dataclass(frozen=True)
class JobOutcome:
    status: str
    retry_in: int | None = None


def retry_delay(attempt: int) -> int:
    """Seconds before attempt `attempt + 1`: exponential from the base, capped."""
    base = settings.ROUTER_JOB_RETRY_BASE_SECONDS
    return int(min(base * 2 ** (attempt - 1), settings.ROUTER_JOB_RETRY_MAX_SECONDS))


def _claim(job_id: int) -> RouterJob | None:
    with transaction.atomic():
        job = RouterJob.objects.select_for_update().select_related("nas", "nas__owner").filter(pk=job_id).first()
        # RUNNING too: a worker that died mid-job (acks_late) gets its message redelivered.
        if job is None or job.status not in OPEN_STATUSES:
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.next_attempt_at = None
        job.save(update_fields=["status", "attempts", "started_at", "next_attempt_at"])
        return job


def _finish(job: RouterJob, status: str, **fields: Any) -> JobOutcome:
    updated = RouterJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
        status=status, finished_at=timezone.now(), **fields
    )
    if not updated:  # cancelled while the last step ran: the cancellation stands
        return JobOutcome(JobStatus.CANCELLED)
    return JobOutcome(status)


def _mark_router(nas: Nas, status: str) -> None:
    fields: dict[str, Any] = {"status": status}
    if status == RouterStatus.ONLINE:
        fields["last_seen"] = timezone.now()
    Nas.objects.filter(pk=nas.pk).update(**fields)


def router_job_execute(*, job_id: int, handlers: dict[str, Handler] | None = None,
                       client_factory: Callable[..., RecordingRouterClient] | None = None) -> JobOutcome:
    """Run one attempt of a job; the caller schedules `retry_in` when it is set."""
    job = _claim(job_id)
    if job is None:
        current = RouterJob.objects.filter(pk=job_id).values_list("status", flat=True).first()
        return JobOutcome(current or "missing")
    context = JobContext(job=job, client_factory=client_factory or router_client_for)
    handler = (handlers or HANDLERS)[job.kind]
    try:
        # As the login that queued it, as it may act now (its role or grant may have changed meanwhile).
        authorize(job_actor(job), JOB_ACTS[job.kind], node=job.nas.owner)
        result = handler(context)
    except JobCancelled:
        return JobOutcome(JobStatus.CANCELLED)
    except RouterUnreachable as exc:
        _mark_router(job.nas, RouterStatus.UNREACHABLE)
        if job.attempts < job.max_attempts:
            delay = retry_delay(job.attempts)
            when = timezone.now() + timedelta(seconds=delay)
            updated = RouterJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).update(
                status=JobStatus.QUEUED, next_attempt_at=when,
                error=f"{exc.message}. Attempt {job.attempts} of {job.max_attempts}; "
                f"next attempt at {when:%H:%M:%S} UTC.",
            )
            return JobOutcome(JobStatus.QUEUED, delay) if updated else JobOutcome(JobStatus.CANCELLED)
        return _finish(job, JobStatus.FAILED, error=f"{exc.message}. Gave up after {job.attempts} attempts.")
    except RouterAddressRefused as exc:  # the egress guard: nothing was sent; a retry would be refused too
        return _finish(job, JobStatus.FAILED, error=exc.message)
    except StepFailed as exc:
        return _finish(job, JobStatus.FAILED, error=exc.message, failed_step=exc.step[:120])
    except PermissionDenied as exc:
        return _finish(job, JobStatus.FAILED, error=f"Refused: {exc}")
    except (RouterError, JobInputError) as exc:
        if isinstance(exc, RouterError):
            _mark_router(job.nas, RouterStatus.ONLINE)
        return _finish(job, JobStatus.FAILED, error=str(exc))
    finally:
        context.close()
    _mark_router(job.nas, RouterStatus.ONLINE)
    return _finish(job, JobStatus.SUCCEEDED, result=result, progress=100, error="")
