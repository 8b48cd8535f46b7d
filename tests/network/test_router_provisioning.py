"""Zero-touch provisioning against the fake RouterOS server: converges, dry-runs, fails clearly."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import schema_context

from network.models import RouterJob
from network.routers.models import JobKind, JobStatus
from network.routers.services import router_job_enqueue
from tests.network.conftest import READ_ONLY_USER, menus_state, nas_for, run_job
from tests.routeros.seed import seed_isp

pytestmark = pytest.mark.django_db


def _provision(alpha, nas, **params) -> RouterJob:
    with schema_context(alpha.schema):
        job = router_job_enqueue(actor=alpha.admin, nas=nas, kind=JobKind.PROVISION, params=params)
    run_job(alpha, job.pk)
    with schema_context(alpha.schema):
        return RouterJob.objects.get(pk=job.pk)


def test_provisioning_configures_the_router(alpha, fake_router, settings):
    settings.RADIUS_SERVER_ADDRESS = "198.51.100.7"
    router = fake_router()
    seed_isp(router, secrets=5, profiles=2, online=1)
    nas = nas_for(alpha, router, name="bng-north")
    job = _provision(alpha, nas)
    assert job.status == JobStatus.SUCCEEDED, job.error
    ours = [row for row in router.rows("/radius") if row.get("comment") == "backhaul"]
    assert len(ours) == 1
    assert ours[0]["address"] == "198.51.100.7" and ours[0]["secret"] == nas.secret
    assert ours[0]["service"] == "ppp,hotspot"
    aaa = router.singleton("/ppp/aaa")
    assert (aaa["use-radius"], aaa["accounting"], aaa["interim-update"]) == ("true", "true", "5m")
    assert router.singleton("/radius/incoming") == {"accept": "true", "port": "3799"}
    for profile in router.rows("/ip/hotspot/profile"):
        assert profile["use-radius"] == "true" and profile["login-by"].startswith("mac")
    assert {"dst-host": "alpha.localhost"}.items() <= router.rows("/ip/hotspot/walled-garden")[-1].items()
    pool = alpha.tenant.suspended_pool
    assert [p["ranges"] for p in router.rows("/ip/pool") if p["name"] == pool] == ["172.31.255.2-172.31.255.254"]
    drops = [r for r in router.rows("/ip/firewall/filter") if r.get("src-address-list") == pool]
    assert [r["action"] for r in drops] == ["accept", "accept", "drop"]
    default = next(p for p in router.rows("/ppp/profile") if p["name"] == "default")
    assert "/ppp active remove" in default["on-up"]
    assert router.singleton("/system/identity")["name"] == "bng-north"
    assert job.result["changed"] > 0 and job.progress == 100
    assert all("=secret=***" in c for c in job.result["commands"] if c.startswith("/radius/add"))
    assert nas.secret not in json.dumps(job.result) and "api-pass-1" not in json.dumps(job.result)
    with schema_context(alpha.schema):
        nas.refresh_from_db()
    assert nas.provisioned_at is not None and nas.status == "online"


def test_provisioning_twice_gives_the_same_router_state(alpha, fake_router):
    router = fake_router()
    seed_isp(router, secrets=20, profiles=3, online=2)
    nas = nas_for(alpha, router)
    assert _provision(alpha, nas).status == JobStatus.SUCCEEDED
    after_first = menus_state(router)
    writes_before = len(router.commands)
    second = _provision(alpha, nas)
    assert second.status == JobStatus.SUCCEEDED
    assert menus_state(router) == after_first
    assert second.result["changed"] == 0 and second.result["commands"] == []
    sent = [c.command for c in router.commands[writes_before:]]
    assert not [c for c in sent if c.rsplit("/", 1)[-1] in {"add", "set", "remove"}]


def test_dry_run_lists_the_exact_commands_and_changes_nothing(alpha, fake_router):
    router = fake_router()
    seed_isp(router, secrets=3, profiles=1, online=0)
    nas = nas_for(alpha, router)
    before = menus_state(router)
    dry = _provision(alpha, nas, dry_run=True)
    assert dry.status == JobStatus.SUCCEEDED and dry.result["dry_run"] is True
    assert menus_state(router) == before
    commands = dry.result["commands"]
    assert "/ppp/aaa/set =use-radius=yes =interim-update=5m" in commands
    assert "/radius/incoming/set =accept=yes" in commands
    assert any(c.startswith("/radius/add =comment=backhaul =service=ppp,hotspot") and "=secret=***" in c
               for c in commands)
    assert "/system/identity/set =name=core-1" in commands
    # The real run sends exactly what the dry run listed.
    real = _provision(alpha, nas)
    assert real.result["commands"] == commands


def test_failure_midway_reports_the_step_and_a_rerun_converges(alpha, fake_router):
    router = fake_router()
    hotspot = router._menus.pop("/ip/hotspot/walled-garden")  # a router without the hotspot package
    nas = nas_for(alpha, router)
    failed = _provision(alpha, nas)
    assert failed.status == JobStatus.FAILED
    assert failed.failed_step == "5. Walled garden: customer portal"
    assert "no such command" in failed.error
    assert len([r for r in router.rows("/radius") if r.get("comment") == "backhaul"]) == 1  # steps 1-4 done
    router._menus["/ip/hotspot/walled-garden"] = hotspot
    assert _provision(alpha, nas).status == JobStatus.SUCCEEDED
    state = menus_state(router)
    assert _provision(alpha, nas).result["changed"] == 0
    assert menus_state(router) == state
    assert len([r for r in router.rows("/radius") if r.get("comment") == "backhaul"]) == 1


def test_api_user_without_write_rights_gets_a_clear_message(alpha, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router, user=READ_ONLY_USER)
    before = menus_state(router)
    job = _provision(alpha, nas)
    assert job.status == JobStatus.FAILED
    assert job.failed_step == "1. RADIUS client for PPP and hotspot"
    assert "API user 'auditor' has no write permission (group 'read')" in job.error
    assert menus_state(router) == before
