"""The reports page: the figures of ledger/report_selectors.py for the signed-in user's scope, drawn with
Chart.js (vendored) from data embedded in the page, with CSV links to the same reports in the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date

from accounts.models import User
from ledger import report_selectors, selectors
from ledger.pricing import from_minor


def _period(request: HttpRequest) -> tuple[datetime, datetime, list[str]]:
    """From the form (``from`` inclusive, ``to`` exclusive); the last 30 days by default or on bad input."""
    today = timezone.localdate()
    start = datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=29)
    end = start + timedelta(days=30)
    errors = []
    for name in ("from", "to"):
        raw = request.GET.get(name, "")
        if not raw:
            continue
        try:
            day = parse_date(raw) if len(raw) == 10 else None
        except ValueError:  # well formed but impossible, e.g. 2026-02-30
            day = None
        if day is None:
            errors.append(f"“{raw}” is not a date (YYYY-MM-DD); showing the last 30 days.")
            continue
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        start, end = (moment, end) if name == "from" else (start, moment)
    if start >= end:
        errors.append("“To” must be after “from”; showing the last 30 days.")
        end = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
        start = end - timedelta(days=30)
    return start, end, errors


def _money(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{**row, **{key: float(from_minor(row[key])) for key in keys}} for row in rows]


@login_required
def reports(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)
    if not selectors.finance_paths(user=user):
        raise PermissionDenied("Your role has no reports.")
    start, end, errors = _period(request)
    days = request.GET.get("days", "14")
    days_n = int(days) if days.isdigit() and 1 <= int(days) <= 365 else 14
    revenue = {group: _money(report_selectors.revenue_by(user=user, group=group, start=start, end=end), "revenue")
               for group in report_selectors.REVENUE_GROUPS}
    collections = _money(report_selectors.collections_by(user=user, start=start, end=end),
                         "amount", "refunded", "net")
    commissions = _money(selectors.commissions_by_node(user=user, start=start, end=end), "earned", "reversed", "net")
    arpu = report_selectors.arpu(user=user, start=start, end=end)
    counts = report_selectors.customer_status_counts(user=user)
    churn = report_selectors.churn(user=user, start=start, end=end)
    expiries = report_selectors.upcoming_expiries(user=user, days=days_n)
    query = f"from={start.date().isoformat()}&to={end.date().isoformat()}"
    context = {
        "start": start.date(), "end": end.date(), "last_day": (end - timedelta(days=1)).date(), "days": days_n,
        "errors": errors, "query": query,
        "revenue_total": from_minor(arpu["revenue"]), "arpu": from_minor(arpu["arpu"]),
        "arpu_paying": from_minor(arpu["arpu_paying"]), "figures": arpu, "counts": counts, "churn": churn,
        "expiries": expiries, "commissions": commissions, "collections": collections,
        "chart_data": {"revenue": revenue, "collections": collections, "commissions": commissions,
                       "counts": counts, "expiries": expiries["per_day"]},
    }
    return render(request, "portal/reports/index.html", context)


urlpatterns = [path("", reports, name="reports")]
