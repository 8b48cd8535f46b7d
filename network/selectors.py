"""Reads on NASes and RADIUS sessions, scoped by the caller's place in the role tree.

Sessions live in the shared ``radius.radacct`` (the tenant's partition); every query names the
current tenant and joins the tenant's own subscribers, so scope is a path prefix on their owner.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from accounts.models import Role, User
from hierarchy.models import Operator, Subscriber
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


def user_node(*, user: User) -> Operator | None:
    membership = getattr(user, "membership", None)
    return membership.operator if membership is not None else None


def nases_in_scope(*, user: User) -> QuerySet[Nas]:
    node = user_node(user=user)
    if node is None or user.role == Role.CUSTOMER:
        return Nas.objects.none()
    return Nas.objects.filter(owner__path__startswith=node.path).select_related("owner")


def subscribers_in_scope(*, user: User) -> QuerySet[Subscriber]:
    if user.role == Role.CUSTOMER:
        return Subscriber.objects.filter(user=user)
    node = user_node(user=user)
    if node is None:
        return Subscriber.objects.none()
    return Subscriber.objects.filter(owner__path__startswith=node.path)


def _scope_sql(user: User) -> tuple[str, list[Any]]:
    if user.role == Role.CUSTOMER:
        return "s.user_id = %s", [user.pk]
    node = user_node(user=user)
    if node is None:
        return "false", []
    # LIKE on the path prefix: '/' and digits only, no wildcard characters to escape.
    return "o.path LIKE %s", [node.path + "%"]


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
    alerts = QuotaAlert.objects.filter(subscriber__in=subscribers_in_scope(user=user)).select_related("subscriber")
    return alerts.filter(subscriber=subscriber) if subscriber is not None else alerts


def radius_actions_in_scope(*, user: User) -> QuerySet[DisconnectRequest]:
    return DisconnectRequest.objects.filter(subscriber__in=subscribers_in_scope(user=user)).select_related("nas")
