"""The radius schema as the FreeRADIUS role sees it: what it may do, and what the data allows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import IntegrityError, connection

from tests.radius.support import Database

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def as_radius(radius_db: Database) -> Iterator[psycopg.Connection[Any]]:
    params = {"host": radius_db.host, "port": radius_db.port, "dbname": radius_db.name, "user": radius_db.user}
    if radius_db.password:
        params["password"] = radius_db.password
    with psycopg.connect(autocommit=True, **params) as conn:  # type: ignore[arg-type]
        yield conn


def test_radius_check_with_long_and_odd_names_returns_nothing(as_radius: psycopg.Connection[Any]) -> None:
    for name in ("a" * 300, "carol' OR '1'='1", "carol\x01", "%{User-Password}", "x; DROP TABLE y"):
        assert as_radius.execute("SELECT * FROM isp_alpha.radius_check('127.0.0.2', %s)", (name,)).fetchall() == []
    # A NAS address not registered to the function's tenant gets nothing: unknown, or beta's.
    for client in ("127.0.0.9", "127.0.0.3"):
        assert as_radius.execute("SELECT * FROM isp_alpha.radius_check(%s, 'carol')", (client,)).fetchall() == []


def test_freeradius_role_reads_items_only_through_the_function(as_radius: psycopg.Connection[Any]) -> None:
    """One query answers the check items, then the reply items (FreeRADIUS moves those to the reply)."""
    rows = as_radius.execute("SELECT attribute, value FROM isp_beta.radius_check('127.0.0.3', 'carol')").fetchall()
    assert rows[:2] == [("Cleartext-Password", "pppoe-secret"), ("Mikrotik-Rate-Limit", "5000k/20000k")]
    assert [name for name, _ in rows[2:]] == ["Session-Timeout"]  # carol has paid for a month


def test_freeradius_role_may_execute_only_radius_check_in_a_tenant_schema(radius_db: Database) -> None:
    """In every tenant schema (a cloned one included), the FreeRADIUS role can execute radius_check
    and no other SECURITY DEFINER function, and can read no relation at all."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n.nspname, p.proname FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " WHERE n.nspname ~ '^isp_' AND (p.prosecdef OR p.proname ~ '^radius_')"
            " AND has_function_privilege(%s, p.oid, 'EXECUTE') ORDER BY 1, 2",
            [radius_db.user],
        )
        callable_ = cursor.fetchall()
        cursor.execute(
            "SELECT n.nspname, c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname ~ '^isp_' AND c.relkind IN ('r', 'v', 'm', 'p', 'S', 'f')"
            " AND (has_table_privilege(%s, c.oid, 'SELECT,INSERT,UPDATE,DELETE,TRUNCATE,REFERENCES,TRIGGER')"
            "      OR has_any_column_privilege(%s, c.oid, 'SELECT,INSERT,UPDATE,REFERENCES'))",
            [radius_db.user, radius_db.user],
        )
        readable = cursor.fetchall()
    schemas = {s for s, _ in callable_}
    assert {"isp_alpha", "isp_beta", "isp_gamma"} <= schemas
    assert callable_ == [(s, "radius_check") for s in sorted(schemas)]
    assert readable == []


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM isp_alpha.radcheck",
        "SELECT * FROM isp_alpha.hierarchy_subscriber",
        "SELECT * FROM public.tenants_tenant",
        "SELECT username FROM radius.radacct",
        "SELECT * FROM radius.radpostauth",
        "SELECT * FROM radius.tenant",
        "DELETE FROM radius.radacct",
        "UPDATE radius.nas SET secret = 'x'",
        "INSERT INTO radius.nas (address, secret, tenant_schema) VALUES ('10.9.9.9', 'xxxxxxxx', 'isp_alpha')",
        "SELECT radius.ensure_tenant_partition('isp_z')",
        "SELECT * FROM isp_alpha.radius_lookup('carol', NULL)",
        "SELECT * FROM isp_alpha.radius_view_items('carol', NULL)",
        "SELECT * FROM isp_alpha.radius_items",
        "CREATE TABLE radius.evil (id int)",
    ],
)
def test_freeradius_role_is_least_privilege(as_radius: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_radius.execute(statement)


def test_freeradius_role_cannot_write_accounting_for_an_unknown_tenant(as_radius: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        as_radius.execute(
            "INSERT INTO radius.radacct (tenant, clientipaddress, acctsessionid, acctuniqueid, nasipaddress)"
            " VALUES ('isp_nope', '127.0.0.2', 's', 'u', '127.0.0.2')"
        )


@pytest.mark.parametrize(
    ("address", "secret", "tenant"),
    [
        ("10.0.0.0/24", "secret-123", "isp_alpha"),  # a network, not a NAS
        ("10.0.0.1", "short", "isp_alpha"),  # secret too short
        ("10.0.0.2", "secret-123", "isp_nope"),  # unknown tenant
        ("127.0.0.2", "secret-123", "isp_beta"),  # alpha's address
    ],
)
def test_nas_rows_are_validated(radius_db: Database, address: str, secret: str, tenant: str) -> None:
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO radius.nas (address, secret, tenant_schema) VALUES (%s, %s, %s)", [address, secret, tenant]
        )


def test_partition_function_refuses_odd_schema_names(radius_db: Database) -> None:
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute("SELECT radius.ensure_tenant_partition('Robert''); DROP TABLE x; --')")


def test_a_new_tenant_gets_partitions_and_a_deleted_one_takes_them_along(
    radius_db: Database, as_radius: psycopg.Connection[Any]
) -> None:
    from tenants.models import Tenant
    from tenants.services import tenant_create
    from tests.support.personas import PASSWORD

    def partitions() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relnamespace = 'radius'::regnamespace AND relname LIKE %s",
                ["%isp_delta"],
            )
            return {row[0] for row in cursor.fetchall()}

    tenant = tenant_create(name="Delta", slug="delta", admin_email="admin@delta.test", admin_password=PASSWORD)
    assert partitions() == {"radacct_isp_delta", "radpostauth_isp_delta"}
    # Its schema is a clone of the template: FreeRADIUS may call its radius_check (granted at signup,
    # clone_schema does not copy the grant) and nothing else there.
    assert as_radius.execute("SELECT * FROM isp_delta.radius_check('127.0.0.99', 'x')").fetchall() == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_radius.execute("SELECT * FROM isp_delta.radius_lookup('x', NULL)")
    Tenant.objects.get(pk=tenant.pk).delete()
    assert partitions() == set()


_CLIENTS = {"isp_alpha": "127.0.0.2", "isp_beta": "127.0.0.3"}


def _avps(
    conn: psycopg.Connection[Any], function: str, schema: str, name: str, client: str | None = None
) -> list[tuple[str, str]]:
    rows = conn.execute(
        f"SELECT attribute, value FROM {schema}.{function}(%s, %s)", (client or _CLIENTS[schema], name)
    ).fetchall()
    return [(str(a), str(v)) for a, v in rows]


def test_radius_check_answers_each_tenant_its_own_rows(as_radius: psycopg.Connection[Any]) -> None:
    """The same name at two ISPs: each function answers its own subscriber, and only to its own NAS."""
    assert _avps(as_radius, "radius_check", "isp_alpha", "carol")[0] == ("Cleartext-Password", "pppoe-secret")
    assert _avps(as_radius, "radius_check", "isp_alpha", "nobody") == []
    assert _avps(as_radius, "radius_check", "isp_beta", "carol", client="127.0.0.2") == []  # alpha's NAS at beta
    assert _avps(as_radius, "radius_check", "isp_alpha", "carol", client="127.0.0.3") == []  # beta's NAS at alpha


def test_freeradius_lookup_agrees_with_the_views(as_radius: psycopg.Connection[Any]) -> None:
    """radius_check returns exactly the tenant's radcheck rows, then its radreply rows."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT username FROM isp_alpha.radcheck")
        names = [row[0] for row in cursor.fetchall()]
        assert names
        for name in names:
            expected = []
            for view in ("radcheck", "radreply"):
                cursor.execute(f"SELECT attribute, value FROM isp_alpha.{view} WHERE username = %s ORDER BY id", [name])
                expected += cursor.fetchall()
            assert _avps(as_radius, "radius_check", "isp_alpha", name) == expected, name


@pytest.mark.parametrize("schema", ["public", "tenant_template", "pg_catalog", "radius", "isp_"])
def test_a_nas_whose_shortname_is_not_a_tenant_schema_name_is_refused(radius_db: Database, schema: str) -> None:
    """The shortname is spliced into the authorize queries as a schema name: the database accepts
    only isp_[a-z0-9_]+ there - not another existing schema (CHECKs run before the tenant FK)."""
    with pytest.raises(IntegrityError) as refused, connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO radius.nas (address, secret, tenant_schema) VALUES ('10.9.9.8', 'secret-123', %s)", [schema]
        )
    assert refused.value.__cause__.diag.constraint_name == "nas_shortname_is_tenant_schema"  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM radius.nas WHERE address = '10.9.9.8'")
        assert cursor.fetchone() == (0,)


def test_a_view_reads_its_own_schema_whatever_the_search_path(radius_db: Database) -> None:
    """radius_lookup reads the schema on the search_path; the views set it to their own schema for
    the call, so alpha's view read while beta's schema (or none) is on the path gives alpha's rows."""
    from tests.radius.conftest import isp, make_subscriber

    alpha, beta = isp("alpha"), isp("beta")
    mine = make_subscriber(alpha.schema, owner=alpha.root, package=alpha.package)
    theirs = make_subscriber(beta.schema, owner=beta.root, package=beta.package)
    query = "SELECT username, value FROM isp_alpha.radcheck WHERE username IN (%s, %s)"
    with connection.cursor() as cursor:
        try:
            cursor.execute("SET search_path = isp_beta, public")
            cursor.execute(query, [mine.username, theirs.username])
            under_beta = cursor.fetchall()
            cursor.execute("SHOW search_path")
            after = cursor.fetchone()
            cursor.execute("SET search_path = public")
            cursor.execute(query, [mine.username, theirs.username])
            under_public = cursor.fetchall()
        finally:
            cursor.execute("SET search_path = public")
    assert under_beta == under_public == [(mine.username, mine.password)]
    assert after == ("isp_beta, public",)  # the reader's path is back


def test_freeradius_sessions_use_generic_plans_and_index_probes(as_radius: psycopg.Connection[Any]) -> None:
    """The role's settings in this database (radius_registry 0004) apply to FreeRADIUS's connections."""
    settings = dict(
        as_radius.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('plan_cache_mode', 'enable_seqscan', 'jit')"
        ).fetchall()
    )
    assert settings == {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off", "jit": "off"}
