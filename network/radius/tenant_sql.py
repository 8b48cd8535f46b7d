"""The per-tenant RADIUS views: ``radcheck`` and ``radreply`` derived live from subscribers,
packages, the role tree, the tenant's status and accounting. No sync job, no copy.

Created in the template schema (and every existing tenant schema) by network migration 0004,
so each cloned tenant has them. Unqualified names resolve inside the schema being migrated; the
tenant's own row in ``radius.tenant`` is found through the schema of ``hierarchy_subscriber``
itself (``tableoid``), so no schema name is written into a view and a cloned view needs no
rewriting.

One view, ``radius_items``, holds every check and reply row (``kind``); ``radcheck`` and
``radreply`` are its two halves. FreeRADIUS's path (``radius.check_items``) reads
``radius_items`` once per Access-Request through ``radius_lookup`` (plpgsql: its plan is cached
per database session) and hands the reply half to ``radius.reply_items``.

The key FreeRADIUS looks a subscriber up by is its login, or for hotspot subscribers
``radius.mac_key(mac_address)`` (12 lowercase hex digits): one expression, one index.
"""

from __future__ import annotations


def _key(alias: str = "") -> str:
    """The RADIUS user name of a subscriber (what FreeRADIUS looks it up by), as SQL. The view and
    the index must spell it identically for the planner to use the index."""
    a = f"{alias}." if alias else ""
    return f"(CASE WHEN {a}connection_type = 'hotspot' THEN radius.mac_key({a}mac_address) ELSE {a}username::text END)"


# Both kinds of lookup (login and MAC key) in one index probe.
KEY_INDEX = f"CREATE INDEX IF NOT EXISTS radius_subscriber_key ON hierarchy_subscriber ({_key()});"

# One row per subscriber: what the RADIUS answer depends on. ``denied`` is NULL when the
# subscriber gets normal service, else the reason; it is computed once per row (OFFSET 0 keeps
# the planner from copying its EXISTS into every expression that reads it).
STATE_VIEW = rf"""
CREATE VIEW radius_subscriber_state AS
SELECT s.id AS subscriber_id,
       {_key("s")} AS username,
       s.username::text AS login,
       s.mac_address::text AS mac_address,
       s.connection_type::text AS connection_type,
       s.password::text AS password,
       s.ip_address,
       s.expires_at,
       t.schema AS tenant,
       t.suspended_mode,
       t.suspended_pool,
       d.denied,
       d.denied IS NOT NULL AND d.denied <> 'quota' AND t.suspended_mode = 'pool' AS pooled,
       CASE
           WHEN p.quota_action = 'throttle' AND q.used >= p.quota_mb * 1048576 THEN
               format('%sk/%sk', COALESCE(p.quota_throttle_upload_kbps, 64),
                      COALESCE(p.quota_throttle_download_kbps, 64))
           WHEN p.burst_download_kbps IS NOT NULL THEN
               -- rx/tx from the router's side: rx is what the subscriber uploads.
               format('%sk/%sk %sk/%sk %sk/%sk %s/%s', p.upload_kbps, p.download_kbps,
                      p.burst_upload_kbps, p.burst_download_kbps,
                      p.burst_threshold_upload_kbps, p.burst_threshold_download_kbps,
                      p.burst_time_seconds, p.burst_time_seconds)
           ELSE format('%sk/%sk', p.upload_kbps, p.download_kbps)
       END AS rate_limit
FROM hierarchy_subscriber AS s
JOIN hierarchy_package AS p ON p.id = s.package_id
JOIN hierarchy_operator AS ow ON ow.id = s.owner_id
JOIN pg_catalog.pg_class AS rel ON rel.oid = s.tableoid
JOIN radius.tenant AS t ON t.schema = rel.relnamespace::regnamespace::text
-- Octets of sessions active in the current validity period (quota packages only): the period
-- ends at expiry, or (no expiry) consecutive periods run from the subscriber's creation, with
-- whole seconds as accounting has them. A function, so the 'radacct' partitions are pruned by
-- its tenant argument instead of being planned into every lookup.
CROSS JOIN LATERAL (SELECT CASE WHEN p.quota_mb IS NOT NULL THEN radius.quota_used(
    t.schema, s.username::text, s.mac_address::text, CASE
        WHEN s.expires_at IS NOT NULL
            THEN s.expires_at - make_interval(days => p.validity_days, hours => p.validity_hours)
        ELSE date_trunc('second', s.created) + floor(
            extract(epoch FROM now() - date_trunc('second', s.created))
            / extract(epoch FROM make_interval(days => p.validity_days, hours => p.validity_hours))
        )::int * make_interval(days => p.validity_days, hours => p.validity_hours)
    END) END AS used) AS q
CROSS JOIN LATERAL (SELECT CASE
    WHEN t.suspended THEN 'tenant_suspended'
    WHEN s.status <> 'active' THEN s.status::text
    WHEN s.expires_at IS NOT NULL AND s.expires_at <= now() THEN 'expired'
    WHEN EXISTS (
        SELECT 1 FROM hierarchy_operator AS o
        WHERE o.id = ANY (string_to_array(btrim(ow.path, '/'), '/')::bigint[])
          AND o.status = 'suspended'
          AND (o.suspends_customers OR o.id <> s.owner_id)
    ) THEN 'node_suspended'
    WHEN p.quota_action = 'reject' AND q.used >= p.quota_mb * 1048576 THEN 'quota'
END AS denied OFFSET 0) AS d;
"""

# Every check and reply row. Ids: subscriber id * 8 + position (unique per kind).
ITEMS_VIEW = r"""
CREATE VIEW radius_items AS
SELECT a.subscriber_id, i.kind, a.subscriber_id * 8 + i.n AS id, a.username, i.attribute,
       ':='::text AS op, i.value
FROM radius_subscriber_state AS a
CROSS JOIN LATERAL (VALUES
    ('check', 1, 'Cleartext-Password', NULLIF(a.password, '')),
    ('check', 2, 'Auth-Type', CASE
        WHEN a.denied IS NOT NULL AND NOT a.pooled THEN 'Reject'
        -- MikroTik MAC authentication with no MAC password configured: the MAC is the credential.
        WHEN a.connection_type = 'hotspot' AND a.password = '' THEN 'Accept'
    END),
    ('reply', 1, 'Mikrotik-Rate-Limit', CASE WHEN a.denied IS NULL THEN a.rate_limit END),
    ('reply', 2, 'Framed-IP-Address', CASE WHEN a.denied IS NULL THEN host(a.ip_address) END),
    ('reply', 3, 'Session-Timeout', CASE WHEN a.denied IS NULL AND a.expires_at IS NOT NULL
        THEN greatest(1, ceil(extract(epoch FROM a.expires_at - now())))::bigint::text END),
    ('reply', 4, 'Framed-Pool', CASE WHEN a.pooled THEN a.suspended_pool END),
    ('reply', 5, 'Mikrotik-Address-List', CASE WHEN a.pooled THEN a.suspended_pool END)
) AS i (kind, n, attribute, value)
WHERE i.value IS NOT NULL;
"""

RADCHECK_VIEW = (
    "CREATE VIEW radcheck AS SELECT id, username, attribute, op, value FROM radius_items WHERE kind = 'check';"
)
RADREPLY_VIEW = (
    "CREATE VIEW radreply AS SELECT id, username, attribute, op, value FROM radius_items WHERE kind = 'reply';"
)

# What radius.check_items / reply_items call, after setting search_path to this schema: plpgsql,
# so each database session plans the view query once per tenant and reuses the plan (dynamic SQL
# over the views would be planned on every Access-Request). Unqualified names, so the cloned
# copy in every tenant schema needs no rewriting.
LOOKUP_FUNCTION = r"""
CREATE OR REPLACE FUNCTION radius_lookup(name text, mac_key text) RETURNS SETOF radius.item
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    RETURN QUERY
        SELECT i.kind, i.id::bigint, i.username, i.attribute::text, i.value::text, i.op
        FROM radius_items AS i WHERE i.username IN (name, mac_key);
END
$fn$;
"""

_DROP_0002 = [
    "DROP FUNCTION IF EXISTS radius_radreply_items(text, text);",
    "DROP FUNCTION IF EXISTS radius_radcheck_items(text, text);",
    "DROP VIEW IF EXISTS radreply;",
    "DROP VIEW IF EXISTS radcheck;",
    "DROP VIEW IF EXISTS radius_account;",
    "DROP VIEW IF EXISTS radius_subscriber_state;",
    "DROP INDEX IF EXISTS radius_subscriber_mac_key;",
]

FORWARD = [
    *_DROP_0002,
    KEY_INDEX,
    STATE_VIEW,
    ITEMS_VIEW,
    RADCHECK_VIEW,
    RADREPLY_VIEW,
    LOOKUP_FUNCTION,
]
BACKWARD = [
    "DROP FUNCTION IF EXISTS radius_lookup(text, text);",
    "DROP VIEW IF EXISTS radreply;",
    "DROP VIEW IF EXISTS radcheck;",
    "DROP VIEW IF EXISTS radius_items;",
    "DROP VIEW IF EXISTS radius_subscriber_state;",
    "DROP INDEX IF EXISTS radius_subscriber_key;",
]
