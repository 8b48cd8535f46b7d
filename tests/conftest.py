"""Shared fixtures. Expensive things (tenant schemas, processes) are created once per session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from django.test import Client

from tenants.db import schema_use_public
from tenants.models import Tenant
from tenants.services import tenant_create
from tests.support import processes
from tests.support.personas import PASSWORD, Isp, build_personas


def _make_isp(slug: str, name: str) -> Isp:
    tenant = tenant_create(
        name=name, slug=slug, admin_email=f"admin@{slug}.test", admin_password=PASSWORD,
        admin_name=f"{name} Admin",
    )
    return build_personas(tenant)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """The test database with two ISPs, alpha and beta, committed once for the whole session."""
    _forget_throttles()
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        _isps.update(alpha=_make_isp("alpha", "Alpha Net"), beta=_make_isp("beta", "Beta Fiber"))
    yield


_isps: dict[str, Isp] = {}


def _forget_throttles() -> None:
    """Rate-limit counters live in Redis and would outlive a previous run by up to a minute."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter(match="*throttle_*"):
        client.delete(key)


def _isp(name: str, blocker: pytest.FixtureRequest) -> Isp:
    isp = _isps[name]
    with blocker.unblock():  # type: ignore[attr-defined]
        isp.tenant.refresh_from_db()
    return isp


@pytest.fixture
def alpha(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Isp:
    return _isp("alpha", django_db_blocker)


@pytest.fixture
def beta(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Isp:
    return _isp("beta", django_db_blocker)


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    yield
    schema_use_public()


def host_client(host: str) -> Client:
    return Client(HTTP_HOST=host)


@pytest.fixture
def public_client() -> Client:
    return host_client("localhost")


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup: None) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker on the test Redis and test database."""
    worker = subprocess.Popen(
        [processes.python(), "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel",
         "WARNING", "--hostname", f"test-{processes.free_port()}@%h", "--without-gossip", "--without-mingle"],
        cwd=processes.BASE_DIR, env=processes.child_env(),
    )
    yield worker
    processes.stop(worker)


def tenant_by_slug(slug: str) -> Tenant:
    return Tenant.objects.get(slug=slug)
