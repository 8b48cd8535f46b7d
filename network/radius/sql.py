"""SQL for the shared ``radius`` schema, and every query FreeRADIUS runs against it.

Tenant isolation rests on three things, all in the database:

* ``radius.nas`` maps a NAS source address to one tenant schema. FreeRADIUS learns its clients
  (secret, ``Client-Shortname`` = tenant schema) from this table, so the tenant of a request is
  the one bound to the packet's source address *and* verified by its shared secret - never an
  attribute the NAS sends.
* Authorization calls the tenant's own ``<schema>.radius_check`` (SECURITY DEFINER,
  network/radius/tenant_sql.py; one query answers the check and the reply items), the schema being
  the verified client's shortname, which a CHECK on ``radius.nas`` keeps to ``isp_[a-z0-9_]+``; the
  function answers only a client address that ``radius.nas`` registers to its own tenant. The
  FreeRADIUS role may execute that function of each tenant schema and read nothing there.
* Accounting rows carry ``tenant = '%{Client-Shortname}'`` and the tables are LIST-partitioned
  by tenant with no default partition, so a row for a tenant without a partition fails instead
  of landing anywhere else.

Query templates below contain FreeRADIUS xlat expansions (``%{...}``), never Python formatting;
rlm_sql escapes every expansion with ``auto_escape = yes`` (PQescapeStringConn).
"""

from __future__ import annotations

from psycopg import sql as pgsql

# A tenant schema name as FreeRADIUS and partition names can carry it: partition names are
# 'radpostauth_' + schema, which must stay within PostgreSQL's 63-byte identifier limit.
TENANT_SCHEMA_PATTERN = r"^[a-z_][a-z0-9_]{0,50}$"

_TABLES_SQL = r"""
CREATE SCHEMA IF NOT EXISTS radius;

-- Tenants known to RADIUS: a live view of the platform's tenant rows (no copy to keep in sync).
-- A suspended tenant, and its choice between reject and the suspended pool, takes effect on the
-- next Access-Request.
CREATE OR REPLACE VIEW radius.tenant AS
SELECT t.schema_name::text AS schema,
       t.status <> 'active' AS suspended,
       t.radius_suspended_mode::text AS suspended_mode,
       t.suspended_pool::text AS suspended_pool
FROM public.tenants_tenant AS t
WHERE t.schema_name <> 'public';

CREATE TABLE IF NOT EXISTS radius.nas (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address         inet NOT NULL UNIQUE
                    CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    secret          text NOT NULL CHECK (length(secret) BETWEEN 6 AND 128),
    tenant_schema   text NOT NULL REFERENCES public.tenants_tenant (schema_name) ON DELETE CASCADE
                    CHECK (tenant_schema ~ '^[a-z_][a-z0-9_]{0,50}$'),
    -- FreeRADIUS's Client-Shortname; accounting queries write it as the tenant.
    shortname       text GENERATED ALWAYS AS (tenant_schema) STORED,
    nas_type        text NOT NULL DEFAULT 'other',
    description     text NOT NULL DEFAULT '',
    coa_port        integer NOT NULL DEFAULT 3799 CHECK (coa_port BETWEEN 1 AND 65535),
    require_message_authenticator boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS nas_tenant_schema_idx ON radius.nas (tenant_schema);

-- Standard FreeRADIUS radacct columns, plus tenant (partition key) and clientipaddress (the
-- verified source address, used by Accounting-On/Off instead of the NAS-IP-Address it sends).
CREATE TABLE IF NOT EXISTS radius.radacct (
    radacctid           bigserial,
    tenant              text NOT NULL,
    clientipaddress     inet NOT NULL,
    acctsessionid       text NOT NULL,
    acctuniqueid        text NOT NULL,
    username            text,
    realm               text,
    nasipaddress        inet NOT NULL,
    nasportid           text,
    nasporttype         text,
    acctstarttime       timestamptz,
    acctupdatetime      timestamptz,
    acctstoptime        timestamptz,
    acctinterval        bigint,
    acctsessiontime     bigint,
    acctauthentic       text,
    connectinfo_start   text,
    connectinfo_stop    text,
    acctinputoctets     bigint,
    acctoutputoctets    bigint,
    calledstationid     text,
    callingstationid    text,
    acctterminatecause  text,
    servicetype         text,
    framedprotocol      text,
    framedipaddress     inet,
    framedipv6address   inet,
    framedipv6prefix    inet,
    framedinterfaceid   text,
    delegatedipv6prefix inet,
    class               text,
    PRIMARY KEY (tenant, radacctid),
    UNIQUE (tenant, acctuniqueid)
) PARTITION BY LIST (tenant);
CREATE INDEX IF NOT EXISTS radacct_open_by_client_idx
    ON radius.radacct (tenant, clientipaddress, acctstarttime) WHERE acctstoptime IS NULL;
CREATE INDEX IF NOT EXISTS radacct_username_start_idx ON radius.radacct (tenant, username, acctstarttime);

-- No 'pass' column: stock FreeRADIUS logs the cleartext password here; we do not.
CREATE TABLE IF NOT EXISTS radius.radpostauth (
    id                  bigserial,
    tenant              text NOT NULL,
    username            text NOT NULL,
    reply               text,
    nasipaddress        inet,
    calledstationid     text,
    callingstationid    text,
    authdate            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, id)
) PARTITION BY LIST (tenant);
CREATE INDEX IF NOT EXISTS radpostauth_username_idx ON radius.radpostauth (tenant, username, authdate);

-- Creates (idempotently) a tenant's accounting partitions. Run by the migrating role inside
-- tenant_create's transaction; never granted to the FreeRADIUS role.
CREATE OR REPLACE FUNCTION radius.ensure_tenant_partition(schema text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
-- Creating a partition locks the parent; never queue behind a long report and stall accounting.
SET lock_timeout = '5s'
AS $fn$
BEGIN
    IF ensure_tenant_partition.schema !~ '^[a-z_][a-z0-9_]{0,50}$'
       OR ensure_tenant_partition.schema IN ('public', 'radius', 'information_schema')
       OR ensure_tenant_partition.schema ~ '^pg_' THEN
        RAISE EXCEPTION 'not a tenant schema name: %', ensure_tenant_partition.schema
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS radius.%I PARTITION OF radius.radacct FOR VALUES IN (%L)',
                   'radacct_' || ensure_tenant_partition.schema, ensure_tenant_partition.schema);
    EXECUTE format('CREATE TABLE IF NOT EXISTS radius.%I PARTITION OF radius.radpostauth FOR VALUES IN (%L)',
                   'radpostauth_' || ensure_tenant_partition.schema, ensure_tenant_partition.schema);
END
$fn$;
REVOKE ALL ON FUNCTION radius.ensure_tenant_partition(text) FROM PUBLIC;

-- A deleted tenant takes its accounting with it: a later tenant reusing the schema name must
-- not inherit the old partitions (and their usage history).
CREATE OR REPLACE FUNCTION radius.tenant_deleted() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF OLD.schema_name ~ '^[a-z_][a-z0-9_]{0,50}$' THEN
        EXECUTE format('DROP TABLE IF EXISTS radius.%I', 'radacct_' || OLD.schema_name);
        EXECUTE format('DROP TABLE IF EXISTS radius.%I', 'radpostauth_' || OLD.schema_name);
    END IF;
    RETURN OLD;
END
$fn$;
DROP TRIGGER IF EXISTS radius_tenant_deleted ON public.tenants_tenant;
CREATE TRIGGER radius_tenant_deleted AFTER DELETE ON public.tenants_tenant
    FOR EACH ROW EXECUTE FUNCTION radius.tenant_deleted();

DO $do$
BEGIN
    IF to_regtype('radius.avp') IS NULL THEN
        -- Column order is what rlm_sql reads: id, username, attribute, value, op.
        CREATE TYPE radius.avp AS (id bigint, username text, attribute text, value text, op text);
    END IF;
END
$do$;

-- A hotspot's MAC-as-username in any common spelling (AA:BB:.., aa-bb-.., aabb.ccdd.eeff) as the
-- key the tenant views use for hotspot subscribers: 12 lowercase hex digits. NULL if not a MAC.
CREATE OR REPLACE FUNCTION radius.mac_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT CASE WHEN k ~ '^[0-9a-f]{12}$' THEN k END
    FROM (SELECT lower(translate(name, ':-.', '')) AS k) AS m
$fn$;

-- Octets (up + down) of a subscriber's sessions active since a time, in one tenant's partition.
-- Used by the tenant views for data-quota packages.
CREATE OR REPLACE FUNCTION radius.quota_used(tenant text, login text, mac text, since timestamptz)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    -- plpgsql, not sql: its plan is cached per session (partitions pruned at run time).
    RETURN (SELECT COALESCE(sum(COALESCE(a.acctinputoctets, 0) + COALESCE(a.acctoutputoctets, 0)), 0)::bigint
            FROM radius.radacct AS a
            WHERE a.tenant = quota_used.tenant AND a.username IN (quota_used.login, quota_used.mac)
              AND COALESCE(a.acctupdatetime, a.acctstarttime) >= quota_used.since);
END
$fn$;
REVOKE ALL ON FUNCTION radius.quota_used(text, text, text, timestamptz) FROM PUBLIC;

"""

LOOKUP_SQL = r"""
DO $do$
BEGIN
    IF to_regtype('radius.item') IS NULL THEN
        -- One row of a tenant's radius_items view: a check or a reply item.
        CREATE TYPE radius.item AS (kind text, id bigint, username text, attribute text, value text, op text);
    END IF;
END
$do$;

-- check_items: the tenant schema serving the NAS address (none for an unknown NAS), then that
-- schema's radius_items rows for the user name (or its MAC key), read once: the check rows are
-- returned, the reply rows kept for the reply_items call that rlm_sql makes next on the same
-- database connection. Whether the tenant, the node or the customer is suspended is the views'
-- business: they answer Reject or the suspended pool.
CREATE OR REPLACE FUNCTION radius.check_items(client_ip text, username text) RETURNS SETOF radius.avp
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant_schema text;
    items radius.item[];
BEGIN
    SELECT n.tenant_schema INTO tenant_schema FROM radius.nas AS n WHERE n.address = client_ip::inet;
    IF tenant_schema IS NULL THEN
        PERFORM pg_catalog.set_config('backhaul.radius_reply_for', '', false);
        RETURN;
    END IF;
    -- The tenant's radius_lookup (plpgsql, plans cached per session) reads the schema on the
    -- search_path. The path is set back at once: a statement of this function run under another
    -- path than the one it was planned with would be planned again (on every change of tenant).
    PERFORM pg_catalog.set_config('search_path', pg_catalog.quote_ident(tenant_schema) || ', pg_catalog', true);
    EXECUTE format('SELECT pg_catalog.array_agg(i) FROM %I.radius_lookup($1, $2) AS i', tenant_schema)
        INTO items USING check_items.username, radius.mac_key(check_items.username);
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
    -- Kept for this connection's next reply_items call, keyed by what it will ask for. Only
    -- what this function computed is ever read back: reply_items recomputes on any mismatch.
    PERFORM pg_catalog.set_config('backhaul.radius_reply',
        COALESCE(ARRAY(SELECT i FROM pg_catalog.unnest(items) AS i WHERE i.kind = 'reply')::text, '{}'), false);
    PERFORM pg_catalog.set_config('backhaul.radius_reply_for', client_ip || '/' || check_items.username, false);
    RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
        FROM pg_catalog.unnest(items) AS i WHERE i.kind = 'check' ORDER BY i.id;
END
$fn$;
REVOKE ALL ON FUNCTION radius.check_items(text, text) FROM PUBLIC;

-- reply_items: what check_items kept for this (client, user name) on this connection, used once;
-- otherwise the same lookup again.
CREATE OR REPLACE FUNCTION radius.reply_items(client_ip text, username text) RETURNS SETOF radius.avp
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tenant_schema text;
    kept text;
BEGIN
    IF pg_catalog.current_setting('backhaul.radius_reply_for', true) = client_ip || '/' || reply_items.username THEN
        kept := pg_catalog.current_setting('backhaul.radius_reply', true);
        PERFORM pg_catalog.set_config('backhaul.radius_reply_for', '', false);
        RETURN QUERY SELECT i.id, i.username, i.attribute, i.value, i.op
            FROM pg_catalog.unnest(kept::radius.item[]) AS i ORDER BY i.id;
        RETURN;
    END IF;
    SELECT n.tenant_schema INTO tenant_schema FROM radius.nas AS n WHERE n.address = client_ip::inet;
    IF tenant_schema IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_catalog.set_config('search_path', pg_catalog.quote_ident(tenant_schema) || ', pg_catalog', true);
    RETURN QUERY EXECUTE format(
        'SELECT i.id, i.username, i.attribute, i.value, i.op FROM %I.radius_lookup($1, $2) AS i'
        ' WHERE i.kind = ''reply'' ORDER BY i.id', tenant_schema)
        USING reply_items.username, radius.mac_key(reply_items.username);
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true);
END
$fn$;
REVOKE ALL ON FUNCTION radius.reply_items(text, text) FROM PUBLIC;

"""

# Migration radius_registry 0001 runs it all; 0002 replaces the lookup functions of 0001.
SCHEMA_SQL = _TABLES_SQL + LOOKUP_SQL

# A tenant schema name as it may be spliced into a query as an identifier (the authorize queries
# call %{Client-Shortname}.radius_check): what tenants.services.schema_name_for makes, nothing else.
SHORTNAME_PATTERN = r"^isp_[a-z0-9_]{1,47}$"

# Migration radius_registry 0003: FreeRADIUS calls each tenant's own radius_check / radius_reply
# (network migration 0005), named by the verified client's shortname; the dispatch goes.
DIRECT_SQL = rf"""
ALTER TABLE radius.nas DROP CONSTRAINT IF EXISTS nas_shortname_is_tenant_schema;
ALTER TABLE radius.nas ADD CONSTRAINT nas_shortname_is_tenant_schema
    CHECK (shortname ~ '{SHORTNAME_PATTERN}' AND tenant_schema ~ '{SHORTNAME_PATTERN}');

-- The login FreeRADIUS connects as (settings.RADIUS_DB_ROLE, written by the migration): new
-- tenants' functions are granted to it at signup.
CREATE TABLE IF NOT EXISTS radius.server_role (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role        name NOT NULL
);

DROP FUNCTION IF EXISTS radius.check_items(text, text);
DROP FUNCTION IF EXISTS radius.reply_items(text, text);

-- As in 0001, and: clone_schema copies neither the FreeRADIUS role's grants (only grantable
-- ones) nor the REVOKE of PUBLIC's EXECUTE, so in the signup transaction, after the clone, the
-- new tenant's RADIUS functions are made private again and radius_check / radius_reply (and the
-- schema's name space, nothing in it) granted to the FreeRADIUS role.
CREATE OR REPLACE FUNCTION radius.ensure_tenant_partition(schema text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $fn$
DECLARE
    fn text;
    server name;
BEGIN
    IF ensure_tenant_partition.schema !~ '^[a-z_][a-z0-9_]{{0,50}}$'
       OR ensure_tenant_partition.schema IN ('public', 'radius', 'information_schema')
       OR ensure_tenant_partition.schema ~ '^pg_' THEN
        RAISE EXCEPTION 'not a tenant schema name: %', ensure_tenant_partition.schema
            USING ERRCODE = 'check_violation';
    END IF;
    EXECUTE format('CREATE TABLE IF NOT EXISTS radius.%I PARTITION OF radius.radacct FOR VALUES IN (%L)',
                   'radacct_' || ensure_tenant_partition.schema, ensure_tenant_partition.schema);
    EXECUTE format('CREATE TABLE IF NOT EXISTS radius.%I PARTITION OF radius.radpostauth FOR VALUES IN (%L)',
                   'radpostauth_' || ensure_tenant_partition.schema, ensure_tenant_partition.schema);
    FOREACH fn IN ARRAY ARRAY['radius_lookup(text, text, oid)', 'radius_view_items(text, oid)',
                              'radius_check(text, text)', 'radius_reply(text, text)'] LOOP
        IF to_regprocedure(quote_ident(ensure_tenant_partition.schema) || '.' || fn) IS NOT NULL THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %I.%s FROM PUBLIC', ensure_tenant_partition.schema, fn);
        END IF;
    END LOOP;
    IF to_regprocedure(quote_ident(ensure_tenant_partition.schema) || '.radius_check(text, text)') IS NOT NULL THEN
        FOR server IN SELECT r.role FROM radius.server_role AS r LOOP
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', ensure_tenant_partition.schema, server);
            EXECUTE format('GRANT EXECUTE ON FUNCTION %I.radius_check(text, text), %I.radius_reply(text, text) TO %I',
                           ensure_tenant_partition.schema, ensure_tenant_partition.schema, server);
        END LOOP;
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION radius.ensure_tenant_partition(text) FROM PUBLIC;
"""

# Migration radius_registry 0004 (with network 0006: one authorize query per Access-Request).
# - radius.mac_key without a SET clause and with every name qualified, so PostgreSQL inlines it
#   (a SQL function with SET is called through the function manager and re-planned on each call,
#   which cost more than the subscriber lookup it keys);
# - at signup only radius_check is granted to FreeRADIUS (radius_reply is gone);
# - the FreeRADIUS role's sessions in this database use generic plans from the first call and
#   index probes (its tables are small in a new platform: seq scans would be planned, then kept).
_ENSURE_PARTITION_0003 = DIRECT_SQL[DIRECT_SQL.index("CREATE OR REPLACE FUNCTION radius.ensure_tenant_partition"):]
_GRANT_CHECK_AND_REPLY = """            EXECUTE format('GRANT EXECUTE ON FUNCTION %I.radius_check(text, text), %I.radius_reply(text, text) TO %I',
                           ensure_tenant_partition.schema, ensure_tenant_partition.schema, server);"""
_GRANT_CHECK = """            EXECUTE format('GRANT EXECUTE ON FUNCTION %I.radius_check(text, text) TO %I',
                           ensure_tenant_partition.schema, server);"""
assert _GRANT_CHECK_AND_REPLY in _ENSURE_PARTITION_0003
ONE_QUERY_SQL = r"""
CREATE OR REPLACE FUNCTION radius.mac_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN pg_catalog.lower(pg_catalog.translate(name, ':-.', ''))
                     OPERATOR(pg_catalog.~) '^[0-9a-f]{12}$'
                THEN pg_catalog.lower(pg_catalog.translate(name, ':-.', '')) END
$fn$;

""" + _ENSURE_PARTITION_0003.replace(_GRANT_CHECK_AND_REPLY, _GRANT_CHECK)


# Migration radius_registry 0005 (with network 0007): what an Access-Request is answered, computed once for
# every ISP. Each tenant schema's radius_lookup is a single statement reading its subscriber (with package,
# the ISP's row and the role tree's suspensions) into a radius.subscriber_state; radius.answer turns that
# state into check and reply items. A FreeRADIUS connection serves every ISP: with the items' logic in one
# shared function (compiled and planned once per connection) instead of a copy per ISP, what each ISP adds
# to a connection is one small plan, and requests spread over 100 ISPs cost ~20 % less (bench/radius.py).
ANSWER_SQL = r"""
DO $do$
BEGIN
    IF to_regtype('radius.subscriber_state') IS NULL THEN
        -- One subscriber as the RADIUS answer depends on it (read by a tenant's radius_lookup).
        CREATE TYPE radius.subscriber_state AS (
            id bigint, key text, login text, mac text, connection_type text, password text, ip_address inet,
            expires_at timestamptz, status text, created timestamptz,
            tenant text, tenant_suspended boolean, suspended_mode text, suspended_pool text,
            node_suspended boolean,
            upload_kbps integer, download_kbps integer, burst_upload_kbps integer, burst_download_kbps integer,
            burst_threshold_upload_kbps integer, burst_threshold_download_kbps integer,
            burst_time_seconds integer, quota_mb bigint, quota_action text, quota_throttle_upload_kbps integer,
            quota_throttle_download_kbps integer, validity_days integer, validity_hours integer);
    END IF;
END
$do$;

CREATE OR REPLACE FUNCTION radius.answer(s radius.subscriber_state) RETURNS SETOF radius.item
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    denied text;
    pooled boolean;
    over_quota boolean := false;
    period interval;
    since timestamptz;
    rate text;
BEGIN
    -- Data quota: octets of sessions active in the current validity period, which ends at expiry, or (no
    -- expiry) consecutive periods run from the subscriber's creation, in whole seconds as accounting has them.
    IF s.quota_mb IS NOT NULL THEN
        period := make_interval(days => s.validity_days, hours => s.validity_hours);
        IF s.expires_at IS NOT NULL THEN
            since := s.expires_at - period;
        ELSE
            since := date_trunc('second', s.created) + floor(
                extract(epoch FROM now() - date_trunc('second', s.created)) / extract(epoch FROM period)
            )::int * period;
        END IF;
        over_quota := radius.quota_used(s.tenant, s.login, s.mac, since) >= s.quota_mb * 1048576;
    END IF;
    denied := CASE
        WHEN s.tenant_suspended THEN 'tenant_suspended'
        WHEN s.status <> 'active' THEN s.status
        WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 'expired'
        -- The owner suspended with "suspends customers", or any node above it suspended.
        WHEN s.node_suspended THEN 'node_suspended'
        WHEN over_quota AND s.quota_action = 'reject' THEN 'quota'
    END;
    pooled := denied IS NOT NULL AND denied <> 'quota' AND s.suspended_mode = 'pool';
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
        -- rx/tx from the router's side: rx is what the subscriber uploads.
        rate := CASE
            WHEN over_quota AND s.quota_action = 'throttle' THEN
                format('%sk/%sk', COALESCE(s.quota_throttle_upload_kbps, 64), COALESCE(s.quota_throttle_download_kbps, 64))
            WHEN s.burst_download_kbps IS NOT NULL THEN
                format('%sk/%sk %sk/%sk %sk/%sk %s/%s', s.upload_kbps, s.download_kbps,
                       s.burst_upload_kbps, s.burst_download_kbps,
                       s.burst_threshold_upload_kbps, s.burst_threshold_download_kbps,
                       s.burst_time_seconds, s.burst_time_seconds)
            ELSE format('%sk/%sk', s.upload_kbps, s.download_kbps)
        END;
        RETURN NEXT ('reply', s.id * 8 + 1, s.key, 'Mikrotik-Rate-Limit', rate, ':=')::radius.item;
        IF s.ip_address IS NOT NULL THEN
            RETURN NEXT ('reply', s.id * 8 + 2, s.key, 'Framed-IP-Address', host(s.ip_address), ':=')::radius.item;
        END IF;
        IF s.expires_at IS NOT NULL THEN
            RETURN NEXT ('reply', s.id * 8 + 3, s.key, 'Session-Timeout',
                         greatest(1, ceil(extract(epoch FROM s.expires_at - now())))::bigint::text, ':=')::radius.item;
        END IF;
    ELSIF pooled THEN
        RETURN NEXT ('reply', s.id * 8 + 4, s.key, 'Framed-Pool', s.suspended_pool, ':=')::radius.item;
        RETURN NEXT ('reply', s.id * 8 + 5, s.key, 'Mikrotik-Address-List', s.suspended_pool, ':=')::radius.item;
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION radius.answer(radius.subscriber_state) FROM PUBLIC;
"""


def server_role_settings_sql(role: str) -> pgsql.Composed:
    """What the FreeRADIUS role's sessions in this database run with (every query it sends is a keyed
    lookup or write): generic plans at once, index probes even while tables are small, no JIT."""
    return pgsql.SQL(
        "DO $do$ BEGIN"
        " EXECUTE format('ALTER ROLE %I IN DATABASE %I SET plan_cache_mode = force_generic_plan', {role},"
        " current_database());"
        " EXECUTE format('ALTER ROLE %I IN DATABASE %I SET enable_seqscan = off', {role}, current_database());"
        # (a plan that must still scan sequentially costs "disabled" and would otherwise trip JIT compilation)
        " EXECUTE format('ALTER ROLE %I IN DATABASE %I SET jit = off', {role}, current_database());"
        " END $do$"
    ).format(role=pgsql.Literal(role))

# Columns the FreeRADIUS role may read: what its queries name in WHERE, SET expressions and
# ON CONFLICT. Reading usage history (user names, octets) is not among them.
_RADACCT_READABLE = (
    "tenant",
    "clientipaddress",
    "acctuniqueid",
    "acctstarttime",
    "acctupdatetime",
    "acctstoptime",
    "acctsessiontime",
    "framedipaddress",
    "framedipv6address",
    "framedipv6prefix",
    "framedinterfaceid",
    "delegatedipv6prefix",
)
_NAS_READABLE = (
    "id",
    "address",
    "secret",
    "shortname",
    "tenant_schema",
    "nas_type",
    "require_message_authenticator",
)


def server_role_sql(*, role: str, password: str | None, create: bool = True) -> list[pgsql.Composed]:
    """Statements creating the least-privilege login FreeRADIUS connects as.

    It may: read radius.nas (clients), insert/update accounting (and, granted per tenant schema by
    network migrations 0005/0006 and at signup, execute <schema>.radius_check). It may not
    read tenant schemas, radius.tenant or call the partition function. ``create=False`` alters an
    existing role (roles are cluster-wide, grants per database). The check_items/reply_items grant
    is of migration 0001's time; migration 0003 drops those functions.
    """
    ident = pgsql.Identifier(role)
    verb = pgsql.SQL("CREATE ROLE" if create else "ALTER ROLE")
    login = (
        pgsql.SQL("{} {} LOGIN PASSWORD {}").format(verb, ident, pgsql.Literal(password))
        if password is not None
        else pgsql.SQL("{} {} LOGIN").format(verb, ident)
    )

    def columns(names: tuple[str, ...]) -> pgsql.Composed:
        return pgsql.SQL(", ").join(pgsql.Identifier(n) for n in names)

    return [
        login,
        pgsql.SQL("GRANT USAGE ON SCHEMA radius TO {}").format(ident),
        pgsql.SQL("GRANT SELECT ({}) ON radius.nas TO {}").format(columns(_NAS_READABLE), ident),
        pgsql.SQL(
            "GRANT EXECUTE ON FUNCTION radius.check_items(text, text), radius.reply_items(text, text) TO {}"
        ).format(ident),
        pgsql.SQL("GRANT INSERT, UPDATE ON radius.radacct TO {}").format(ident),
        pgsql.SQL("GRANT SELECT ({}) ON radius.radacct TO {}").format(columns(_RADACCT_READABLE), ident),
        pgsql.SQL("GRANT INSERT ON radius.radpostauth TO {}").format(ident),
        pgsql.SQL("GRANT USAGE ON SEQUENCE radius.radacct_radacctid_seq, radius.radpostauth_id_seq TO {}").format(
            ident
        ),
    ]


# --- Queries FreeRADIUS runs (xlat templates) ------------------------------------------------

# The packet's source address: what the client (and so the tenant) was looked up by.
CLIENT_ADDRESS = "%{%{Packet-Src-IP-Address}:-%{Packet-Src-IPv6-Address}}"
_CLIENT_INET = f"'{CLIENT_ADDRESS}'::inet"
_TENANT = "'%{Client-Shortname}'"
_UNIQUE_ID = "'%{Acct-Unique-Session-Id}'"
_EVENT_EPOCH = "'%{%{integer:Event-Timestamp}:-%l}'::bigint"
_EVENT_TS = f"to_timestamp({_EVENT_EPOCH})"
_SESSION_TIME = "NULLIF('%{Acct-Session-Time}', '')::bigint"
_INPUT_OCTETS = "(('%{%{Acct-Input-Gigawords}:-0}'::bigint << 32) + '%{%{Acct-Input-Octets}:-0}'::bigint)"
_OUTPUT_OCTETS = "(('%{%{Acct-Output-Gigawords}:-0}'::bigint << 32) + '%{%{Acct-Output-Octets}:-0}'::bigint)"
_NAS_IP = f"COALESCE(NULLIF('%{{%{{NAS-IPv6-Address}}:-%{{NAS-IP-Address}}}}', '')::inet, {_CLIENT_INET})"
_THIS_SESSION = f"tenant = {_TENANT} AND acctuniqueid = {_UNIQUE_ID}"

# The tenant's own functions, schema-qualified by the RADIUS client FreeRADIUS matched by source
# address and verified by secret (Client-Shortname = radius.nas.shortname, which a CHECK keeps to
# isp_[a-z0-9_]+): never by anything in the packet. The user name is only ever a quoted literal
# (auto_escape). A packet from an unknown address has no client and is dropped before any query;
# the functions also answer only a client address radius.nas (still) registers to their tenant.
_AUTHORIZE = "SELECT id, username, attribute, value, op FROM %{{Client-Shortname}}.{}('{}', '%{{SQL-User-Name}}')"
# radius_check answers the check and the reply items (network migration 0006): one query per request.
AUTHORIZE_CHECK_QUERY = _AUTHORIZE.format("radius_check", CLIENT_ADDRESS)

# rlm_sql read_clients: id, nasname, shortname, type, secret.
CLIENT_QUERY = "SELECT id, host(address), shortname, nas_type, secret FROM radius.nas"

# Dynamic-client lookup, run once per NAS address per client lifetime (see config.py).
_NAS_BY_SOURCE = f"FROM radius.nas WHERE address = {_CLIENT_INET}"
DYNAMIC_CLIENT_QUERIES: dict[str, str] = {
    "shortname": f"SELECT shortname {_NAS_BY_SOURCE}",
    "secret": f"SELECT secret {_NAS_BY_SOURCE}",
    "nas_type": f"SELECT nas_type {_NAS_BY_SOURCE}",
    "require_ma": f"SELECT CASE WHEN require_message_authenticator THEN 'yes' ELSE 'no' END {_NAS_BY_SOURCE}",
}

_FRAMED_VALUES = (
    "NULLIF('%{Framed-IP-Address}', '')::inet, NULLIF('%{Framed-IPv6-Address}', '')::inet, "
    "NULLIF('%{Framed-IPv6-Prefix}', '')::inet, NULLIF('%{Framed-Interface-Id}', ''), "
    "NULLIF('%{Delegated-IPv6-Prefix}', '')::inet"
)
_FRAMED_SET = (
    "framedipaddress = COALESCE(NULLIF('%{Framed-IP-Address}', '')::inet, framedipaddress), "
    "framedipv6address = COALESCE(NULLIF('%{Framed-IPv6-Address}', '')::inet, framedipv6address), "
    "framedipv6prefix = COALESCE(NULLIF('%{Framed-IPv6-Prefix}', '')::inet, framedipv6prefix), "
    "framedinterfaceid = COALESCE(NULLIF('%{Framed-Interface-Id}', ''), framedinterfaceid), "
    "delegatedipv6prefix = COALESCE(NULLIF('%{Delegated-IPv6-Prefix}', '')::inet, delegatedipv6prefix)"
)
_INSERT_COLUMNS = (
    "tenant, clientipaddress, acctsessionid, acctuniqueid, username, realm, nasipaddress, nasportid, "
    "nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctauthentic, "
    "connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets, calledstationid, "
    "callingstationid, acctterminatecause, servicetype, framedprotocol, framedipaddress, "
    "framedipv6address, framedipv6prefix, framedinterfaceid, delegatedipv6prefix"
)


def _insert_session(*, start: str, stop: str, session_time: str, octets: bool, cause: str) -> str:
    return (
        f"INSERT INTO radius.radacct AS a ({_INSERT_COLUMNS}) VALUES ("
        f"{_TENANT}, {_CLIENT_INET}, '%{{Acct-Session-Id}}', {_UNIQUE_ID}, '%{{SQL-User-Name}}', "
        f"NULLIF('%{{Realm}}', ''), {_NAS_IP}, NULLIF('%{{%{{NAS-Port-ID}}:-%{{NAS-Port}}}}', ''), "
        f"NULLIF('%{{NAS-Port-Type}}', ''), {start}, {_EVENT_TS}, {stop}, {session_time}, "
        "NULLIF('%{Acct-Authentic}', ''), NULLIF('%{Connect-Info}', ''), NULL, "
        f"{_INPUT_OCTETS if octets else '0'}, {_OUTPUT_OCTETS if octets else '0'}, "
        "NULLIF('%{Called-Station-Id}', ''), NULLIF('%{Calling-Station-Id}', ''), "
        f"{cause}, NULLIF('%{{Service-Type}}', ''), NULLIF('%{{Framed-Protocol}}', ''), {_FRAMED_VALUES})"
    )


# A row already in the required state: acknowledge (rlm_sql counts returned rows as affected),
# so a retransmitted Stop or a late Interim gets its Accounting-Response.
_ACK_EXISTING = f"SELECT 1 FROM radius.radacct WHERE {_THIS_SESSION}"
_STARTED_AT = f"to_timestamp({_EVENT_EPOCH} - COALESCE({_SESSION_TIME}, 0))"

# rlm_sql tries each query of a type in order until one affects a row. None affected (or an
# error, e.g. no partition for the tenant) means no Accounting-Response: the NAS retries.
ACCOUNTING_QUERIES: dict[str, tuple[str, ...]] = {
    "start": (
        _insert_session(start=_EVENT_TS, stop="NULL", session_time="0", octets=False, cause="NULL")
        # Values repeated rather than read from EXCLUDED, which needs SELECT on those columns.
        + f" ON CONFLICT (tenant, acctuniqueid) DO UPDATE SET acctstarttime = {_EVENT_TS},"
        f" acctupdatetime = {_EVENT_TS}, connectinfo_start = NULLIF('%{{Connect-Info}}', '')"
        " WHERE a.acctstoptime IS NULL",
        _ACK_EXISTING,
    ),
    "interim-update": (
        f"UPDATE radius.radacct SET {_FRAMED_SET}, "
        f"acctsessiontime = COALESCE({_SESSION_TIME}, acctsessiontime), "
        f"acctinterval = ({_EVENT_EPOCH} - EXTRACT(EPOCH FROM COALESCE(acctupdatetime, acctstarttime)))::bigint, "
        f"acctupdatetime = {_EVENT_TS}, acctinputoctets = {_INPUT_OCTETS}, acctoutputoctets = {_OUTPUT_OCTETS} "
        f"WHERE {_THIS_SESSION} AND acctstoptime IS NULL",
        _insert_session(start=_STARTED_AT, stop="NULL", session_time=_SESSION_TIME, octets=True, cause="NULL")
        + " ON CONFLICT (tenant, acctuniqueid) DO NOTHING",
        _ACK_EXISTING,
    ),
    "stop": (
        f"UPDATE radius.radacct SET {_FRAMED_SET}, acctstoptime = {_EVENT_TS}, acctupdatetime = {_EVENT_TS}, "
        f"acctsessiontime = COALESCE({_SESSION_TIME}, ({_EVENT_EPOCH} - EXTRACT(EPOCH FROM acctstarttime))::bigint), "
        f"acctinputoctets = {_INPUT_OCTETS}, acctoutputoctets = {_OUTPUT_OCTETS}, "
        "acctterminatecause = NULLIF('%{Acct-Terminate-Cause}', ''), "
        "connectinfo_stop = NULLIF('%{Connect-Info}', '') "
        f"WHERE {_THIS_SESSION} AND acctstoptime IS NULL",
        _insert_session(
            start=_STARTED_AT,
            stop=_EVENT_TS,
            session_time=_SESSION_TIME,
            octets=True,
            cause="NULLIF('%{Acct-Terminate-Cause}', '')",
        )
        + " ON CONFLICT (tenant, acctuniqueid) DO NOTHING",
        _ACK_EXISTING,
    ),
    # Closes every open session this NAS (by verified source address, within its tenant) holds;
    # stale open sessions otherwise block simultaneous-use checks and skew usage.
    "accounting-on": (
        f"UPDATE radius.radacct SET acctstoptime = {_EVENT_TS}, acctupdatetime = {_EVENT_TS}, "
        f"acctsessiontime = ({_EVENT_EPOCH} - EXTRACT(EPOCH FROM acctstarttime))::bigint, "
        "acctterminatecause = '%{%{Acct-Terminate-Cause}:-NAS-Reboot}' "
        f"WHERE tenant = {_TENANT} AND clientipaddress = {_CLIENT_INET} AND acctstoptime IS NULL "
        f"AND acctstarttime <= {_EVENT_TS}",
        f"SELECT 1 FROM radius.nas WHERE address = {_CLIENT_INET} AND tenant_schema = {_TENANT}",
    ),
}
ACCOUNTING_QUERIES["accounting-off"] = ACCOUNTING_QUERIES["accounting-on"]

POST_AUTH_QUERY = (
    "INSERT INTO radius.radpostauth (tenant, username, reply, nasipaddress, calledstationid, callingstationid) "
    f"VALUES ({_TENANT}, '%{{User-Name}}', '%{{reply:Packet-Type}}', {_CLIENT_INET}, "
    "NULLIF('%{Called-Station-Id}', ''), NULLIF('%{Calling-Station-Id}', ''))"
)


def all_query_templates() -> list[str]:
    """Every template written into the FreeRADIUS config (for validation before writing)."""
    queries = [AUTHORIZE_CHECK_QUERY, CLIENT_QUERY, POST_AUTH_QUERY]
    queries += DYNAMIC_CLIENT_QUERIES.values()
    for group in ACCOUNTING_QUERIES.values():
        queries += group
    return queries
