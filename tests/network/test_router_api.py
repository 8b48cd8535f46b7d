"""The router API: 202 + job for every router action, scope by the role tree, isolation between ISPs."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from config.crypto import secret_decrypt
from network.models import Nas, RouterJob
from network.routers.models import JobStatus
from tests.conftest import host_client
from tests.network.conftest import API_USER, READ_ONLY_USER, nas_for, next_address, run_job
from tests.routeros.fake_server import FakeUser
from tests.routeros.seed import seed_isp

pytestmark = pytest.mark.django_db


class Api:
    def __init__(self, isp, user):
        with schema_context(isp.schema):
            self.token = Token.objects.get_or_create(user=user)[0].key
        self.client = host_client(isp.host)

    def get(self, path):
        return self.client.get(path, HTTP_AUTHORIZATION=f"Token {self.token}")

    def post(self, path, data=None):
        return self.client.post(path, data or {}, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Token {self.token}")


def _job(isp, response) -> RouterJob:
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["attempts"] == 0
    run_job(isp, body["id"])
    with schema_context(isp.schema):
        return RouterJob.objects.get(pk=body["id"])


def test_create_router_stores_the_password_encrypted_and_generates_a_secret(alpha):
    api = Api(alpha, alpha.admin)
    address = "198.51.100.21"
    response = api.post("/api/v1/routers/", {
        "name": "tower-7", "address": address, "api_username": "backhaul", "api_password": "p@ss word",
        "owner_id": alpha.sub_reseller.pk, "uses_radius": False,
    })
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner_id"] == alpha.sub_reseller.pk and body["api_port"] == 8728
    assert len(body["radius_secret"]) == 32 and body["radius_secret"].isalnum()
    assert "api_password" not in body
    with schema_context(alpha.schema):
        nas = Nas.objects.get(pk=body["id"])
    assert "p@ss word" not in nas.api_password_encrypted
    assert secret_decrypt(nas.api_password_encrypted) == "p@ss word"
    again = api.post("/api/v1/routers/", {"name": "dup", "address": address, "api_username": "a",
                                          "api_password": "b"})
    assert again.status_code == 400 and again.json()["errors"]["address"]
    outside = api.post("/api/v1/routers/", {"name": "x", "address": "198.51.100.22", "api_username": "a",
                                            "api_password": "b", "owner_id": 999999})
    assert outside.status_code == 400 and "owner_id" in outside.json()["errors"]
    bad = api.post("/api/v1/routers/", {"name": "x", "address": "not a host!", "api_username": "a"})
    assert bad.status_code == 400 and {"api_password"} <= set(bad.json()["errors"])
    bad = api.post("/api/v1/routers/", {"name": "x", "address": "not a host!", "api_username": "a",
                                        "api_password": "b"})
    assert bad.status_code == 400 and "address" in bad.json()["errors"]
    # The network is the ISP's: a reseller may not register one, even under its own node.
    refused = Api(alpha, alpha.reseller_user).post("/api/v1/routers/", {
        "name": "x", "address": "198.51.100.23", "api_username": "a", "api_password": "b"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"


def test_customer_cannot_register_or_see_routers(alpha, fake_router):
    nas_for(alpha, fake_router())
    api = Api(alpha, alpha.customer_user)
    assert api.get("/api/v1/routers/").status_code == 403  # a customer's login has no routers to read
    response = api.post("/api/v1/routers/", {"name": "x", "address": next_address(), "api_username": "a",
                                             "api_password": "b"})
    assert response.status_code == 403


def test_scope_sibling_reseller_and_other_isp_cannot_see_or_act(alpha, beta, fake_router):
    router = fake_router()
    nas = nas_for(alpha, router, owner=alpha.sub_reseller)
    admin, reseller, sub = Api(alpha, alpha.admin), Api(alpha, alpha.reseller_user), Api(alpha, alpha.sub_reseller_user)
    for api in (admin, reseller, sub):
        assert [r["id"] for r in api.get("/api/v1/routers/").json()["results"]] == [nas.pk]
    job = _job(alpha, sub.post(f"/api/v1/routers/{nas.pk}/test-connection/"))
    sibling, other_isp = Api(alpha, alpha.sibling_user), Api(beta, beta.admin)
    for outsider in (sibling, other_isp):
        assert outsider.get("/api/v1/routers/").json()["results"] == []
        assert outsider.get(f"/api/v1/routers/{nas.pk}/").json() == {
            "detail": "No such router in your part of the tree.", "code": "not_found"}
        for action in ("test-connection", "provision", "import", "migrate-to-radius", "live"):
            assert outsider.post(f"/api/v1/routers/{nas.pk}/{action}/").status_code == 404, action
        assert outsider.post(f"/api/v1/routers/{nas.pk}/subscribers/carol/suspend/").status_code == 404
        assert outsider.get(f"/api/v1/router-jobs/{job.pk}/").status_code == 404
        assert outsider.post(f"/api/v1/router-jobs/{job.pk}/cancel/").status_code == 404
    # Beta's own token on alpha's host is not a token at all.
    stray = host_client(alpha.host).get("/api/v1/routers/", HTTP_AUTHORIZATION=f"Token {other_isp.token}")
    assert stray.status_code == 401
    with schema_context(alpha.schema):
        assert RouterJob.objects.filter(nas=nas).count() == 1


def test_test_connection_reports_version_identity_and_rights(alpha, fake_router):
    router = fake_router(identity="core-bng-1")
    admin = Api(alpha, alpha.admin)
    full = nas_for(alpha, router, name="full")
    job = _job(alpha, admin.post(f"/api/v1/routers/{full.pk}/test-connection/"))
    assert job.status == JobStatus.SUCCEEDED
    assert job.result["version"].startswith("7.") and job.result["identity"] == "core-bng-1"
    assert job.result["uptime"] == "1w2d3h4m5s" and job.result["can_write"] is True
    detail = admin.get(f"/api/v1/routers/{full.pk}/").json()
    assert detail["status"] == "online" and detail["identity"] == "core-bng-1"

    read_only = fake_router()
    nas = nas_for(alpha, read_only, user=READ_ONLY_USER, name="ro")
    job = _job(alpha, admin.post(f"/api/v1/routers/{nas.pk}/test-connection/"))
    assert job.status == JobStatus.SUCCEEDED and job.result["can_write"] is False
    assert "group 'read', which has no 'write' policy" in job.result["rights_message"]

    missing = fake_router(users=[API_USER])
    nas = nas_for(alpha, missing, user=FakeUser("nobody", "x"), name="missing")
    job = _job(alpha, admin.post(f"/api/v1/routers/{nas.pk}/test-connection/"))
    assert job.status == JobStatus.FAILED and job.attempts == 1  # a wrong login is not retried
    assert "rejected API user 'nobody': invalid user name or password" in job.error


def test_live_view_and_suspend_reactivate_on_a_non_radius_router(alpha, fake_router):
    router = fake_router()
    seed_isp(router, secrets=3, profiles=1, online=2)
    router.seed("/ppp/secret", [{"name": "carol", "password": "pppoe-secret"}])
    router.seed("/ppp/active", [{"name": "carol", "address": "100.64.9.1", "radius": "false"}])
    nas = nas_for(alpha, router, owner=alpha.sub_reseller, uses_radius=False)
    sub = Api(alpha, alpha.sub_reseller_user)
    live = _job(alpha, sub.post(f"/api/v1/routers/{nas.pk}/live/"))
    assert live.status == JobStatus.SUCCEEDED
    assert [s["name"] for s in live.result["ppp_sessions"]] == ["sub00000", "sub00001", "carol"]
    assert live.result["hotspot_hosts"][0]["mac_address"] == "DE:AD:BE:EF:00:01"
    assert live.result["resource"]["cpu_load"] == 3

    # Suspending on the router changes the router: the ISP's (Act.ROUTER_OPERATE), not the sub-reseller's.
    assert sub.post(f"/api/v1/routers/{nas.pk}/subscribers/carol/suspend/").status_code == 403
    admin = Api(alpha, alpha.admin)
    job = _job(alpha, admin.post(f"/api/v1/routers/{nas.pk}/subscribers/carol/suspend/"))
    assert job.status == JobStatus.SUCCEEDED and job.result["sessions_ended"] == 1
    carol = next(r for r in router.rows("/ppp/secret") if r["name"] == "carol")
    assert carol["disabled"] == "true"
    assert [s["name"] for s in router.rows("/ppp/active")] == ["sub00000", "sub00001"]
    job = _job(alpha, admin.post(f"/api/v1/routers/{nas.pk}/subscribers/carol/reactivate/"))
    assert job.status == JobStatus.SUCCEEDED
    assert next(r for r in router.rows("/ppp/secret") if r["name"] == "carol")["disabled"] == "false"
    # No such customer, and not a subscriber of a RADIUS router through this path.
    assert admin.post(f"/api/v1/routers/{nas.pk}/subscribers/nobody/suspend/").status_code == 404
    radius_nas = nas_for(alpha, fake_router(), owner=alpha.sub_reseller, name="radius-bng")
    refused = admin.post(f"/api/v1/routers/{radius_nas.pk}/subscribers/carol/suspend/")
    assert refused.status_code == 400 and "uses RADIUS" in refused.json()["detail"]


def test_jobs_list_cancel_and_one_open_reconfiguration_per_router(alpha, fake_router):
    nas = nas_for(alpha, fake_router())
    admin = Api(alpha, alpha.admin)
    first = admin.post(f"/api/v1/routers/{nas.pk}/provision/", {"dry_run": True})
    assert first.status_code == 202
    second = admin.post(f"/api/v1/routers/{nas.pk}/import/", {})
    assert second.status_code == 409 and "already has an open provision job" in second.json()["detail"]
    listed = admin.get(f"/api/v1/router-jobs/?router={nas.pk}").json()["results"]
    assert [j["id"] for j in listed] == [first.json()["id"]]
    cancelled = admin.post(f"/api/v1/router-jobs/{first.json()['id']}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["error"] == f"Cancelled by {alpha.admin.email}."
    assert admin.post(f"/api/v1/router-jobs/{first.json()['id']}/cancel/").status_code == 409
    run_job(alpha, first.json()["id"])  # the worker picks it up later and leaves it alone
    assert admin.get(f"/api/v1/router-jobs/{first.json()['id']}/").json()["status"] == "cancelled"
    assert admin.post(f"/api/v1/routers/{nas.pk}/import/", {"owner_id": 999999}).status_code == 400
    assert admin.post(f"/api/v1/routers/{nas.pk}/provision/", {"dry_run": "maybe"}).status_code == 400
    assert admin.post(f"/api/v1/routers/{nas.pk}/import/", {}).status_code == 202


def test_import_snapshot_csv_download(alpha, fake_router):
    router = fake_router()
    seed_isp(router, secrets=5, profiles=2, online=0)
    nas = nas_for(alpha, router)
    admin = Api(alpha, alpha.admin)
    job = _job(alpha, admin.post(f"/api/v1/routers/{nas.pk}/import/", {"owner_id": alpha.reseller.pk}))
    assert job.status == JobStatus.SUCCEEDED, job.error
    response = admin.get(f"/api/v1/router-jobs/{job.pk}/snapshots/ppp_secret.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert b"sub00003,pw00003" in response.content
    assert Api(alpha, alpha.sibling_user).get(f"/api/v1/router-jobs/{job.pk}/snapshots/ppp_secret.csv"
                                              ).status_code == 404


def test_a_reseller_import_uses_existing_packages_and_creates_none(alpha, fake_router):
    router = fake_router()
    router.seed("/ppp/profile", [{"name": "Home 20M", "rate-limit": "5M/20M"}, {"name": "new-plan", "rate-limit": "1M/1M"}])
    router.seed("/ppp/secret", [{"name": "rs-a", "password": "a", "profile": "Home 20M"},
                                {"name": "rs-b", "password": "b", "profile": "new-plan"}])
    nas = nas_for(alpha, router, owner=alpha.reseller)
    reseller = Api(alpha, alpha.reseller_user)
    with schema_context(alpha.schema):
        from hierarchy.models import Package

        foreign = Package.objects.create(name="Staff only", type="pppoe", download_kbps=1, upload_kbps=1, price=1)
    refused = reseller.post(f"/api/v1/routers/{nas.pk}/import/", {"default_package_id": foreign.pk})
    assert refused.status_code == 400 and "default_package_id" in refused.json()["errors"]
    job = _job(alpha, reseller.post(f"/api/v1/routers/{nas.pk}/import/",
                                    {"owner_id": alpha.sub_reseller.pk, "default_package_id": alpha.package.pk}))
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.params["create_packages"] is False
    packages = job.result["packages"]
    assert packages["created"] == 0 and packages["duplicates"] == 1  # "Home 20M" is used as it is
    assert {"name": "new-plan", "outcome": "skipped",
            "reason": "no package of this name; only the ISP can create packages"} in packages["details"]
    assert job.result["subscribers"]["created"] == 2
    with schema_context(alpha.schema):
        from hierarchy.models import Package, Subscriber

        assert not Package.objects.filter(name="new-plan").exists()
        assert {s.package_id for s in Subscriber.objects.filter(username__in=["rs-a", "rs-b"])} == {alpha.package.pk}


def test_router_addresses_are_unique_across_isps_even_without_radius(alpha, beta):
    """A router not (yet) using RADIUS still claims its address platform-wide."""
    from django.core.exceptions import ValidationError
    from django_tenants.utils import schema_context

    from network.routers.services import router_create

    with schema_context(alpha.schema):
        router_create(actor=alpha.admin, owner=alpha.root, name="edge", address="198.51.100.77", api_username="api",
                      api_password="pw-123456", uses_radius=False)
    with schema_context(beta.schema), pytest.raises(ValidationError, match="already registered"):
        router_create(actor=beta.admin, owner=beta.root, name="edge", address="198.51.100.77", api_username="api",
                      api_password="pw-123456", uses_radius=False)
