"""Job life: an unreachable router is retried with backoff, its change is never dropped, and it can be cancelled."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from network.models import Nas, RouterJob
from network.routers.models import JobKind, JobStatus
from network.routers.runner import retry_delay
from network.routers.services import router_job_cancel, router_job_enqueue
from tests.network.conftest import nas_for, run_job

pytestmark = pytest.mark.django_db


def _enqueue(isp, nas, kind=JobKind.PROVISION, **params) -> RouterJob:
    with schema_context(isp.schema):
        return router_job_enqueue(actor=isp.admin, nas=nas, kind=kind, params=params)


def _reload(isp, job) -> RouterJob:
    with schema_context(isp.schema):
        return RouterJob.objects.select_related("nas").get(pk=job.pk)


def test_unreachable_router_keeps_the_job_queued_then_applies_it(alpha, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router)
    router.set_unreachable(True)
    job = _enqueue(alpha, nas)
    outcome = run_job(alpha, job.pk)
    assert outcome.status == JobStatus.QUEUED and outcome.retry_in == retry_delay(1)
    job = _reload(alpha, job)
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.next_attempt_at is not None
    assert "refused the connection" in job.error and "Attempt 1 of 8" in job.error
    assert job.nas.status == "unreachable"
    router.set_unreachable(False)
    assert run_job(alpha, job.pk).status == JobStatus.SUCCEEDED
    job = _reload(alpha, job)
    assert (job.status, job.attempts, job.error) == (JobStatus.SUCCEEDED, 2, "")
    assert job.nas.status == "online" and job.nas.last_seen is not None
    assert [r for r in router.rows("/radius") if r.get("comment") == "backhaul"]


def test_a_router_that_never_answers_times_out(alpha, fake_router, settings):
    settings.ROUTER_CONNECT_TIMEOUT = 1
    router = fake_router(latency=5)
    nas = nas_for(alpha, router)
    job = _enqueue(alpha, nas, kind=JobKind.TEST_CONNECTION)
    assert run_job(alpha, job.pk).status == JobStatus.QUEUED
    assert "did not answer within 1 s" in _reload(alpha, job).error


def test_attempts_run_out_then_the_job_fails(alpha, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router)
    router.set_unreachable(True)
    job = _enqueue(alpha, nas)
    with schema_context(alpha.schema):
        RouterJob.objects.filter(pk=job.pk).update(max_attempts=2)
    assert run_job(alpha, job.pk).status == JobStatus.QUEUED
    assert run_job(alpha, job.pk).status == JobStatus.FAILED
    job = _reload(alpha, job)
    assert job.finished_at is not None and "Gave up after 2 attempts" in job.error


def test_cancel_stops_a_job_waiting_for_its_retry(alpha, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router)
    router.set_unreachable(True)
    job = _enqueue(alpha, nas)
    run_job(alpha, job.pk)
    with schema_context(alpha.schema):
        router_job_cancel(actor=alpha.admin, job=job)
    router.set_unreachable(False)
    assert run_job(alpha, job.pk).status == JobStatus.CANCELLED
    assert _reload(alpha, job).attempts == 1
    assert not [r for r in router.rows("/radius") if r.get("comment") == "backhaul"]


def test_cancel_while_running_stops_at_the_next_step(alpha, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router)
    job = _enqueue(alpha, nas)

    from network.routers import handlers
    from network.routers.provisioning import provision

    def cancel_then_provision(context):
        with schema_context(alpha.schema):
            router_job_cancel(actor=alpha.admin, job=context.job)
        return provision(context)

    with schema_context(alpha.schema):
        from network.routers.runner import router_job_execute

        outcome = router_job_execute(job_id=job.pk, handlers={**handlers.HANDLERS,
                                                              JobKind.PROVISION: cancel_then_provision})
    assert outcome.status == JobStatus.CANCELLED
    assert _reload(alpha, job).status == JobStatus.CANCELLED
    assert router.rows("/radius") == []  # stopped before step 1 wrote anything


def test_router_status_constraints_hold_in_the_database(alpha, fake_router):
    from django.db import IntegrityError, transaction

    nas = nas_for(alpha, fake_router())
    job = _enqueue(alpha, nas)
    with schema_context(alpha.schema):
        with pytest.raises(IntegrityError), transaction.atomic():
            RouterJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)  # no finish time
        with pytest.raises(IntegrityError), transaction.atomic():
            RouterJob.objects.create(nas=nas, kind=JobKind.IMPORT)  # a second open reconfiguration
        with pytest.raises(IntegrityError), transaction.atomic():
            Nas.objects.filter(pk=nas.pk).update(status="sleepy")
