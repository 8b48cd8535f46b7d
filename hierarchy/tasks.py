"""Background jobs of the role tree (run in the tenant's schema, see tenants.tasks.tenant_task)."""

from __future__ import annotations

from hierarchy.imports import import_job_run
from tenants.tasks import tenant_task


@tenant_task()
def customer_import_run(job_id: int) -> str:
    return import_job_run(job_id=job_id)
