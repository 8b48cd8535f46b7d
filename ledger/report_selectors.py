"""Reads behind the business reports (README, Reports), scoped like the rest of the books: a user sees the
figures of its node's subtree plus guardian-granted subtrees, if its role may see the books
(``ledger.selectors.finance_paths``: the scope gate of hierarchy.authority with ``Act.FINANCE_VIEW``).

Definitions (amounts in minor units):
- *revenue*: credits minus debits on ``sales_revenue`` and its contra account ``refunds``, dated by the
  journal entry and attributed through the entry's dimensions (``package``, ``node`` = the customer's owner
  when it was posted). Outside the whole-tree scope only entries whose node lies in scope count.
- *collections*: customer payments by method and collector (the node that took the cash; none for bank and
  Stripe), with the part of them refunded since.
- *ARPU*: revenue in the period / customers active now (and / customers with revenue in the period).
- *effective status*: an ``active`` customer whose ``expires_at`` has passed counts as ``expired`` (RADIUS
  treats it so).
- *churn* in [from, to): customers whose validity lapsed in the period and who have not renewed since
  (``expires_at`` in the period and already past, not disabled), plus customers disabled in the period
  (the audit trail's status change); the rate divides by the customers that existed at ``from``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Case, CharField, Count, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from accounts.models import User
from hierarchy import authority
from hierarchy.audit import AuditAction, AuditEvent
from hierarchy.models import SubscriberStatus
from ledger.models import AccountKind, Posting
from ledger.selectors import customers_in_scope, finance_paths, payments_in_scope

REVENUE_KINDS = [AccountKind.SALES_REVENUE.value, AccountKind.REFUNDS.value]
REVENUE_GROUPS = ("day", "month", "package", "node")


def _period(query: QuerySet[Any], field: str, start: datetime | None, end: datetime | None) -> QuerySet[Any]:
    if start:
        query = query.filter(**{f"{field}__gte": start})
    if end:
        query = query.filter(**{f"{field}__lt": end})
    return query


def revenue_postings(*, user: User, start: datetime | None, end: datetime | None) -> QuerySet[Posting]:
    paths = finance_paths(user=user)
    postings = _period(Posting.objects.filter(account__kind__in=REVENUE_KINDS), "entry__created", start, end)
    if not paths:
        return postings.none()
    if not authority.covers_everything(paths):
        postings = postings.filter(authority.under_paths("entry__node__path", paths))
    return postings


def _net() -> Any:
    return Coalesce(Sum("credit"), 0) - Coalesce(Sum("debit"), 0)


def revenue_by(*, user: User, group: str, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Net revenue per day, month, package or node, in that order (days and months ascending, the others by
    revenue, largest first)."""
    postings = revenue_postings(user=user, start=start, end=end)
    tz = timezone.get_current_timezone()
    if group in ("day", "month"):
        trunc = TruncDate("entry__created", tzinfo=tz) if group == "day" else TruncMonth("entry__created", tzinfo=tz)
        rows = postings.annotate(period=trunc).values("period").annotate(revenue=_net()).order_by("period")
        return [{group: _day(row["period"]), "revenue": row["revenue"]} for row in rows]
    key = "entry__package" if group == "package" else "entry__node"
    rows = postings.values(f"{key}_id", f"{key}__name").annotate(revenue=_net()).order_by("-revenue", f"{key}_id")
    return [{group: row[f"{key}_id"], "name": row[f"{key}__name"] or "(none)", "revenue": row["revenue"]}
            for row in rows]


def _day(value: date | datetime) -> str:
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def collections_by(*, user: User, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Payments per (method, collector) in the period: count, amount, and how much of it was refunded."""
    payments = _period(payments_in_scope(user=user), "created", start, end)
    rows = (payments.values("method", "collector_id", "collector__name")
            .annotate(count=Count("id"), total=Sum("amount"),
                      refunded=Coalesce(Sum("amount", filter=Q(entry__reversed_by__isnull=False)), 0))
            .order_by("method", "collector_id"))
    return [{"method": row["method"], "collector": row["collector_id"],
             "collector_name": row["collector__name"] or ("(ISP)" if row["method"] == "cash" else "(online/bank)"),
             "count": row["count"], "amount": row["total"], "refunded": row["refunded"],
             "net": row["total"] - row["refunded"]} for row in rows]


def _effective_status() -> Case:
    return Case(When(status=SubscriberStatus.ACTIVE, expires_at__lt=timezone.now(), then=Value("expired")),
                default=F("status"), output_field=CharField())


def customer_status_counts(*, user: User) -> dict[str, int]:
    counts = {status.value: 0 for status in SubscriberStatus}
    rows = customers_in_scope(user=user).annotate(effective=_effective_status()).values("effective").annotate(
        n=Count("id"))
    for row in rows:
        counts[row["effective"]] = row["n"]
    return counts


def arpu(*, user: User, start: datetime | None, end: datetime | None) -> dict[str, int]:
    postings = revenue_postings(user=user, start=start, end=end)
    revenue = postings.aggregate(total=_net())["total"] or 0
    paying = postings.filter(entry__customer__isnull=False).values("entry__customer").distinct().count()
    active = customer_status_counts(user=user)[SubscriberStatus.ACTIVE.value]
    return {"revenue": revenue, "active_customers": active, "paying_customers": paying,
            "arpu": _per(revenue, active), "arpu_paying": _per(revenue, paying)}


def _per(total: int, count: int) -> int:
    """total / count rounded half away from zero to a minor unit (0 when nobody)."""
    if count == 0:
        return 0
    quotient, remainder = divmod(abs(total), count)
    rounded = quotient + (1 if 2 * remainder >= count else 0)
    return rounded if total >= 0 else -rounded


def churn(*, user: User, start: datetime, end: datetime) -> dict[str, Any]:
    customers = customers_in_scope(user=user)
    now = timezone.now()
    lapsed = customers.filter(expires_at__gte=start, expires_at__lt=min(end, now)).exclude(
        status=SubscriberStatus.DISABLED)
    disabled_ids = _period(AuditEvent.objects.filter(object_type="customer", action=AuditAction.STATUS,
                                                     changes__status__1=SubscriberStatus.DISABLED.value),
                           "at", start, end).values("object_id")
    disabled = customers.filter(status=SubscriberStatus.DISABLED, pk__in=disabled_ids)
    churned = (lapsed | disabled).distinct().select_related("owner", "package").order_by("username")
    base = customers.filter(created__lt=start).count()
    rows = [{"customer": c.pk, "username": c.username, "owner": c.owner.name, "package": c.package.name,
             "reason": "disabled" if c.status == SubscriberStatus.DISABLED else "lapsed",
             "expires_at": c.expires_at.isoformat() if c.expires_at else None} for c in churned[:1000]]
    count = churned.count()
    return {"churned": count, "lapsed": sum(r["reason"] == "lapsed" for r in rows),
            "disabled": sum(r["reason"] == "disabled" for r in rows), "customers_at_start": base,
            "rate_percent": round(100 * count / base, 2) if base else None, "rows": rows}


def upcoming_expiries(*, user: User, days: int) -> dict[str, Any]:
    now = timezone.now()
    customers = (customers_in_scope(user=user)
                 .filter(status=SubscriberStatus.ACTIVE, expires_at__gte=now, expires_at__lt=now + timedelta(days=days))
                 .select_related("owner", "package").order_by("expires_at", "id"))
    per_day: dict[str, int] = {}
    rows = []
    for customer in customers[:2000]:
        assert customer.expires_at is not None
        day = timezone.localtime(customer.expires_at).date().isoformat()
        per_day[day] = per_day.get(day, 0) + 1
        rows.append({"customer": customer.pk, "username": customer.username, "owner": customer.owner.name,
                     "package": customer.package.name, "expires_at": customer.expires_at.isoformat()})
    return {"days": days, "count": customers.count(), "per_day": per_day, "rows": rows}
