"""As created by network migration 0002 (kept for that migration; the current SQL is tenant_sql.py).

The per-tenant RADIUS views: ``radcheck`` and ``radreply`` derived live from subscribers,
packages, the role tree, the tenant's status and accounting. No sync job, no copy.

Created in the template schema by network's migration 0002 (and in every existing tenant schema
by the same migration), so each cloned tenant has them. Unqualified names resolve inside the
schema being migrated; the tenant's own row in ``radius.tenant`` is found through the schema of
``hierarchy_subscriber`` itself (``tableoid``), so no schema name is written into a view and a
cloned view needs no rewriting.

Hotspot subscribers are keyed by ``radius.mac_key(mac_address)`` (12 lowercase hex digits);
``radius.check_items`` looks names up under both the name as sent and its MAC key.
"""

from __future__ import annotations

# One row per subscriber: what the RADIUS answer depends on. ``denied`` is NULL when the
# subscriber gets normal service, else the reason.
STATE_VIEW = r"""
CREATE OR REPLACE VIEW radius_subscriber_state AS
SELECT s.id AS subscriber_id,
       s.username AS login,
       s.mac_address,
       s.connection_type::text AS connection_type,
       s.password::text AS password,
       s.ip_address,
       s.expires_at,
       t.schema AS tenant,
       t.suspended_mode,
       t.suspended_pool,
       CASE
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
       END AS denied,
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
-- Accounting timestamps have whole seconds: so has the anchor of the periods.
CROSS JOIN LATERAL (SELECT make_interval(days => p.validity_days, hours => p.validity_hours) AS period,
                           date_trunc('second', s.created) AS anchor) AS v
-- Octets of sessions active in the current validity period (quota packages only). A function,
-- so the 'radacct' partitions are pruned by its tenant argument instead of being planned into
-- every lookup.
CROSS JOIN LATERAL (SELECT CASE WHEN p.quota_mb IS NOT NULL THEN radius.quota_used(
    t.schema, s.username::text, s.mac_address::text, CASE
        WHEN s.expires_at IS NOT NULL THEN s.expires_at - v.period
        -- No expiry: consecutive periods counted from the subscriber's creation.
        ELSE v.anchor + floor(extract(epoch FROM now() - v.anchor) / extract(epoch FROM v.period))::int * v.period
    END) END AS used) AS q;
"""

# The key FreeRADIUS looks subscribers up by: the login, or the MAC key for hotspot.
ACCOUNT_VIEW = r"""
CREATE OR REPLACE VIEW radius_account AS
SELECT st.login::text AS username, st.*,
       st.denied IS NOT NULL AND st.denied <> 'quota' AND st.suspended_mode = 'pool' AS pooled
FROM radius_subscriber_state AS st WHERE st.connection_type <> 'hotspot'
UNION ALL
SELECT radius.mac_key(st.mac_address) AS username, st.*,
       st.denied IS NOT NULL AND st.denied <> 'quota' AND st.suspended_mode = 'pool' AS pooled
FROM radius_subscriber_state AS st WHERE st.connection_type = 'hotspot';
"""

RADCHECK_VIEW = r"""
CREATE OR REPLACE VIEW radcheck AS
SELECT a.subscriber_id * 8 + i.n AS id, a.username, i.attribute, ':='::text AS op, i.value
FROM radius_account AS a
CROSS JOIN LATERAL (VALUES
    (1, 'Cleartext-Password', NULLIF(a.password, '')),
    (2, 'Auth-Type', CASE
        WHEN a.denied IS NOT NULL AND NOT a.pooled THEN 'Reject'
        -- MikroTik MAC authentication with no MAC password configured: the MAC is the credential.
        WHEN a.connection_type = 'hotspot' AND a.password = '' THEN 'Accept'
    END)
) AS i (n, attribute, value)
WHERE i.value IS NOT NULL;
"""

RADREPLY_VIEW = r"""
CREATE OR REPLACE VIEW radreply AS
SELECT a.subscriber_id * 8 + i.n AS id, a.username, i.attribute, ':='::text AS op, i.value
FROM radius_account AS a
CROSS JOIN LATERAL (VALUES
    (1, 'Mikrotik-Rate-Limit', CASE WHEN a.denied IS NULL THEN a.rate_limit END),
    (2, 'Framed-IP-Address', CASE WHEN a.denied IS NULL THEN host(a.ip_address) END),
    (3, 'Session-Timeout', CASE WHEN a.denied IS NULL AND a.expires_at IS NOT NULL
        THEN greatest(1, ceil(extract(epoch FROM a.expires_at - now())))::bigint::text END),
    (4, 'Framed-Pool', CASE WHEN a.pooled THEN a.suspended_pool END),
    (5, 'Mikrotik-Address-List', CASE WHEN a.pooled THEN a.suspended_pool END)
) AS i (n, attribute, value)
WHERE i.value IS NOT NULL;
"""

# What radius.check_items / reply_items call, after setting search_path to this schema: plpgsql,
# so each database session plans the view query once per tenant and reuses the plan (dynamic SQL
# over the views would be planned on every Access-Request, ~1.5 ms each). Unqualified names, so
# the cloned copy in every tenant schema needs no rewriting.
LOOKUP_FUNCTIONS = [
    f"""
CREATE OR REPLACE FUNCTION radius_{table}_items(name text, mac_key text) RETURNS SETOF radius.avp
LANGUAGE plpgsql STABLE
-- One plan per session, at once: the custom plans plpgsql tries first cost a full planning each.
SET plan_cache_mode = force_generic_plan
AS $fn$
BEGIN
    RETURN QUERY
        SELECT i.id::bigint, i.username::text, i.attribute::text, i.value::text, i.op::text
        FROM {table} AS i WHERE i.username IN (name, mac_key) ORDER BY i.id;
END
$fn$;
"""
    for table in ("radcheck", "radreply")
]

# Hotspot lookups by MAC key use an index, as PPPoE lookups use the username's unique index.
MAC_INDEX = (
    "CREATE INDEX IF NOT EXISTS radius_subscriber_mac_key ON hierarchy_subscriber "
    "(radius.mac_key(mac_address)) WHERE connection_type = 'hotspot';"
)

FORWARD = [MAC_INDEX, STATE_VIEW, ACCOUNT_VIEW, RADCHECK_VIEW, RADREPLY_VIEW, *LOOKUP_FUNCTIONS]
BACKWARD = [
    "DROP FUNCTION IF EXISTS radius_radreply_items(text, text);",
    "DROP FUNCTION IF EXISTS radius_radcheck_items(text, text);",
    "DROP VIEW IF EXISTS radreply;",
    "DROP VIEW IF EXISTS radcheck;",
    "DROP VIEW IF EXISTS radius_account;",
    "DROP VIEW IF EXISTS radius_subscriber_state;",
    "DROP INDEX IF EXISTS radius_subscriber_mac_key;",
]
