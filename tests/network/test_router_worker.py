"""Router jobs through the real Celery worker process: the web request only queues, the worker does the work."""

from __future__ import annotations

import time

import pytest
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from hierarchy.models import Package, PackageAssignment, Subscriber
from network.models import Nas, RouterJob
from tests.conftest import host_client
from tests.network.conftest import menus_state, nas_for
from tests.routeros.seed import seed_isp

pytestmark = pytest.mark.slow


def _wait(isp, job_id, blocker, *, until, timeout=90.0) -> RouterJob:
    deadline = time.monotonic() + timeout
    while True:
        with blocker.unblock(), schema_context(isp.schema):
            job = RouterJob.objects.get(pk=job_id)
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} is {job.status} ({job.error or job.progress_message}) after {timeout} s")
        time.sleep(0.2)


def _post(isp, blocker, path, data=None):
    with blocker.unblock(), schema_context(isp.schema):
        token = Token.objects.get_or_create(user=isp.admin)[0].key
        response = host_client(isp.host).post(path, data or {}, content_type="application/json",
                                              HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 202, response.json()
    return response.json()


def _cleanup(isp, blocker, nas) -> None:
    with blocker.unblock(), schema_context(isp.schema):
        Subscriber.objects.filter(owner=isp.sibling, username__startswith="sub").delete()
        plans = Package.objects.filter(name__startswith="plan-")
        PackageAssignment.objects.filter(package__in=plans).delete()
        plans.delete()
        Nas.objects.filter(pk=nas.pk).delete()


def test_provision_through_the_worker_even_after_the_router_was_down(beta, celery_worker_process, fake_router,
                                                                     django_db_blocker):
    router = fake_router()
    with django_db_blocker.unblock():
        nas = nas_for(beta, router, name="edge-worker")
    try:
        router.set_unreachable(True)
        queued = _post(beta, django_db_blocker, f"/api/v1/routers/{nas.pk}/provision/")
        assert queued["status"] == "queued"
        waiting = _wait(beta, queued["id"], django_db_blocker, until=lambda j: j.attempts >= 1 and j.error)
        assert waiting.status in ("queued", "running") and "refused the connection" in waiting.error
        router.set_unreachable(False)
        done = _wait(beta, queued["id"], django_db_blocker, until=lambda j: not j.is_open)
        assert done.status == "succeeded", done.error
        assert done.attempts >= 2 and done.result["changed"] > 0
        assert router.singleton("/system/identity")["name"] == "edge-worker"
        state = menus_state(router)
        again = _post(beta, django_db_blocker, f"/api/v1/routers/{nas.pk}/provision/")
        second = _wait(beta, again["id"], django_db_blocker, until=lambda j: not j.is_open)
        assert second.status == "succeeded" and second.result["changed"] == 0
        assert menus_state(router) == state
    finally:
        _cleanup(beta, django_db_blocker, nas)


def test_import_10000_secrets_through_the_worker(alpha, beta, celery_worker_process, fake_router, django_db_blocker):
    router = fake_router()
    seed_isp(router, secrets=10_000, profiles=50, online=10)
    with django_db_blocker.unblock():
        nas = nas_for(beta, router, owner=beta.sibling, name="edge-import")
    try:
        queued = _post(beta, django_db_blocker, f"/api/v1/routers/{nas.pk}/import/", {"owner_id": beta.sibling.pk})
        seen_progress: set[int] = set()

        def finished(job: RouterJob) -> bool:
            seen_progress.add(job.progress)
            return not job.is_open

        done = _wait(beta, queued["id"], django_db_blocker, until=finished, timeout=120)
        assert done.status == "succeeded", done.error
        assert done.result["subscribers"]["created"] == 10_000
        assert done.result["packages"]["created"] == 50
        assert len(seen_progress) >= 2  # progress was visible while it ran
        with django_db_blocker.unblock():
            with schema_context(beta.schema):
                assert Subscriber.objects.filter(owner=beta.sibling, username__startswith="sub").count() == 10_000
                assert done.snapshots.count() == 3
            with schema_context(alpha.schema):  # the other ISP got nothing
                assert not Subscriber.objects.filter(username__startswith="sub").exists()
                assert not Package.objects.filter(name__startswith="plan-").exists()
    finally:
        _cleanup(beta, django_db_blocker, nas)


def test_a_job_that_never_reached_the_queue_is_resumed(beta, celery_worker_process, fake_router, django_db_blocker):
    from datetime import timedelta

    from django.utils import timezone

    from network.routers.models import JobKind
    from network.routers.services import router_jobs_resume

    router = fake_router(identity="resumed-bng")
    with django_db_blocker.unblock():
        nas = nas_for(beta, router, name="edge-resume")
    try:
        with django_db_blocker.unblock(), schema_context(beta.schema):
            # As if the broker was down when the request committed: a queued row and no message.
            lost = RouterJob.objects.create(nas=nas, kind=JobKind.TEST_CONNECTION, created_by=beta.admin)
            fresh = RouterJob.objects.create(nas=nas, kind=JobKind.LIVE_VIEW, created_by=beta.admin)
            RouterJob.objects.filter(pk=lost.pk).update(created=timezone.now() - timedelta(minutes=30))
            assert router_jobs_resume(idle=timedelta(minutes=10)) == [lost.pk]
        done = _wait(beta, lost.pk, django_db_blocker, until=lambda j: not j.is_open)
        assert done.status == "succeeded" and done.result["identity"] == "resumed-bng"
        with django_db_blocker.unblock(), schema_context(beta.schema):
            assert RouterJob.objects.get(pk=fresh.pk).status == "queued"  # not stale yet: left alone
    finally:
        _cleanup(beta, django_db_blocker, nas)
