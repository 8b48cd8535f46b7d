"""Typed access to django-tenants' schema switching on the default connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.db import connection

if TYPE_CHECKING:
    from django_tenants.postgresql_backend.base import DatabaseWrapper

    from tenants.models import Tenant


def _wrapper() -> DatabaseWrapper:
    return cast("DatabaseWrapper", connection)


def schema_current() -> str:
    return str(_wrapper().schema_name)


def schema_use_public() -> None:
    _wrapper().set_schema_to_public()


def schema_use_tenant(tenant: Tenant) -> None:
    _wrapper().set_tenant(tenant)


def violated_constraint(exc: BaseException) -> str:
    """The name of the PostgreSQL constraint an IntegrityError broke ("" if unknown)."""
    return str(getattr(getattr(exc.__cause__, "diag", None), "constraint_name", "") or "")
