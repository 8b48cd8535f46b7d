"""Helpers for the authority tests: staff logins of every role, and proof that a refused attempt changed
nothing (no journal entry, books balanced, the customer's paid-until and RADIUS state as they were)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.models import Membership, Operator, Subscriber
from ledger.checks import ledger_check
from ledger.models import JournalEntry
from tests.support.personas import PASSWORD, Isp


def staff(isp: Isp, role: str, node: Operator | None = None) -> User:
    """A login of ``role`` at ``node`` (default: the ISP's root) in the active ISP schema, made once."""
    node = node or isp.root
    email = f"{role}.{node.pk}@{isp.tenant.slug}.test"
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=PASSWORD, role=role, full_name=f"{role} {node.pk}")
        if role != Role.CUSTOMER:
            Membership.objects.create(user=user, operator=node)
    return user


@dataclass
class Books:
    entries: int
    expiries: dict[int, datetime | None]
    statuses: dict[int, str]


def books_snapshot() -> Books:
    return Books(entries=JournalEntry.objects.count(),
                 expiries=dict(Subscriber.objects.values_list("pk", "expires_at")),
                 statuses=dict(Subscriber.objects.values_list("pk", "status")))


@contextmanager
def nothing_changes(isp: Isp | None = None) -> Iterator[None]:
    """The block is a refused attempt: afterwards no new journal entry, the books balance (deferred
    constraints fired), and no customer's expiry or status moved. With ``isp``, the snapshots are taken in
    its schema (a request through the test client leaves the connection on the public schema)."""
    with _schema(isp):
        before = books_snapshot()
    yield
    with _schema(isp):
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        after = books_snapshot()
        assert after.entries == before.entries, "a journal entry was posted"
        assert after.expiries == before.expiries, "an expiry moved"
        assert after.statuses == before.statuses, "a status changed"
        report = ledger_check()
        assert report.ok, report.lines()


def _schema(isp: Isp | None) -> AbstractContextManager[Any]:
    return schema_context(isp.schema) if isp is not None else nullcontext()
