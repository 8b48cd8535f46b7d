"""Fake routers on their own loopback addresses (127.0.x.y: Nas.address is unique) and Nas rows for them."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from hierarchy.models import Operator
from network.models import Nas
from network.routers.runner import JobOutcome, router_job_execute
from network.routers.services import router_create
from tests.routeros.fake_server import FakeRouter, FakeUser
from tests.support.personas import Isp

LOOPBACK = "127.0.0.0/8"
API_USER = FakeUser("backhaul", "api-pass-1", "full")
READ_ONLY_USER = FakeUser("auditor", "look-only", "read")

# Random start: tests that commit (the real-worker ones) never collide with a previous run's leftovers.
_addresses = itertools.count(random.randrange(0, 200_000))


def next_address() -> str:
    n = next(_addresses)
    return f"127.{1 + n // 62_500 % 250}.{n // 250 % 250}.{n % 250 + 2}"


@pytest.fixture
def loopback_egress(settings: Any) -> None:
    """The fake routers listen on loopback, which the egress guard refuses unless the platform allows it:
    tests that talk to one allow it explicitly (tests/authority/test_network.py proves the default)."""
    settings.BACKHAUL_EGRESS_ALLOW = [*settings.BACKHAUL_EGRESS_ALLOW, LOOPBACK]


@pytest.fixture
def fake_router(loopback_egress: None) -> Iterator[Callable[..., FakeRouter]]:
    started: list[FakeRouter] = []

    def start(router_class: type[FakeRouter] = FakeRouter, **options: Any) -> FakeRouter:
        options.setdefault("users", [API_USER, READ_ONLY_USER])
        router = router_class(host=next_address(), **options).start()
        started.append(router)
        return router

    yield start
    for router in started:
        router.stop()


def nas_for(isp: Isp, router: FakeRouter, *, owner: Operator | None = None, user: FakeUser = API_USER,
            name: str = "core-1", uses_radius: bool = True) -> Nas:
    with schema_context(isp.schema):
        return router_create(
            actor=isp.admin, owner=owner or isp.root, name=name, address=router.host, api_port=router.port,
            api_username=user.name, api_password=user.password, uses_radius=uses_radius,
        )


def run_job(isp: Isp, job_id: int) -> JobOutcome:
    """One attempt of the job, in this process (the worker tests use a real Celery worker)."""
    with schema_context(isp.schema):
        return router_job_execute(job_id=job_id)


def menus_state(router: FakeRouter) -> dict[str, Any]:
    """Everything the fake router holds, to compare before/after."""
    state: dict[str, Any] = {}
    for path in sorted(router._menus):
        try:
            state[path] = router.rows(path)
        except TypeError:
            state[path] = router.singleton(path)
    return state
