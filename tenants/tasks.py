"""Celery tasks that run inside one ISP's schema.

A task never inherits a schema from whoever sent it: the schema name is its first argument and it is
activated explicitly (and public restored afterwards), so a worker serving many ISPs cannot leak one
tenant's context into the next task.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from celery import shared_task
from django_tenants.utils import schema_context

from tenants.db import schema_use_public
from tenants.models import Tenant

P = ParamSpec("P")
R = TypeVar("R")


class TenantGone(Exception):
    """The tenant a task was queued for no longer exists."""


def tenant_task(**task_options: Any) -> Callable[[Callable[..., R]], Any]:
    """Declare a Celery task whose first positional argument is the tenant schema name."""

    def decorator(func: Callable[..., R]) -> Any:
        @functools.wraps(func)
        def run(schema_name: str, *args: Any, **kwargs: Any) -> R:
            schema_use_public()
            if not Tenant.objects.filter(schema_name=schema_name).exists():
                raise TenantGone(schema_name)
            try:
                with schema_context(schema_name):
                    return func(*args, **kwargs)
            finally:
                schema_use_public()

        return shared_task(**task_options)(run)

    return decorator
