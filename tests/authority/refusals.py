"""``nothing_changes()`` around API calls: a request through the test client leaves the connection on the
public schema, so the snapshot and the checks each run inside the ISP's schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django_tenants.utils import schema_context

from tests.support.attacks import nothing_changes


@contextmanager
def unchanged(isp: Any) -> Iterator[None]:
    with schema_context(isp.schema):
        check = nothing_changes()
        check.__enter__()
    yield
    with schema_context(isp.schema):
        check.__exit__(None, None, None)
