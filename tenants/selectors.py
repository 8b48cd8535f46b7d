"""Reads on tenants."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from psycopg import sql

from tenants.models import Domain, Tenant


@dataclass(frozen=True)
class TenantRow:
    tenant: Tenant
    users: int
    customers: int


def tenant_for_host(*, host: str) -> Tenant | None:
    domain = Domain.objects.select_related("tenant").filter(domain=host.lower()).first()
    return domain.tenant if domain else None


def tenants_with_counts() -> list[TenantRow]:
    """All ISPs with their user and customer counts, read from every schema in one round trip."""
    tenants = list(Tenant.objects.exclude(schema_name="public").order_by("name"))
    if not tenants:
        return []
    parts = [
        sql.SQL(
            "SELECT {schema_literal}, (SELECT count(*) FROM {schema}.accounts_user), "
            "(SELECT count(*) FROM {schema}.hierarchy_subscriber)"
        ).format(schema_literal=sql.Literal(t.schema_name), schema=sql.Identifier(t.schema_name))
        for t in tenants
    ]
    query = sql.SQL(" UNION ALL ").join(parts)
    with connection.cursor() as cursor:
        cursor.execute(query.as_string(connection.connection))
        counts = {schema: (users, customers) for schema, users, customers in cursor.fetchall()}
    return [TenantRow(t, *counts.get(t.schema_name, (0, 0))) for t in tenants]
