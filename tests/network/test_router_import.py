"""Import of pools, profiles and secrets from the fake router, including 10,000 secrets."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django_tenants.utils import schema_context

from config.crypto import secret_decrypt
from hierarchy.models import Package, PackageAssignment, Subscriber, SubscriberStatus
from network.models import RouterIpPool, RouterJob
from network.routers.models import JobKind, JobStatus
from network.routers.services import router_job_enqueue
from tests.network.conftest import nas_for, run_job
from tests.routeros.seed import seed_isp

pytestmark = pytest.mark.django_db


def _import(isp, nas, **params) -> RouterJob:
    params.setdefault("owner_id", isp.sub_reseller.pk)
    with schema_context(isp.schema):
        job = router_job_enqueue(actor=isp.admin, nas=nas, kind=JobKind.IMPORT, params=params)
    run_job(isp, job.pk)
    with schema_context(isp.schema):
        return RouterJob.objects.get(pk=job.pk)


def test_import_of_10000_secrets_and_50_profiles(alpha, fake_router):
    router = fake_router()
    seed_isp(router, secrets=10_000, profiles=50, online=10)
    nas = nas_for(alpha, router)
    started = time.monotonic()
    job = _import(alpha, nas)
    elapsed = time.monotonic() - started
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert elapsed < 60
    result = job.result
    assert result["read"] == {"ip_pools": 3, "ppp_profiles": 52, "ppp_secrets": 10_000}
    assert result["packages"]["created"] == 50 and result["packages"]["skipped"] == 2  # default profiles
    assert result["subscribers"]["created"] == 10_000
    with schema_context(alpha.schema):
        imported = Subscriber.objects.filter(username__startswith="sub", owner=alpha.sub_reseller)
        assert imported.count() == 10_000
        sub = imported.select_related("package").get(username="sub00042")
        assert sub.password == "pw00042" and sub.package.name == "plan-43M"
        assert (sub.package.download_kbps, sub.package.upload_kbps) == (43_000, 43_000)
        # The sub-reseller can sell the imported packages: assigned down its branch.
        assert PackageAssignment.objects.filter(package=sub.package, operator=alpha.sub_reseller).exists()
        assert PackageAssignment.objects.filter(package=sub.package, operator=alpha.reseller).exists()
        pools = {p.name: p for p in RouterIpPool.objects.filter(nas=nas)}
        assert pools["hotspot-pool"].ranges == "10.5.50.0-10.5.50.255" and pools["hotspot-pool"].size == 256
        assert pools["pppoe-pool"].size == 64 * 256 - 3
        snapshot = job.snapshots.get(menu="ppp_secret")
    rows = list(csv.DictReader(io.StringIO(secret_decrypt(snapshot.csv_encrypted))))
    assert snapshot.rows == len(rows) == 10_000
    assert rows[42]["name"] == "sub00042" and rows[42]["password"] == "pw00042"
    assert "pw00042" not in snapshot.csv_encrypted  # encrypted at rest

    again = _import(alpha, nas)
    assert again.status == JobStatus.SUCCEEDED
    assert again.result["subscribers"]["created"] == 0
    assert again.result["subscribers"]["duplicates"] == 10_000
    assert again.result["packages"]["duplicates"] == 50
    with schema_context(alpha.schema):
        assert Subscriber.objects.filter(username__startswith="sub").count() == 10_000


def test_disabled_secrets_are_optional_and_duplicates_are_reported(alpha, fake_router):
    router = fake_router()
    router.seed("/ppp/profile", [{"name": "gold", "rate-limit": "5M/20M 10M/40M 4M/16M 16/16"}])
    router.seed("/ppp/secret", [
        {"name": "carol", "password": "other", "profile": "gold"},  # exists already (persona)
        {"name": "dave", "password": "d-pass", "profile": "gold", "remote-address": "100.64.1.9"},
        {"name": "erin", "password": "e-pass", "profile": "gold", "disabled": "yes"},
        {"name": "frank", "password": "f-pass", "profile": "default"},
    ])
    router.seed("/ip/pool", [{"name": "odd", "ranges": "10.0.0.9-10.0.0.1"}])
    nas = nas_for(alpha, router)
    job = _import(alpha, nas, default_package_id=alpha.package.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    subs = job.result["subscribers"]
    assert (subs["created"], subs["duplicates"], subs["skipped"]) == (2, 1, 1)
    reasons = {d["name"]: d["reason"] for d in subs["details"]}
    assert reasons["erin"] == "disabled on the router"
    assert "exists" in reasons["carol"]
    assert "starts after it ends" in job.result["ip_pools"]["details"][0]["reason"]
    with schema_context(alpha.schema):
        gold = Package.objects.get(name="gold")
        assert (gold.download_kbps, gold.upload_kbps, gold.burst_download_kbps, gold.burst_time_seconds) == (
            20_000, 5_000, 40_000, 16)
        assert Subscriber.objects.get(username="dave").ip_address == "100.64.1.9"
        assert Subscriber.objects.get(username="frank").package == alpha.package
        assert Subscriber.objects.get(username="carol").password == "pppoe-secret"  # untouched
    with_disabled = _import(alpha, nas, include_disabled=True)
    assert with_disabled.result["subscribers"]["created"] == 1
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(username="erin").status == SubscriberStatus.DISABLED
