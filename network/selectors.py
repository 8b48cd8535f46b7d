"""Reads on NASes and RADIUS sessions, through the one scope gate (hierarchy.authority).

Scope is the login's node's subtree plus the subtrees django-guardian grants it (``access_subtree``);
what it may read there is the role x action table (NAS_VIEW, SESSIONS_VIEW). Sessions live in the shared
``radius.radacct`` (the tenant's partition); every query names the current tenant and joins the tenant's
own subscribers, so scope is a path prefix on their owner.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import Subscriber
from network.models import DisconnectRequest, Nas, QuotaAlert
from tenants.db import schema_current

SESSION_COLUMNS = (
    "a.radacctid AS id, a.username, a.acctsessionid AS session_id, host(a.clientipaddress) AS nas_address,"
    " host(a.framedipaddress) AS framed_ip, a.callingstationid AS calling_station,"
    " a.acctstarttime AS started, a.acctupdatetime AS updated, a.acctstoptime AS stopped,"
    " a.acctsessiontime AS seconds, COALESCE(a.acctinputoctets, 0) AS upload_bytes,"
    " COALESCE(a.acctoutputoctets, 0) AS download_bytes, a.acctterminatecause AS terminate_cause,"
    " s.id AS subscriber_id"
)


def nases_in_scope(*, user: User) -> QuerySet[Nas]:
    """NASes (and routers) of the login's scope, read-only for every role but the network's managers."""
    return authority.restrict(Nas.objects.select_related("owner"), user, Act.NAS_VIEW)


def subscribers_in_scope(*, user: User) -> QuerySet[Subscriber]:
    """Customers whose sessions and usage the login may read (a customer: itself)."""
    return authority.restrict(Subscriber.objects.all(), user, Act.SESSIONS_VIEW)


def _scope_sql(user: User) -> tuple[str, list[Any]]:
    """The SQL twin of ``authority.restrict`` for raw session queries (alias ``o``: the owner node)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return "false", []
    if user.role == Role.CUSTOMER:
        return "s.user_id = %s", [user.pk]
    if not authority.allowed(user, Act.SESSIONS_VIEW):
        return "false", []
    paths = authority.scope_paths(user=user)
    if authority.covers_everything(paths):
        return "true", []
    if not paths:
        return "false", []
    # LIKE on the path prefix: '/' and digits only, no wildcard characters to escape.
    return "(" + " OR ".join(["o.path LIKE %s"] * len(paths)) + ")", [path + "%" for path in paths]


def sessions_in_scope(
    *,
    user: User,
    online: bool | None = None,
    subscriber: Subscriber | None = None,
    session_pk: int | None = None,
    limit: int = 500,
) -> list[dict[str, Any]]:
    """Sessions of the subscribers the user may see, newest first (``session_pk``: that one only)."""
    scope, params = _scope_sql(user)
    where = ["a.tenant = %s", scope]
    params = [schema_current(), *params]
    if online is True:
        where.append("a.acctstoptime IS NULL")
    elif online is False:
        where.append("a.acctstoptime IS NOT NULL")
    if subscriber is not None:
        where.append("s.id = %s")
        params.append(subscriber.pk)
    if session_pk is not None:
        where.append("a.radacctid = %s")
        params.append(session_pk)
    query = (
        f"SELECT {SESSION_COLUMNS} FROM radius.radacct AS a"
        " JOIN hierarchy_subscriber AS s ON a.username IN (s.username, s.mac_address)"
        " JOIN hierarchy_operator AS o ON o.id = s.owner_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.acctstarttime DESC NULLS LAST, a.radacctid DESC LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(query, [*params, limit])
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def usage_daily(*, subscriber: Subscriber, since: date, until: date) -> list[dict[str, Any]]:
    """Bytes up/down per day (UTC) for one subscriber, attributed to the day its session started."""
    names = [subscriber.username] + ([subscriber.mac_address] if subscriber.mac_address else [])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (acctstarttime AT TIME ZONE 'UTC')::date AS day,"
            " sum(COALESCE(acctinputoctets, 0))::bigint AS upload_bytes,"
            " sum(COALESCE(acctoutputoctets, 0))::bigint AS download_bytes, count(*) AS sessions"
            " FROM radius.radacct WHERE tenant = %s AND username = ANY(%s)"
            " AND acctstarttime >= %s AND acctstarttime < %s::date + 1 GROUP BY 1 ORDER BY 1",
            [schema_current(), names, datetime.combine(since, time.min, tzinfo=UTC), until],
        )
        cols = [c.name for c in cursor.description]
        return [dict(zip(cols, row, strict=True)) for row in cursor.fetchall()]


def quota_alerts_in_scope(*, user: User, subscriber: Subscriber | None = None) -> QuerySet[QuotaAlert]:
    alerts = authority.restrict(QuotaAlert.objects.select_related("subscriber"), user, Act.SESSIONS_VIEW)
    return alerts.filter(subscriber=subscriber) if subscriber is not None else alerts


def radius_actions_in_scope(*, user: User) -> QuerySet[DisconnectRequest]:
    return authority.restrict(DisconnectRequest.objects.select_related("nas"), user, Act.SESSIONS_VIEW)
