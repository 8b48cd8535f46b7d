"""Moving a router from local secrets to RADIUS, verified against a real (tiny) RADIUS server."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from network.models import Nas, RouterJob
from network.routers.models import JobKind, JobStatus
from network.routers.services import router_job_enqueue
from tests.network.conftest import menus_state, nas_for, run_job
from tests.network.radius_responder import RadiusResponder
from tests.routeros.fake_server import FakeRouter
from tests.routeros.menus import CommandTrap
from tests.routeros.seed import seed_isp

pytestmark = pytest.mark.django_db


class RefusesToDropSessions(FakeRouter):
    """A router that fails the last step: it will not remove active PPP sessions."""

    def _run(self, user, request):
        if request.command == "/ppp/active/remove":
            raise CommandTrap("failure: session is busy")
        return super()._run(user, request)


def _prepared(alpha, router, settings, responder) -> Nas:
    seed_isp(router, secrets=1200, profiles=3, online=5)
    router.seed("/ppp/secret", [{"name": "old-off", "password": "x", "disabled": "yes"}])
    nas = nas_for(alpha, router, uses_radius=False)
    settings.RADIUS_SERVER_ADDRESS = responder.address
    settings.RADIUS_AUTH_PORT = responder.port
    responder.clients[nas.address] = nas.secret
    responder.users["carol"] = "pppoe-secret"
    with schema_context(alpha.schema):
        job = router_job_enqueue(actor=alpha.admin, nas=nas, kind=JobKind.PROVISION)
    run_job(alpha, job.pk)
    return nas


def _migrate(alpha, nas, **params) -> RouterJob:
    with schema_context(alpha.schema):
        job = router_job_enqueue(actor=alpha.admin, nas=nas, kind=JobKind.MIGRATE_TO_RADIUS, params=params)
    run_job(alpha, job.pk)
    with schema_context(alpha.schema):
        return RouterJob.objects.get(pk=job.pk)


def test_migration_disables_secrets_and_drops_sessions(alpha, fake_router, settings):
    router = fake_router()
    with RadiusResponder() as responder:
        nas = _prepared(alpha, router, settings, responder)
        job = _migrate(alpha, nas, probe_username="carol")
        assert job.status == JobStatus.SUCCEEDED, job.error
        assert responder.requests == [(nas.address, "carol"), (nas.address, "carol")]
    assert job.result == {"probe_username": "carol", "secrets_disabled": 1200, "sessions_dropped": 5}
    assert all(row["disabled"] == "true" for row in router.rows("/ppp/secret"))
    assert router.rows("/ppp/active") == []
    assert router.singleton("/ppp/aaa")["use-radius"] == "true"
    with schema_context(alpha.schema):
        assert Nas.objects.get(pk=nas.pk).uses_radius is True


def test_failure_after_changes_rolls_everything_back(alpha, fake_router, settings):
    router = fake_router(router_class=RefusesToDropSessions)
    with RadiusResponder() as responder:
        nas = _prepared(alpha, router, settings, responder)
        before = menus_state(router)
        job = _migrate(alpha, nas)
    assert job.status == JobStatus.FAILED
    assert job.failed_step == "6. Drop active sessions so they re-authenticate through RADIUS"
    assert "session is busy" in job.error
    assert "Rolled back: re-enabled 1200 PPP secrets, restored /ppp aaa use-radius=yes" in job.error
    after = menus_state(router)
    assert after["/ppp/secret"] == before["/ppp/secret"]  # old-off stays disabled, the rest enabled again
    assert after["/ppp/aaa"] == before["/ppp/aaa"]
    assert len(after["/ppp/active"]) == 5
    with schema_context(alpha.schema):
        assert Nas.objects.get(pk=nas.pk).uses_radius is False


def test_radius_that_does_not_answer_changes_nothing(alpha, fake_router, settings):
    router = fake_router()
    with RadiusResponder() as responder:
        nas = _prepared(alpha, router, settings, responder)
        del responder.clients[nas.address]  # our RADIUS does not know this NAS
        before = menus_state(router)
        job = _migrate(alpha, nas, probe_username="carol")
    assert job.status == JobStatus.FAILED
    assert job.failed_step == "1. RADIUS answers for this router"
    assert "did not answer an Access-Request" in job.error
    assert menus_state(router) == before


def test_radius_rejecting_the_test_subscriber_changes_nothing(alpha, fake_router, settings):
    router = fake_router()
    with RadiusResponder() as responder:
        nas = _prepared(alpha, router, settings, responder)
        responder.users["carol"] = "something-else"
        before = menus_state(router)
        job = _migrate(alpha, nas, probe_username="carol")
    assert job.status == JobStatus.FAILED
    assert "rejected test subscriber 'carol': unknown user or wrong password" in job.error
    assert menus_state(router) == before


def probe_that_refuses(*, nas, username, password):
    from network.routers.radius_probe import RadiusProbeFailed

    raise RadiusProbeFailed(f"lab probe refused {username} for {nas.name}")


def test_the_radius_check_is_pluggable(alpha, fake_router, settings):
    router = fake_router()
    with RadiusResponder() as responder:
        nas = _prepared(alpha, router, settings, responder)
    settings.ROUTER_RADIUS_PROBE = "tests.network.test_router_migration.probe_that_refuses"
    job = _migrate(alpha, nas, probe_username="carol")
    assert job.status == JobStatus.FAILED and job.error == "lab probe refused carol for core-1"
