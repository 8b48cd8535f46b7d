"""The per-tenant RADIUS answer: ``radcheck`` and ``radreply`` derived live from subscribers,
packages, the role tree, the tenant's status and accounting. No sync job, no copy.

One function per tenant schema, ``radius_lookup(name, mac_key)``, is the single definition of
every check and reply item; the views ``radius_items``, ``radcheck`` and ``radreply`` are that
function applied to each subscriber. FreeRADIUS calls the schema's own ``radius_check``
(network migration 0006: one query per Access-Request, check and reply items), which calls
``radius_lookup`` for the subscriber it asks about. (``radius_reply`` of migration 0005 is gone.)

Why plpgsql functions rather than a join in a view: their statement's plan is cached per database
session (planning the whole join for every request would cost far more than running it). Since
network migration 0007 the per-ISP part is that one statement (the subscriber's state); what is
answered from the state is the shared ``radius.answer`` (network/radius/sql.py), compiled once per
connection for every ISP.

Created in the template schema (and every existing tenant schema) by network migrations 0004 and
0005, so each cloned tenant has them. Since 0005 every name in ``radius_lookup`` is qualified
with its own schema (clone_schema rewrites ``<template>.`` in function bodies), so it reads its
own schema whatever the caller's search_path; each tenant has its own copy, with its own plans
cached per database session. The views still go through ``radius_view_items`` (which sets
search_path to the view's own schema and calls ``radius_lookup``, which checks the table it read
against the one it was given). The tenant's own row in ``radius.tenant`` is found through the
schema of ``hierarchy_subscriber`` itself.

The key FreeRADIUS looks a subscriber up by is its login, or for hotspot subscribers
``radius.mac_key(mac_address)`` (12 lowercase hex digits): one expression, one index.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def _key(alias: str = "") -> str:
    """The RADIUS user name of a subscriber (what FreeRADIUS looks it up by), as SQL. Every use
    must spell it identically for the planner to use the index."""
    a = f"{alias}." if alias else ""
    return f"(CASE WHEN {a}connection_type = 'hotspot' THEN radius.mac_key({a}mac_address) ELSE {a}username::text END)"


# Both kinds of lookup (login and MAC key) in one index probe.
KEY_INDEX = f"CREATE INDEX IF NOT EXISTS radius_subscriber_key ON hierarchy_subscriber ({_key()});"

# Item ids: subscriber id * 8 + position (unique per kind); kind 'check' or 'reply'.
LOOKUP_FUNCTION = rf"""
CREATE OR REPLACE FUNCTION radius_lookup(name text, mac_key text, rel oid DEFAULT NULL)
RETURNS SETOF radius.item
LANGUAGE plpgsql STABLE
-- One plan per statement, session and tenant, at once: plpgsql's first custom plans would each
-- cost a planning on the first calls of every connection.
SET plan_cache_mode = force_generic_plan
AS $fn$
DECLARE
    s record;
    p record;
    t record;
    denied text;
    pooled boolean;
    over_quota boolean;
    period interval;
    since timestamptz;
    rate text;
BEGIN
    FOR s IN
        SELECT sub.id, {_key("sub")} AS key, sub.username::text AS login, sub.mac_address::text AS mac,
               sub.connection_type::text AS connection_type, sub.password::text AS password, sub.ip_address,
               sub.expires_at, sub.status::text AS status, sub.owner_id, sub.package_id, sub.created,
               sub.tableoid AS rel
        FROM hierarchy_subscriber AS sub
        WHERE {_key("sub")} IN (name, mac_key) AND (rel IS NULL OR sub.tableoid = rel)
    LOOP
        SELECT tn.schema, tn.suspended, tn.suspended_mode, tn.suspended_pool INTO t
        FROM pg_catalog.pg_class AS c JOIN radius.tenant AS tn ON tn.schema = c.relnamespace::regnamespace::text
        WHERE c.oid = s.rel;
        IF NOT FOUND THEN
            CONTINUE;  -- not a tenant schema: no answer
        END IF;
        SELECT pk.upload_kbps, pk.download_kbps, pk.burst_upload_kbps, pk.burst_download_kbps,
               pk.burst_threshold_upload_kbps, pk.burst_threshold_download_kbps, pk.burst_time_seconds,
               pk.quota_mb, pk.quota_action::text AS quota_action, pk.quota_throttle_upload_kbps,
               pk.quota_throttle_download_kbps, pk.validity_days, pk.validity_hours
        INTO p FROM hierarchy_package AS pk WHERE pk.id = s.package_id;

        -- Data quota: octets of sessions active in the current validity period, which ends at
        -- expiry, or (no expiry) consecutive periods run from the subscriber's creation, in whole
        -- seconds as accounting has them.
        over_quota := false;
        IF p.quota_mb IS NOT NULL THEN
            period := make_interval(days => p.validity_days, hours => p.validity_hours);
            IF s.expires_at IS NOT NULL THEN
                since := s.expires_at - period;
            ELSE
                since := date_trunc('second', s.created) + floor(
                    extract(epoch FROM now() - date_trunc('second', s.created)) / extract(epoch FROM period)
                )::int * period;
            END IF;
            over_quota := radius.quota_used(t.schema, s.login, s.mac, since) >= p.quota_mb * 1048576;
        END IF;

        denied := CASE
            WHEN t.suspended THEN 'tenant_suspended'
            WHEN s.status <> 'active' THEN s.status
            WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 'expired'
        END;
        -- The owner suspended with "suspends customers", or any node above it suspended.
        IF denied IS NULL AND EXISTS (
            SELECT 1 FROM hierarchy_operator AS ow
            JOIN hierarchy_operator AS o ON o.id = ANY (string_to_array(btrim(ow.path, '/'), '/')::bigint[])
            WHERE ow.id = s.owner_id AND o.status = 'suspended' AND (o.suspends_customers OR o.id <> s.owner_id)
        ) THEN
            denied := 'node_suspended';
        END IF;
        IF denied IS NULL AND over_quota AND p.quota_action = 'reject' THEN
            denied := 'quota';
        END IF;
        pooled := denied IS NOT NULL AND denied <> 'quota' AND t.suspended_mode = 'pool';

        IF s.password <> '' THEN
            RETURN NEXT ('check', s.id * 8 + 1, s.key, 'Cleartext-Password', s.password, ':=')::radius.item;
        END IF;
        IF denied IS NOT NULL AND NOT pooled THEN
            RETURN NEXT ('check', s.id * 8 + 2, s.key, 'Auth-Type', 'Reject', ':=')::radius.item;
        ELSIF s.connection_type = 'hotspot' AND s.password = '' THEN
            -- MikroTik MAC authentication with no MAC password configured: the MAC is the credential.
            RETURN NEXT ('check', s.id * 8 + 2, s.key, 'Auth-Type', 'Accept', ':=')::radius.item;
        END IF;

        IF denied IS NULL THEN
            rate := CASE
                WHEN over_quota AND p.quota_action = 'throttle' THEN
                    format('%sk/%sk', COALESCE(p.quota_throttle_upload_kbps, 64),
                           COALESCE(p.quota_throttle_download_kbps, 64))
                WHEN p.burst_download_kbps IS NOT NULL THEN
                    -- rx/tx from the router's side: rx is what the subscriber uploads.
                    format('%sk/%sk %sk/%sk %sk/%sk %s/%s', p.upload_kbps, p.download_kbps,
                           p.burst_upload_kbps, p.burst_download_kbps,
                           p.burst_threshold_upload_kbps, p.burst_threshold_download_kbps,
                           p.burst_time_seconds, p.burst_time_seconds)
                ELSE format('%sk/%sk', p.upload_kbps, p.download_kbps)
            END;
            RETURN NEXT ('reply', s.id * 8 + 1, s.key, 'Mikrotik-Rate-Limit', rate, ':=')::radius.item;
            IF s.ip_address IS NOT NULL THEN
                RETURN NEXT ('reply', s.id * 8 + 2, s.key, 'Framed-IP-Address', host(s.ip_address), ':=')::radius.item;
            END IF;
            IF s.expires_at IS NOT NULL THEN
                RETURN NEXT ('reply', s.id * 8 + 3, s.key, 'Session-Timeout',
                             greatest(1, ceil(extract(epoch FROM s.expires_at - now())))::bigint::text,
                             ':=')::radius.item;
            END IF;
        ELSIF pooled THEN
            RETURN NEXT ('reply', s.id * 8 + 4, s.key, 'Framed-Pool', t.suspended_pool, ':=')::radius.item;
            RETURN NEXT ('reply', s.id * 8 + 5, s.key, 'Mikrotik-Address-List', t.suspended_pool, ':=')::radius.item;
        END IF;
    END LOOP;
END
$fn$;
"""

# What the views call: radius_lookup under the search_path of the table ``rel`` (the view's own
# hierarchy_subscriber), whatever the reader's search_path; the reader's comes back on return.
VIEW_LOOKUP_FUNCTION = r"""
CREATE OR REPLACE FUNCTION radius_view_items(key text, rel oid) RETURNS SETOF radius.item
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    PERFORM pg_catalog.set_config('search_path',
        (SELECT c.relnamespace::regnamespace::text FROM pg_catalog.pg_class AS c WHERE c.oid = rel) || ', pg_catalog',
        true);
    RETURN QUERY SELECT * FROM radius_lookup(key, NULL, rel);
END
$fn$;
"""

# The function applied to every subscriber (a subscriber's own rows only: i.id / 8 is its id).
ITEMS_VIEW = f"""
CREATE VIEW radius_items AS
SELECT s.id AS subscriber_id, i.kind, i.id, {_key("s")} AS username, i.attribute, i.op, i.value
FROM hierarchy_subscriber AS s
CROSS JOIN LATERAL radius_view_items({_key("s")}, s.tableoid) AS i
WHERE i.id / 8 = s.id;
"""

RADCHECK_VIEW = (
    "CREATE VIEW radcheck AS SELECT id, username, attribute, op, value FROM radius_items WHERE kind = 'check';"
)
RADREPLY_VIEW = (
    "CREATE VIEW radreply AS SELECT id, username, attribute, op, value FROM radius_items WHERE kind = 'reply';"
)

_DROP_0002 = [
    "DROP FUNCTION IF EXISTS radius_radreply_items(text, text);",
    "DROP FUNCTION IF EXISTS radius_radcheck_items(text, text);",
    "DROP VIEW IF EXISTS radreply;",
    "DROP VIEW IF EXISTS radcheck;",
    "DROP VIEW IF EXISTS radius_account;",
    "DROP VIEW IF EXISTS radius_subscriber_state;",
    "DROP INDEX IF EXISTS radius_subscriber_mac_key;",
]

FORWARD = [*_DROP_0002, KEY_INDEX, LOOKUP_FUNCTION, VIEW_LOOKUP_FUNCTION, ITEMS_VIEW, RADCHECK_VIEW, RADREPLY_VIEW]
BACKWARD = [
    "DROP VIEW IF EXISTS radreply;",
    "DROP VIEW IF EXISTS radcheck;",
    "DROP VIEW IF EXISTS radius_items;",
    "DROP FUNCTION IF EXISTS radius_view_items(text, oid);",
    "DROP FUNCTION IF EXISTS radius_lookup(text, text, oid);",
    "DROP INDEX IF EXISTS radius_subscriber_key;",
]


# --- What FreeRADIUS calls: the tenant's own functions, no dispatch (network migration 0005) ------
#
# FreeRADIUS's authorize queries name the function through the RADIUS client it verified:
# ``%{Client-Shortname}.radius_check('%{SQL-User-Name}')``, the shortname being radius.nas's
# tenant schema (CHECK: ``isp_[a-z0-9_]+``). Every name in these functions and in radius_lookup
# is qualified with the schema the function was created in, so they need no search_path of their
# own (a SET clause costs a configuration save/restore on every call and stops PostgreSQL from
# keeping plans across schemas); the template schema's names are rewritten to the new schema's by
# django-tenants' clone_schema, which replaces every ``<template>.`` in function definitions.
# SECURITY DEFINER without SET search_path is safe here because nothing is looked up through the
# caller's path: relations, types and functions are qualified, and pg_catalog is searched first.


def _ident(name: str) -> str:
    """quote_ident: the spelling clone_schema looks for when it rewrites ``<template>.``."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else '"' + name.replace('"', '""') + '"'


def _qualify_lookup(schema: str) -> str:
    """LOOKUP_FUNCTION with every relation (and the function itself) in ``schema``."""
    s = _ident(schema)
    text = LOOKUP_FUNCTION.replace("FUNCTION radius_lookup(", f"FUNCTION {s}.radius_lookup(")
    for table in ("hierarchy_subscriber", "hierarchy_package", "hierarchy_operator"):
        text = text.replace(f"FROM {table} AS", f"FROM {s}.{table} AS").replace(f"JOIN {table} AS", f"JOIN {s}.{table} AS")
    assert text.count(f"{s}.") == 5, "radius_lookup: every relation must be qualified"
    return text


# radius_check(client, name): if the NAS address ``client`` is (still) registered to this schema's
# tenant in radius.nas, the check items for the user name (or its MAC key); the reply rows of the
# same read are kept on the database connection for the radius_reply call rlm_sql makes next on
# it, keyed by client address and user name, used once. The registry check costs one index probe
# and keeps a deleted or moved NAS from being answered while FreeRADIUS still caches its client;
# it also means a wrong shortname could never reach another tenant's subscribers. This schema is
# named through its subscriber table (``<schema>.hierarchy_subscriber``: a qualified name, which
# cloning rewrites; a bare schema-name literal it would not).
_CHECK_FUNCTION = r"""
CREATE OR REPLACE FUNCTION {s}.radius_check(client text, name text) RETURNS SETOF radius.avp
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $fn$
DECLARE
    own text := (SELECT c.relnamespace::pg_catalog.regnamespace::pg_catalog.text FROM pg_catalog.pg_class AS c
                 WHERE c.oid = '{s}.hierarchy_subscriber'::pg_catalog.regclass);
    items radius.item[];
BEGIN
    PERFORM pg_catalog.set_config('backhaul.radius_reply_for', '', false);
    IF NOT EXISTS (SELECT 1 FROM radius.nas AS n WHERE n.address = client::inet AND n.tenant_schema = own) THEN
        RETURN;
    END IF;
    items := ARRAY(SELECT i FROM {s}.radius_lookup(name, radius.mac_key(name)) AS i);
    PERFORM pg_catalog.set_config('backhaul.radius_reply',
        ARRAY(SELECT i FROM pg_catalog.unnest(items) AS i WHERE i.kind = 'reply')::text, false);
    PERFORM pg_catalog.set_config('backhaul.radius_reply_for', own || '/' || client || '/' || name, false);
    RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
        FROM pg_catalog.unnest(items) AS i WHERE i.kind = 'check' ORDER BY i.id;
END
$fn$;
"""

_REPLY_FUNCTION = r"""
CREATE OR REPLACE FUNCTION {s}.radius_reply(client text, name text) RETURNS SETOF radius.avp
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $fn$
DECLARE
    own text := (SELECT c.relnamespace::pg_catalog.regnamespace::pg_catalog.text FROM pg_catalog.pg_class AS c
                 WHERE c.oid = '{s}.hierarchy_subscriber'::pg_catalog.regclass);
BEGIN
    IF pg_catalog.current_setting('backhaul.radius_reply_for', true) = own || '/' || client || '/' || name THEN
        PERFORM pg_catalog.set_config('backhaul.radius_reply_for', '', false);
        RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
            FROM pg_catalog.unnest(pg_catalog.current_setting('backhaul.radius_reply')::radius.item[]) AS i
            ORDER BY i.id;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM radius.nas AS n WHERE n.address = client::inet AND n.tenant_schema = own) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
        FROM {s}.radius_lookup(name, radius.mac_key(name)) AS i WHERE i.kind = 'reply' ORDER BY i.id;
END
$fn$;
"""


def direct_sql(schema: str, role: str) -> list[str]:
    """radius_lookup (qualified), radius_check and radius_reply in ``schema``; the FreeRADIUS
    ``role`` may use the schema's name space and execute those two functions; it has no privilege
    on any relation there. (clone_schema copies GRANTs but not REVOKEs: radius.ensure_tenant_partition,
    run in the signup transaction after the clone, revokes PUBLIC's EXECUTE again.)"""
    s, r = _ident(schema), '"' + role.replace('"', '""') + '"'
    return [
        _qualify_lookup(schema),
        _CHECK_FUNCTION.replace("{s}", s),
        _REPLY_FUNCTION.replace("{s}", s),
        f"REVOKE ALL ON FUNCTION {s}.radius_lookup(text, text, oid), {s}.radius_view_items(text, oid),"
        f" {s}.radius_check(text, text), {s}.radius_reply(text, text) FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA {s} TO {r};",
        f"GRANT EXECUTE ON FUNCTION {s}.radius_check(text, text), {s}.radius_reply(text, text) TO {r};",
    ]


DIRECT_BACKWARD = [
    "DROP FUNCTION IF EXISTS radius_reply(text, text);",
    "DROP FUNCTION IF EXISTS radius_check(text, text);",
]


# --- One query per Access-Request (network migration 0006) ---------------------------------------
#
# FreeRADIUS runs a single authorize query, ``<schema>.radius_check(client, name)``, which answers
# the check items *and* the reply items of radius_lookup; rlm_sql puts every row it returns in the
# control list, and the site's ``backhaul_reply_items`` policy moves the reply attributes from
# there to the reply (network/radius/sites.py). No second query, no state kept on the database
# connection between two queries (radius_reply and its GUCs go).
#
# The tenant's own name is written into the functions as the literal ``'<schema>.'`` (trailing dot
# included, so clone_schema's rewrite of ``<template>.`` turns it into the new schema's) instead of
# being read from pg_class on every call. The plans stay cached per database session; the
# FreeRADIUS role's sessions use generic plans and index probes from the start (radius_registry
# migration 0004 sets plan_cache_mode and enable_seqscan for that role in this database).

# Migration 0005's radius_lookup (every name qualified), changed in two places: no SET clause (the
# FreeRADIUS role's sessions use generic plans, radius_registry 0004) and the ISP's row found by the
# literal name instead of through pg_class.
_SET_GENERIC_PLANS = """-- One plan per statement, session and tenant, at once: plpgsql's first custom plans would each
-- cost a planning on the first calls of every connection.
SET plan_cache_mode = force_generic_plan
"""
_TENANT_BY_TABLE = """        SELECT tn.schema, tn.suspended, tn.suspended_mode, tn.suspended_pool INTO t
        FROM pg_catalog.pg_class AS c JOIN radius.tenant AS tn ON tn.schema = c.relnamespace::regnamespace::text
        WHERE c.oid = s.rel;
        IF NOT FOUND THEN
            CONTINUE;  -- not a tenant schema: no answer
        END IF;
"""
_TENANT_BY_NAME = """        SELECT tn.schema, tn.suspended, tn.suspended_mode, tn.suspended_pool INTO t
        FROM radius.tenant AS tn WHERE tn.schema = pg_catalog.rtrim('{s}.', '.');
        IF NOT FOUND THEN
            RETURN;  -- not (or no longer) a tenant schema: no answer
        END IF;
"""


def _lookup_0006(schema: str) -> str:
    s = _ident(schema)
    text = _qualify_lookup(schema)
    assert _SET_GENERIC_PLANS in text and _TENANT_BY_TABLE in text
    return text.replace(_SET_GENERIC_PLANS, "").replace(_TENANT_BY_TABLE, _TENANT_BY_NAME.replace("{s}", s))


# The reply attributes radius_lookup can answer: the policy that moves them from control to the
# reply names each of them (sites.py); a test keeps the two lists equal.
REPLY_ATTRIBUTES = ("Mikrotik-Rate-Limit", "Framed-IP-Address", "Session-Timeout", "Framed-Pool",
                    "Mikrotik-Address-List")

# radius_check(client, name): if the NAS address ``client`` is (still) registered to this schema's
# tenant in radius.nas, every item (check first, then reply) for the user name or its MAC key. The
# registry probe keeps a deleted or moved NAS from being answered while FreeRADIUS still caches its
# client; it also means a wrong shortname could never reach another tenant's subscribers.
_CHECK_0006 = r"""
CREATE OR REPLACE FUNCTION {s}.radius_check(client text, name text) RETURNS SETOF radius.avp
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM radius.nas AS n
                   WHERE n.address = client::inet AND n.tenant_schema = pg_catalog.rtrim('{s}.', '.')) THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
        FROM {s}.radius_lookup(name, radius.mac_key(name)) AS i;
END
$fn$;
"""


def authorize_sql(schema: str, role: str) -> list[str]:
    """Network migration 0006 in ``schema``: radius_lookup (qualified, its tenant named by literal),
    radius_check answering check and reply items, radius_reply dropped; grants as in 0005."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):  # its name is also written as a literal
        raise ValueError(f"not a tenant schema name: {schema!r}")
    s, r = _ident(schema), '"' + role.replace('"', '""') + '"'
    lookup = _lookup_0006(schema)
    assert lookup.count(f"{s}.") == 6, "radius_lookup: every relation (and its own name) must be qualified"
    return [
        lookup,
        _CHECK_0006.replace("{s}", s),
        f"DROP FUNCTION IF EXISTS {s}.radius_reply(text, text);",
        f"REVOKE ALL ON FUNCTION {s}.radius_lookup(text, text, oid), {s}.radius_view_items(text, oid),"
        f" {s}.radius_check(text, text) FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA {s} TO {r};",
        f"GRANT EXECUTE ON FUNCTION {s}.radius_check(text, text) TO {r};",
    ]



# --- The items' logic shared by every ISP (network migration 0007) -------------------------------
#
# radius_lookup is one statement: the subscriber (by login or MAC key), its package, the ISP's row and
# whether a node of its chain is suspended, as a radius.subscriber_state, turned into items by the shared
# radius.answer (radius_registry migration 0005, network/radius/sql.py ANSWER_SQL). radius_check runs the
# same statement for a NAS registered to this ISP. Per ISP a FreeRADIUS connection keeps one small function
# and one plan instead of a compiled copy of all the logic.

# The subscriber's state, read in one statement with its package, the ISP's row and whether a node of its
# chain is suspended; {name} and {mac_key} are the keys looked for, {condition} what else must hold.
_STATE_QUERY = r"""
        SELECT ROW(sub.id, {key}, sub.username::text, sub.mac_address::text, sub.connection_type::text,
                   sub.password::text, sub.ip_address, sub.expires_at, sub.status::text, sub.created,
                   tn.schema, tn.suspended, tn.suspended_mode, tn.suspended_pool,
                   EXISTS (SELECT 1 FROM {s}.hierarchy_operator AS ow
                           JOIN {s}.hierarchy_operator AS o
                             ON o.id = ANY (string_to_array(btrim(ow.path, '/'), '/')::bigint[])
                           WHERE ow.id = sub.owner_id AND o.status = 'suspended'
                             AND (o.suspends_customers OR o.id <> sub.owner_id)),
                   pk.upload_kbps, pk.download_kbps, pk.burst_upload_kbps, pk.burst_download_kbps,
                   pk.burst_threshold_upload_kbps, pk.burst_threshold_download_kbps, pk.burst_time_seconds,
                   pk.quota_mb, pk.quota_action::text, pk.quota_throttle_upload_kbps,
                   pk.quota_throttle_download_kbps, pk.validity_days, pk.validity_hours
               )::radius.subscriber_state AS state
        FROM {s}.hierarchy_subscriber AS sub
        JOIN {s}.hierarchy_package AS pk ON pk.id = sub.package_id
        JOIN radius.tenant AS tn ON tn.schema = pg_catalog.rtrim('{s}.', '.')
        WHERE {key} IN ({name}, {mac_key}) AND {condition}"""

_LOOKUP_0007 = r"""
CREATE OR REPLACE FUNCTION {s}.radius_lookup(name text, mac_key text, rel oid DEFAULT NULL)
RETURNS SETOF radius.item
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    RETURN QUERY SELECT a.* FROM ({state}
    ) AS q CROSS JOIN LATERAL radius.answer(q.state) AS a;
END
$fn$;
"""

# The same statement, not a call of radius_lookup: one function and one plan less per ISP on every
# FreeRADIUS connection (~13 % of the function's cost with requests spread over 100 ISPs). The NAS test
# is uncorrelated: evaluated once, before any subscriber is read.
_CHECK_0007 = r"""
CREATE OR REPLACE FUNCTION {s}.radius_check(client text, name text) RETURNS SETOF radius.avp
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $fn$
BEGIN
    RETURN QUERY SELECT a.id, a.username, a.attribute, a.value, a.op FROM ({state}
    ) AS q CROSS JOIN LATERAL radius.answer(q.state) AS a;
END
$fn$;
"""


def answer_sql(schema: str, role: str) -> list[str]:
    """Network migration 0007 in ``schema``: radius_lookup and radius_check, each one statement over
    radius.answer (radius_check only for a NAS registered to this ISP); grants as in 0006."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):  # its name is also written as a literal
        raise ValueError(f"not a tenant schema name: {schema!r}")
    s, r = _ident(schema), '"' + role.replace('"', '""') + '"'

    def state(name: str, mac_key: str, condition: str) -> str:
        return (_STATE_QUERY.replace("{name}", name).replace("{mac_key}", mac_key)
                .replace("{condition}", condition).replace("{key}", _key("sub")))

    lookup = _LOOKUP_0007.replace("{state}", state(
        "radius_lookup.name", "radius_lookup.mac_key",
        "(radius_lookup.rel IS NULL OR sub.tableoid = radius_lookup.rel)",
    )).replace("{s}", s)
    check = _CHECK_0007.replace("{state}", state(
        "radius_check.name", "radius.mac_key(radius_check.name)",
        "EXISTS (SELECT 1 FROM radius.nas AS n WHERE n.address = radius_check.client::inet"
        " AND n.tenant_schema = pg_catalog.rtrim('{s}.', '.'))",
    )).replace("{s}", s)
    assert lookup.count(f"{s}.") == 6, "radius_lookup: every relation (and its own name) must be qualified"
    assert check.count(f"{s}.") == 7, "radius_check: every relation (and its own name) must be qualified"
    return [
        lookup,
        check,
        f"REVOKE ALL ON FUNCTION {s}.radius_lookup(text, text, oid), {s}.radius_view_items(text, oid),"
        f" {s}.radius_check(text, text) FROM PUBLIC;",
        f"GRANT USAGE ON SCHEMA {s} TO {r};",
        f"GRANT EXECUTE ON FUNCTION {s}.radius_check(text, text) TO {r};",
    ]


def run_in_schema(builder: Callable[[str, str], list[str]]) -> Callable[[Any, Any], None]:
    """A RunPython step of a tenant-app migration: the statements ``builder(schema, role)`` makes for the
    schema being migrated (the template or a tenant's) and the FreeRADIUS role."""

    def step(apps: Any, schema_editor: Any) -> None:
        from django.conf import settings

        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT current_schema()")
            schema = str(cursor.fetchone()[0])
            for statement in builder(schema, settings.RADIUS_DB_ROLE):
                cursor.execute(statement)

    return step
