"""Shared fixtures. Expensive things (tenant schemas, processes) are created once per session."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
from django.db import connection
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
def django_db_setup(
    request: pytest.FixtureRequest,
    django_test_environment: None,
    django_db_blocker: pytest.FixtureRequest,
    django_db_keepdb: bool,
    django_db_modify_db_settings: None,
) -> Iterator[None]:
    """The test database (always, even when only process/browser tests run, which use committed data
    rather than the `db` fixture) with two ISPs, alpha and beta, committed once for the whole session."""
    from django.test.utils import setup_databases, teardown_databases

    _forget_throttles()
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        db_cfg = setup_databases(verbosity=request.config.option.verbose, interactive=False,
                                 keepdb=django_db_keepdb, aliases={"default": True})
        _isps.update(alpha=_make_isp("alpha", "Alpha Net"), beta=_make_isp("beta", "Beta Fiber"))
    yield
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        # Backends of the worker/web processes stopped a moment ago may still be on their way out.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        teardown_databases(db_cfg, verbosity=request.config.option.verbose, keepdb=django_db_keepdb)


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
        # The suite's fake routers and NASes listen on loopback: the worker may reach them (the egress guard
        # refuses loopback by default; in-process tests allow it per test).
        cwd=processes.BASE_DIR, env=processes.child_env(BACKHAUL_EGRESS_ALLOW="127.0.0.0/8"),
    )
    yield worker
    processes.stop(worker)


def tenant_by_slug(slug: str) -> Tenant:
    return Tenant.objects.get(slug=slug)


@pytest.fixture(scope="session")
def web_server(django_db_setup: None) -> Iterator[str]:
    """The real web server (as `make run` starts it) on a free port, against the test database.

    Returns the port; reach an ISP with ``http://<slug>.localhost:<port>/``.
    """
    from config.run import web_command

    port = processes.free_port()
    server = subprocess.Popen(web_command(port, workers=2), cwd=processes.BASE_DIR, env=processes.child_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    processes.wait_for_port(port, server)
    yield str(port)
    processes.stop(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright, shared by the whole session."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the tests still use the ORM to check results.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()
