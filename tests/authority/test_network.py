"""The network belongs to the ISP, and the platform connects only where it should.

Each test is an attempt as an attacker would make it (an API call as that role, a direct service call, a
router import, a router row moved by hand) and asserts the refusal and that nothing changed.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from guardian.shortcuts import assign_perm
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership, Package, Subscriber
from network import egress
from network.models import DisconnectRequest, Nas, RadiusActionKind, RadiusActionStatus, RouterJob
from network.radius.coa import NasAddressRefused, coa_send
from network.routers.models import JobKind, JobStatus
from network.routers.services import router_create, router_delete, router_job_enqueue, router_update
from network.services import nas_create, nas_delete, nas_update
from tests.conftest import host_client
from tests.network.conftest import API_USER, LOOPBACK, nas_for, next_address, run_job
from tests.routeros.fake_server import FakeRouter
from tests.support.attacks import nothing_changes, staff
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db

ROUTER = {"name": "edge", "api_username": "backhaul", "api_password": "api-pass-1"}


class Api:
    def __init__(self, isp: Any, user: Any) -> None:
        with schema_context(isp.schema):
            self.token = Token.objects.get_or_create(user=user)[0].key
        self.client = host_client(isp.host)

    def get(self, path: str) -> Any:
        return self.client.get(path, HTTP_AUTHORIZATION=f"Token {self.token}")

    def post(self, path: str, data: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, data or {}, content_type="application/json",
                                HTTP_AUTHORIZATION=f"Token {self.token}")

    def patch(self, path: str, data: dict[str, Any]) -> Any:
        return self.client.patch(path, data, content_type="application/json", HTTP_AUTHORIZATION=f"Token {self.token}")

    def delete(self, path: str) -> Any:
        return self.client.delete(path, HTTP_AUTHORIZATION=f"Token {self.token}")


def _router(isp: Any, owner: Any, address: str, name: str = "edge") -> Nas:
    """A router row at a documentation address (nothing listens there; these tests never connect)."""
    with schema_context(isp.schema):
        return router_create(actor=isp.admin, owner=owner, name=name, address=address, api_username="api",
                             api_password="api-pass-1")


@contextmanager
def nothing_changes_in(isp: Any) -> Iterator[None]:
    """``nothing_changes()`` around API calls: each request leaves the connection on another schema."""
    with schema_context(isp.schema), nothing_changes():
        yield
        connection.set_schema(isp.schema)  # type: ignore[attr-defined]  # django-tenants' wrapper


def _nas_count(isp: Any) -> int:
    with schema_context(isp.schema):
        return Nas.objects.count()


# --- registering is the ISP's ------------------------------------------------------------------------------


def test_a_reseller_may_not_register_a_nas(alpha):
    before = _nas_count(alpha)
    with nothing_changes_in(alpha):
        response = Api(alpha, alpha.reseller_user).post("/api/v1/nas/", {
            "name": "rogue", "address": "198.51.100.10", "secret": "secret-123"})
    assert response.status_code == 403, response.json()
    assert response.json() == {"detail": "Your role may not register NASes here.", "code": "permission_denied"}
    assert _nas_count(alpha) == before


def test_a_reseller_may_not_register_change_or_remove_a_router(alpha):
    mine = _router(alpha, alpha.sub_reseller, "198.51.100.11")
    reseller = Api(alpha, alpha.reseller_user)
    with nothing_changes_in(alpha):
        created = reseller.post("/api/v1/routers/", {**ROUTER, "address": "198.51.100.12"})
        changed = reseller.patch(f"/api/v1/routers/{mine.pk}/", {"address": "198.51.100.13"})
        secret = reseller.patch(f"/api/v1/nas/{mine.pk}/", {"secret": "new-secret-1"})
        removed = reseller.delete(f"/api/v1/routers/{mine.pk}/")
        provision = reseller.post(f"/api/v1/routers/{mine.pk}/provision/", {})
    assert created.status_code == 403 and created.json()["code"] == "permission_denied"
    assert [changed.status_code, secret.status_code, removed.status_code, provision.status_code] == [403] * 4
    with schema_context(alpha.schema):
        kept = Nas.objects.get(pk=mine.pk)
        assert (kept.address, kept.secret) == ("198.51.100.11", mine.secret)
        assert not RouterJob.objects.filter(nas=mine).exists()
    assert _nas_count(alpha) == 1


def test_a_reseller_sees_its_subtree_routers_read_only(alpha):
    below = _router(alpha, alpha.sub_reseller, "198.51.100.14", name="below")
    _router(alpha, alpha.sibling, "198.51.100.15", name="sibling's")
    _router(alpha, alpha.root, "198.51.100.16", name="core")
    reseller = Api(alpha, alpha.reseller_user)
    listed = reseller.get("/api/v1/routers/").json()["results"]
    assert [r["id"] for r in listed] == [below.pk]
    assert [n["id"] for n in reseller.get("/api/v1/nas/").json()["results"]] == [below.pk]
    assert reseller.get(f"/api/v1/routers/{below.pk}/").status_code == 200
    # Looking is allowed (a test-connection job), changing is not.
    assert reseller.post(f"/api/v1/routers/{below.pk}/test-connection/").status_code == 202
    assert reseller.patch(f"/api/v1/routers/{below.pk}/", {"name": "mine now"}).status_code == 403
    admin = Api(alpha, alpha.admin)
    assert len(admin.get("/api/v1/routers/").json()["results"]) == 3


def test_a_guardian_granted_staff_login_may_register_and_an_ungranted_one_may_not(alpha):
    with schema_context(alpha.schema):
        granted = staff(alpha, Role.SUPPORT)
        plain = staff(alpha, Role.MANAGER)
        assign_perm("hierarchy.manage_network", granted, alpha.root)
    refused = Api(alpha, plain).post("/api/v1/routers/", {**ROUTER, "address": "198.51.100.17"})
    assert refused.status_code == 403
    created = Api(alpha, granted).post("/api/v1/routers/", {**ROUTER, "address": "198.51.100.17"})
    assert created.status_code == 201, created.json()
    nas = Api(alpha, granted).post("/api/v1/nas/", {"name": "core-2", "address": "198.51.100.18",
                                                    "secret": "secret-123"})
    assert nas.status_code == 201, nas.json()


def test_direct_service_calls_as_a_reseller_are_denied(alpha):
    router = _router(alpha, alpha.sub_reseller, "198.51.100.19")
    reseller = alpha.reseller_user
    with schema_context(alpha.schema), nothing_changes():
        attempts = [
            lambda: nas_create(actor=reseller, owner=alpha.reseller, name="x", address="198.51.100.20",
                               secret="secret-123"),
            lambda: nas_update(actor=reseller, nas=router, secret="stolen-secret"),
            lambda: nas_delete(actor=reseller, nas=router),
            lambda: router_create(actor=reseller, owner=alpha.reseller, name="x", address="198.51.100.20",
                                  api_username="a", api_password="b"),
            lambda: router_update(actor=reseller, nas=router, api_password="mine"),
            lambda: router_delete(actor=reseller, nas=router),
            lambda: router_job_enqueue(actor=reseller, nas=router, kind=JobKind.PROVISION),
            lambda: router_job_enqueue(actor=reseller, nas=router, kind=JobKind.SUBSCRIBER_SUSPEND,
                                       params={"username": "carol"}),
        ]
        for attempt in attempts:
            with pytest.raises(PermissionDenied):
                attempt()
        assert not RouterJob.objects.exists()
        assert Nas.objects.get(pk=router.pk).secret == router.secret


# --- the egress guard at registration ----------------------------------------------------------------------


def test_a_router_at_the_cloud_metadata_address_is_refused(alpha):
    before = _nas_count(alpha)
    response = Api(alpha, alpha.admin).post("/api/v1/routers/", {**ROUTER, "address": "169.254.169.254"})
    assert response.status_code == 400
    assert "link-local" in response.json()["errors"]["address"][0]
    nas = Api(alpha, alpha.admin).post("/api/v1/nas/", {"name": "x", "address": "169.254.169.254",
                                                        "secret": "secret-123"})
    assert nas.status_code == 400 and "link-local" in nas.json()["errors"]["address"][0]
    assert _nas_count(alpha) == before


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1",  # noqa: S104
                                     "255.255.255.255", "fe80::1"])
def test_loopback_and_other_special_addresses_are_refused_by_default(alpha, address):
    response = Api(alpha, alpha.admin).post("/api/v1/routers/", {**ROUTER, "address": address})
    assert response.status_code == 400, response.json()
    assert "the platform does not connect there" in response.json()["errors"]["address"][0]


def test_loopback_is_accepted_only_where_the_platform_allows_it(alpha, settings):
    admin = Api(alpha, alpha.admin)
    assert admin.post("/api/v1/routers/", {**ROUTER, "address": "127.0.0.9"}).status_code == 400
    settings.BACKHAUL_EGRESS_ALLOW = ["127.0.0.0/8"]
    assert admin.post("/api/v1/routers/", {**ROUTER, "address": "127.0.0.9"}).status_code == 201


def test_the_platforms_own_networks_are_refused(alpha, settings):
    settings.BACKHAUL_EGRESS_DENY = ["10.20.0.0/16"]
    response = Api(alpha, alpha.admin).post("/api/v1/routers/", {**ROUTER, "address": "10.20.3.4"})
    assert response.status_code == 400 and "platform's own networks" in response.json()["errors"]["address"][0]
    assert Api(alpha, alpha.admin).post("/api/v1/routers/", {**ROUTER, "address": "10.21.3.4"}).status_code == 201


def test_a_host_name_resolving_to_loopback_is_refused(alpha, monkeypatch):
    answers = {"router.example.net": ["127.0.0.1"], "mixed.example.net": ["198.51.100.30", "127.0.0.1"],
               "edge.example.net": ["198.51.100.31"]}

    def fake_getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answers[host]]

    monkeypatch.setattr(egress.socket, "getaddrinfo", fake_getaddrinfo)
    admin = Api(alpha, alpha.admin)
    for host in ("localhost", "router.example.net", "mixed.example.net"):
        if host == "localhost":
            monkeypatch.undo()  # the real resolver: /etc/hosts
        response = admin.post("/api/v1/routers/", {**ROUTER, "address": host})
        assert response.status_code == 400, (host, response.json())
        assert "loopback" in response.json()["errors"]["address"][0], host
        monkeypatch.setattr(egress.socket, "getaddrinfo", fake_getaddrinfo)
    # A good name is resolved once, here: the router row keeps the checked address, not the name.
    created = admin.post("/api/v1/routers/", {**ROUTER, "address": "edge.example.net"})
    assert created.status_code == 201 and created.json()["address"] == "198.51.100.31"


@pytest.mark.parametrize("field,value", [
    ("api_username", "api\r\n/system/reboot"), ("api_password", "pw\nx"), ("api_password", "pw\0"),
    ("address", "198.51.100.40\r\n"), ("api_port", "8728\r\n"),
])
def test_line_breaks_and_nul_in_router_fields_are_refused(alpha, field, value):
    before = _nas_count(alpha)
    response = Api(alpha, alpha.admin).post("/api/v1/routers/", {**ROUTER, "address": "198.51.100.40",
                                                                 field: value})
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert _nas_count(alpha) == before


# --- the egress guard when connecting ---------------------------------------------------------------------


@pytest.mark.parametrize("address", ["169.254.169.254", "127.0.0.1"])
def test_the_worker_refuses_a_router_moved_to_a_denied_address_by_hand(alpha, monkeypatch, address):
    router = _router(alpha, alpha.root, "198.51.100.50")
    with schema_context(alpha.schema):
        Nas.objects.filter(pk=router.pk).update(address=address)  # behind the services' back
        job = router_job_enqueue(actor=alpha.admin, nas=router, kind=JobKind.TEST_CONNECTION)

    def no_connection(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    run_job(alpha, job.pk)
    with schema_context(alpha.schema):
        job.refresh_from_db()
        assert job.status == JobStatus.FAILED and job.attempts == 1  # refused, not retried
        assert "the platform does not connect there" in job.error and address in job.error
        assert Nas.objects.get(pk=router.pk).status == "unknown"  # never marked online


def test_coa_to_a_nas_moved_to_a_denied_address_is_refused_and_not_retried(alpha, monkeypatch):
    from network.tasks import radius_action_send

    with schema_context(alpha.schema):
        nas = nas_create(actor=alpha.admin, owner=alpha.root, name="core", address="198.51.100.60",
                         secret="secret-123")
        Nas.objects.filter(pk=nas.pk).update(address="169.254.169.254")
        action = DisconnectRequest.objects.create(
            kind=RadiusActionKind.DISCONNECT, subscriber=alpha.customer, username="carol", nas=nas,
            nas_address="169.254.169.254", acct_session_id="s-1")
    monkeypatch.setattr(socket.socket, "sendto", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sent")))
    radius_action_send.apply(args=[alpha.schema, action.pk])
    with schema_context(alpha.schema):
        action.refresh_from_db()
    assert action.status == RadiusActionStatus.FAILED and action.attempts == 1
    assert "link-local" in action.last_error
    with pytest.raises(NasAddressRefused):
        coa_send(address="127.0.0.1", port=3799, secret="x", disconnect=True, username="carol")


def test_url_check_for_later_sms_and_webhook_urls(monkeypatch):
    with pytest.raises(egress.EgressRefused, match="link-local"):
        egress.url_check("https://169.254.169.254/latest/meta-data/")
    with pytest.raises(egress.EgressRefused, match="https://"):
        egress.url_check("http://198.51.100.1/hook")
    with pytest.raises(egress.EgressRefused, match="user name or password"):
        egress.url_check("https://user:pw@198.51.100.1/hook")
    assert str(egress.url_check("https://198.51.100.1:8443/hook").address) == "198.51.100.1"


# --- router import under the importer's own rights ----------------------------------------------------------


@pytest.fixture
def fake_router(settings: Any) -> Iterator[Callable[[], FakeRouter]]:
    """A fake RouterOS router on loopback, which these tests allow explicitly (the default refuses it)."""
    settings.BACKHAUL_EGRESS_ALLOW = [LOOPBACK]
    started: list[FakeRouter] = []

    def start() -> FakeRouter:
        started.append(FakeRouter(host=next_address(), users=[API_USER]).start())
        return started[-1]

    yield start
    for router in started:
        router.stop()


def _import(isp: Any, user: Any, nas: Nas, **params: Any) -> RouterJob:
    response = Api(isp, user).post(f"/api/v1/routers/{nas.pk}/import/", params)
    assert response.status_code == 202, response.json()
    run_job(isp, response.json()["id"])
    with schema_context(isp.schema):
        return RouterJob.objects.get(pk=response.json()["id"])


def test_a_reseller_import_with_update_leaves_the_master_package_alone(alpha, fake_router):
    router = fake_router()
    router.seed("/ppp/profile", [{"name": "Home 20M", "rate-limit": "100M/100M"}])
    router.seed("/ppp/secret", [{"name": "imp-a", "password": "a", "profile": "Home 20M"}])
    nas = nas_for(alpha, router, owner=alpha.reseller)
    with schema_context(alpha.schema):
        master = Package.objects.get(pk=alpha.package.pk)
    # Expiries are the ISP's to import: a reseller asking for one is refused outright.
    refused = Api(alpha, alpha.reseller_user).post(f"/api/v1/routers/{nas.pk}/import/", {
        "owner_id": alpha.sub_reseller.pk, "expires_at": "2099-01-01T00:00:00Z"})
    assert refused.status_code == 403
    job = _import(alpha, alpha.reseller_user, nas, owner_id=alpha.sub_reseller.pk, on_duplicate="update")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["packages"]["updated"] == 0 and job.result["expiries_set"] == []
    with schema_context(alpha.schema):
        after = Package.objects.get(pk=alpha.package.pk)
        assert (after.download_kbps, after.upload_kbps) == (master.download_kbps, master.upload_kbps)
        imported = Subscriber.objects.get(username="imp-a")
        assert imported.owner == alpha.sub_reseller and imported.package == alpha.package
        assert imported.expires_at is not None and imported.expires_at <= timezone.now()  # no free time


def test_a_reseller_import_refuses_rows_with_a_package_not_assigned_to_it(alpha, fake_router):
    router = fake_router()
    router.seed("/ppp/profile", [{"name": "Staff only", "rate-limit": "50M/50M"},
                                 {"name": "Home 20M", "rate-limit": "5M/20M"}])
    router.seed("/ppp/secret", [{"name": "imp-staff", "password": "a", "profile": "Staff only"},
                                {"name": "imp-home", "password": "b", "profile": "Home 20M"}])
    nas = nas_for(alpha, router, owner=alpha.reseller)
    with schema_context(alpha.schema):
        staff_only = Package.objects.create(name="Staff only", type="pppoe", download_kbps=50_000,
                                            upload_kbps=50_000, price=1)
    unoffered = Api(alpha, alpha.reseller_user).post(f"/api/v1/routers/{nas.pk}/import/", {
        "default_package_id": staff_only.pk})
    assert unoffered.status_code == 400 and "default_package_id" in unoffered.json()["errors"]
    job = _import(alpha, alpha.reseller_user, nas, owner_id=alpha.reseller.pk,
                  default_package_id=alpha.package.pk)
    assert job.status == JobStatus.SUCCEEDED, job.error
    details = {d["name"]: d for d in job.result["subscribers"]["details"]}
    assert details["imp-staff"]["outcome"] == "refused" and "not offered" in details["imp-staff"]["reason"]
    assert job.result["subscribers"]["created"] == 1
    with schema_context(alpha.schema):
        assert not Subscriber.objects.filter(username="imp-staff").exists()
        assert Subscriber.objects.get(username="imp-home").owner == alpha.reseller


def test_an_admin_import_sets_expiries_and_lists_each_one(alpha, fake_router):
    router = fake_router()
    router.seed("/ppp/secret", [{"name": "imp-x", "password": "a"}, {"name": "imp-y", "password": "b"}])
    nas = nas_for(alpha, router)
    job = _import(alpha, alpha.admin, nas, owner_id=alpha.reseller.pk, default_package_id=alpha.package.pk,
                  expires_at="2031-01-31T00:00:00Z")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.result["expiries_set"] == [{"name": "imp-x", "expires_at": "2031-01-31T00:00:00+00:00"},
                                          {"name": "imp-y", "expires_at": "2031-01-31T00:00:00+00:00"}]


# --- the network selectors honour django-guardian grants ---------------------------------------------------


def test_a_support_login_granted_a_reseller_sees_its_sessions_and_nases(alpha):
    nas = _router(alpha, alpha.sub_reseller, "198.51.100.70")
    with schema_context(alpha.schema):
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO radius.radacct (tenant, clientipaddress, acctsessionid, acctuniqueid, nasipaddress,"
                " username, acctstarttime) VALUES (%s, %s, 's-70', 'u-70', %s, 'carol', now())",
                [alpha.schema, nas.address, nas.address])
        granted = staff(alpha, Role.SUPPORT, alpha.sibling)
        # The same role at the same node, without the grant.
        ungranted = User.objects.create_user(email="support.nogrant@alpha.test", password=PASSWORD,
                                             role=Role.SUPPORT)
        Membership.objects.create(user=ungranted, operator=alpha.sibling)
        other = staff(alpha, Role.MANAGER, alpha.sibling)
        assign_perm("hierarchy.access_subtree", granted, alpha.reseller)
    api = Api(alpha, granted)
    sessions = api.get("/api/v1/sessions/?online=1").json()
    assert [s["username"] for s in sessions["results"]] == ["carol"]
    assert [n["id"] for n in api.get("/api/v1/nas/").json()["results"]] == [nas.pk]
    assert [r["id"] for r in api.get("/api/v1/routers/").json()["results"]] == [nas.pk]
    assert api.get(f"/api/v1/sessions/usage/?subscriber={alpha.customer.pk}").status_code == 200
    for login in (ungranted, other):
        outsider = Api(alpha, login)
        assert outsider.get("/api/v1/sessions/?online=1").json()["results"] == []
        assert outsider.get("/api/v1/nas/").json()["results"] == []
        assert outsider.get(f"/api/v1/sessions/usage/?subscriber={alpha.customer.pk}").status_code == 404


def test_system_may_register_for_management_commands(alpha):
    with schema_context(alpha.schema):
        nas = nas_create(actor=SYSTEM, owner=alpha.root, name="cmd", address="198.51.100.80", secret="secret-123")
    assert nas.pk


def test_a_job_runs_with_the_rights_its_login_has_when_it_runs(alpha):
    """A grant withdrawn between queueing and running: the worker refuses the job (it acts for the login
    that queued it, not as the platform)."""
    from guardian.shortcuts import remove_perm

    router = _router(alpha, alpha.root, "198.51.100.90")
    with schema_context(alpha.schema):
        granted = staff(alpha, Role.SUPPORT)
        assign_perm("hierarchy.manage_network", granted, alpha.root)
        job = router_job_enqueue(actor=granted, nas=router, kind=JobKind.PROVISION)
        remove_perm("hierarchy.manage_network", granted, alpha.root)
    run_job(alpha, job.pk)
    with schema_context(alpha.schema):
        job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error.startswith("Refused: Your role may not run router jobs")
