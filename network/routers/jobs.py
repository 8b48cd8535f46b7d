"""What a router job handler works with: its context (the job, a router client, progress) and the ways
it can fail. The handlers (operations, provisioning, importing, migration) import this; the runner runs
them through the table in handlers.py, so no module imports its importer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hierarchy.audit import SYSTEM
from hierarchy.authority import Act
from network.models import Nas, RouterJob
from network.routers.connect import RecordingRouterClient, router_client_for
from network.routers.models import JobKind, JobStatus

# What each kind of job does to the router, in the role x action table: checked when a job is queued
# (network.routers.services) and again, as the login that queued it, when it runs (runner).
JOB_ACTS: dict[str, Act] = {
    JobKind.TEST_CONNECTION: Act.ROUTER_VIEW,
    JobKind.LIVE_VIEW: Act.ROUTER_VIEW,
    JobKind.PROVISION: Act.ROUTER_OPERATE,
    JobKind.MIGRATE_TO_RADIUS: Act.ROUTER_OPERATE,
    JobKind.SUBSCRIBER_SUSPEND: Act.ROUTER_OPERATE,
    JobKind.SUBSCRIBER_REACTIVATE: Act.ROUTER_OPERATE,
    JobKind.IMPORT: Act.ROUTER_IMPORT,
}


class JobCancelled(Exception):
    """Someone cancelled the job while it ran; stop at the next step boundary."""


class JobInputError(Exception):
    """The job's parameters or our data make it impossible; retrying will not help."""


def job_actor(job: RouterJob) -> Any:
    """Who the job acts for: the login that queued it, or the platform (SYSTEM) for a job the platform
    queued itself. A login deleted since is not the platform: the job may not run."""
    if job.created_by is not None:
        return job.created_by
    if (job.params or {}).get("queued_by_system"):
        return SYSTEM
    raise JobInputError("The login that queued this job no longer exists.")


class StepFailed(Exception):
    """A numbered step of a multi-step job failed; `step` names it for the operator."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"Step '{step}' failed: {message}")
        self.step = step
        self.message = message


@dataclass
class JobContext:
    job: RouterJob
    client_factory: Callable[..., RecordingRouterClient] = router_client_for
    _clients: list[RecordingRouterClient] = field(default_factory=list)

    @property
    def nas(self) -> Nas:
        return self.job.nas

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.job.params or {})

    def client(self, *, dry_run: bool = False) -> RecordingRouterClient:
        client = self.client_factory(self.nas, dry_run=dry_run)
        self._clients.append(client)
        return client

    def progress(self, percent: int, message: str) -> None:
        """Record progress, and stop here if the job was cancelled meanwhile."""
        updated = RouterJob.objects.filter(pk=self.job.pk, status=JobStatus.RUNNING).update(
            progress=max(0, min(100, percent)), progress_message=message[:200]
        )
        if not updated:
            raise JobCancelled()

    def close(self) -> None:
        for client in self._clients:
            client.close()


Handler = Callable[[JobContext], dict[str, Any]]
