"""The one Celery task that carries out router jobs (see runner.py for the job's life)."""

from __future__ import annotations

from network.routers.runner import router_job_execute
from tenants.tasks import tenant_task


@tenant_task(name="network.router_job_run", max_retries=None, acks_late=True)
def router_job_run(job_id: int) -> str:
    outcome = router_job_execute(job_id=job_id)
    if outcome.retry_in is not None:
        # Celery's own retry re-sends this task with the same arguments (schema, job id) after the delay.
        raise router_job_run.retry(countdown=outcome.retry_in)
    return outcome.status
