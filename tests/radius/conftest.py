"""One real FreeRADIUS for the whole session, on the test database, and NASes of alpha and beta.

FreeRADIUS sees only committed rows, so RADIUS tests write with the database unblocked outside
any test transaction (fixture ``committed``) and use fresh usernames per test.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import pytest_django.fixtures as pytest_django_fixtures
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import ConnectionType, Operator, Package, Subscriber
from network.services import nas_create
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.radius.support import Database, Nas, RadiusServer, prerequisites_missing, start_server
from tests.support.personas import PASSWORD, Isp, build_personas


def _databases_with_default(items: Any) -> tuple[set[str], set[str]]:
    aliases, serialized = _original_databases_for_setup(items)
    return aliases | {"default"}, serialized


# pytest-django creates the test database only if some selected test carries the django_db mark;
# the FreeRADIUS tests do not (they commit), so a run of only them must still get it.
_original_databases_for_setup = pytest_django_fixtures._get_databases_for_setup
pytest_django_fixtures._get_databases_for_setup = _databases_with_default

# The fake NASes answer CoA on loopback, which the egress guard refuses unless the platform allows it.
LOOPBACK = "127.0.0.0/8"


@pytest.fixture(autouse=True)
def loopback_egress(settings: Any) -> None:
    """Every RADIUS test talks to NASes on 127.0.0.x: allow loopback explicitly, per test (the celery worker
    of the suite is started with the same allowance, tests/conftest.py)."""
    settings.BACKHAUL_EGRESS_ALLOW = [*settings.BACKHAUL_EGRESS_ALLOW, LOOPBACK]


# Seconds a NAS definition is cached by FreeRADIUS before radius.nas is read again.
NAS_CACHE_SECONDS = 2

NAS_ADDRESSES = {"alpha": "127.0.0.2", "beta": "127.0.0.3", "alpha2": "127.0.0.4", "gamma": "127.0.0.6"}
SECRETS = {"alpha": "secret-alpha-1", "beta": "secret-beta-1", "alpha2": "secret-alpha-2", "gamma": "secret-gamma"}


def _missing() -> str | None:
    return prerequisites_missing()


_isps: dict[str, Isp] = {}


def isp(slug: str) -> Isp:
    return _isps[slug]


@pytest.fixture(scope="session")
def radius_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[Database]:
    """The test database as FreeRADIUS reaches it, with the NASes registered (committed), and a
    third ISP, gamma, that tests may suspend."""
    if (missing := _missing()) is not None:
        pytest.fail(missing)  # `make test` installs FreeRADIUS; a bare pytest run must not hide it
    with django_db_blocker.unblock():
        gamma = tenant_create(name="Gamma Wireless", slug="gamma", admin_email="admin@gamma.test",
                              admin_password=PASSWORD)
        _isps["gamma"] = build_personas(gamma)
        for slug in ("alpha", "beta"):
            _isps[slug] = build_isp_view(slug)
        for key, address in NAS_ADDRESSES.items():
            isp = _isps[key.rstrip("2")]
            with schema_context(isp.schema), override_settings(BACKHAUL_EGRESS_ALLOW=[LOOPBACK]):
                nas_create(actor=SYSTEM, owner=isp.root, name=f"{key} core", address=address, secret=SECRETS[key],
                           coa_port=_coa_port(key))
        params = connection.settings_dict
        yield Database(
            host=str(params["HOST"]), port=int(params["PORT"] or 5432), name=str(params["NAME"]),
            user=settings.RADIUS_DB_ROLE, password=settings.RADIUS_DB_PASSWORD or None,
        )


_COA_PORTS: dict[str, int] = {}


def _coa_port(key: str) -> int:
    from tests.radius.support import free_udp_ports

    return _COA_PORTS.setdefault(key, free_udp_ports(1, NAS_ADDRESSES[key])[0])


def coa_port(key: str) -> int:
    return _COA_PORTS[key]


@pytest.fixture(scope="session")
def radius_server(radius_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RadiusServer]:
    server = start_server(
        radius_db, tmp_path_factory.mktemp("radius"), nas_networks=["127.0.0.0/8"],
        nas_cache_seconds=NAS_CACHE_SECONDS, reject_delay=0, threads=8, db_pool_max=8,
    )
    try:
        yield server
    finally:
        server.stop()


def _nas(key: str, server: RadiusServer) -> Nas:
    return Nas(NAS_ADDRESSES[key], SECRETS[key], server)


@pytest.fixture(scope="session")
def nas_alpha(radius_server: RadiusServer) -> Nas:
    return _nas("alpha", radius_server)


@pytest.fixture(scope="session")
def nas_alpha2(radius_server: RadiusServer) -> Nas:
    return _nas("alpha2", radius_server)


@pytest.fixture(scope="session")
def nas_beta(radius_server: RadiusServer) -> Nas:
    return _nas("beta", radius_server)


@pytest.fixture(scope="session")
def nas_gamma(radius_server: RadiusServer) -> Nas:
    return _nas("gamma", radius_server)


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[None]:
    """Writes commit at once (autocommit), so FreeRADIUS sees them."""
    with django_db_blocker.unblock():
        yield


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{secrets.token_hex(4)}"


def make_package(schema: str, **fields: Any) -> Package:
    with schema_context(schema):
        defaults: dict[str, Any] = {
            "name": unique_name("pkg-"), "type": ConnectionType.PPPOE, "download_kbps": 20_000,
            "upload_kbps": 5_000, "price": Decimal("10.00"), "validity_days": 30,
        }
        return Package.objects.create(**{**defaults, **fields})


def paid_period_end(*, days: int, hours: int = 0) -> datetime:
    """The paid-until of one period that began a minute ago (accounting counts whole seconds from the
    period's start, paid-until minus validity)."""
    return timezone.now().replace(microsecond=0) - timedelta(minutes=1) + timedelta(days=days, hours=hours)


@pytest.fixture(autouse=True)
def _carol_has_paid(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The RADIUS tests answer carol as a paying customer: a paid-until a month ahead, committed (the
    server reads it on its own connection) and put back afterwards (a new prepaid customer starts expired)."""
    saved: dict[str, Any] = {}
    with django_db_blocker.unblock():
        for schema in ("isp_alpha", "isp_beta"):
            with schema_context(schema):
                carol = Subscriber.objects.filter(username="carol")
                saved[schema] = carol.values_list("expires_at", flat=True).first()
                carol.update(expires_at=paid_period_end(days=30))
    yield
    with django_db_blocker.unblock():
        for schema, expires_at in saved.items():
            with schema_context(schema):
                Subscriber.objects.filter(username="carol").update(expires_at=expires_at)


def make_subscriber(schema: str, *, owner: Operator, package: Package, **fields: Any) -> Subscriber:
    with schema_context(schema):
        # Paid for one period unless the test says otherwise (a prepaid customer always has a paid-until).
        defaults: dict[str, Any] = {
            "username": unique_name(), "password": "pw-" + secrets.token_hex(4),
            "expires_at": paid_period_end(days=package.validity_days, hours=package.validity_hours)}
        return Subscriber.objects.create(owner=owner, package=package, **{**defaults, **fields})


def tenant(slug: str) -> Tenant:
    return Tenant.objects.get(slug=slug)


def build_isp_view(slug: str) -> Isp:
    """The session personas of alpha/beta, re-read (tests/conftest.py built them)."""
    from accounts.models import User
    from hierarchy.services import operator_root

    t = Tenant.objects.get(slug=slug)
    with schema_context(t.schema_name):
        root = operator_root()
        nodes = {o.name: o for o in Operator.objects.all()}
        users = {u.email: u for u in User.objects.all()}
        return Isp(
            tenant=t, host=f"{slug}.localhost", admin=users[f"admin@{slug}.test"], root=root,
            reseller=nodes[f"{slug} Reseller"], reseller_user=users[f"reseller@{slug}.test"],
            sub_reseller=nodes[f"{slug} Sub-reseller"], sub_reseller_user=users[f"sub@{slug}.test"],
            sibling=nodes[f"{slug} Sibling Reseller"], sibling_user=users[f"sibling@{slug}.test"],
            package=Package.objects.get(name="Home 20M"), customer=Subscriber.objects.get(username="carol"),
            customer_user=users[f"customer@{slug}.test"],
        )


def api_get(isp: Isp, user: Any, path: str) -> Any:
    return api_call(isp, user, "get", path)


def api_call(isp: Isp, user: Any, method: str, path: str, data: Any = None) -> Any:
    from rest_framework.authtoken.models import Token

    from tests.conftest import host_client

    with schema_context(isp.schema):
        token, _ = Token.objects.get_or_create(user=user)
    client = host_client(isp.host)
    kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {token.key}"}
    if data is not None:
        kwargs.update(data=data, content_type="application/json")
    return getattr(client, method)(path, **kwargs)
