"""Reports: trial balance, statements per customer and per node, commissions, cash per collector.
Every report also renders as CSV (``?format=csv``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from hierarchy import authority
from hierarchy.api_base import reading
from hierarchy.authority import Act
from ledger import report_selectors, selectors
from ledger.api import _user
from ledger.models import Account, Payment, account_balance
from ledger.pricing import from_minor
from ledger.serializers import AccountSerializer

MONEY_COLUMNS = {"debit", "credit", "balance", "earned", "reversed", "net", "collected", "handed_over", "held",
                 "revenue", "amount", "refunded"}


class CsvRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        rows = data.get("rows", data.get("accounts", [])) if isinstance(data, dict) else data
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()))
            writer.writeheader()
            writer.writerows(rows)
        elif isinstance(data, dict) and "detail" in data:
            out.write(f"detail\n{data['detail']}\n")
        return out.getvalue().encode()


def _money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (str(from_minor(v)) if k in MONEY_COLUMNS else v) for k, v in row.items()} for row in rows]


def _day(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:  # well formed but impossible, e.g. 2026-02-30
        day = None
    if day is None:
        raise exceptions.ValidationError({name: ["Use YYYY-MM-DD."]})
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Report(APIView):
    """A report on the books: logins whose role holds FINANCE_VIEW (403 for the others, not empty rows)."""

    renderer_classes = [JSONRenderer, CsvRenderer]
    permission_classes = reading(Act.FINANCE_VIEW)


def require_whole_books(user: User) -> None:
    """The ISP's own accounts: logins that may see the books and whose scope is the whole tree."""
    authority.authorize(user, Act.FINANCE_VIEW)
    if not authority.covers_everything(selectors.finance_paths(user=user)):
        raise exceptions.PermissionDenied("Only the ISP's own staff see its whole books.")


class TrialBalance(Report):
    def get(self, request: Request) -> Response:
        require_whole_books(_user(request))
        accounts = selectors.trial_balance()
        totals: dict[str, int] = {}
        for account in accounts:
            totals[account.currency] = totals.get(account.currency, 0) + account_balance(account)
        return Response({
            "accounts": AccountSerializer(accounts, many=True).data,
            "total": str(from_minor(sum(totals.values()))),
            "totals": {currency: str(from_minor(total)) for currency, total in totals.items()},
        })


class CustomerStatement(Report):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)  # a customer reads its own statement

    def get(self, request: Request, pk: int) -> Response:
        customer = get_object_or_404(selectors.customers_in_scope(user=_user(request)), pk=pk)
        payments = Payment.objects.filter(customer=customer).select_related("entry").order_by("created", "id")
        rows = []
        for payment in payments:
            rows.append({"date": payment.created, "payment": payment.pk, "method": payment.method,
                         "credit": payment.amount, "debit": 0, "refunded": hasattr(payment.entry, "reversed_by")})
        paid = sum(p.amount for p in payments if not hasattr(p.entry, "reversed_by"))
        return Response({"customer": customer.pk, "paid": str(from_minor(paid)), "rows": _money(rows)})


class NodeStatement(Report):
    def get(self, request: Request, pk: int) -> Response:
        node = get_object_or_404(selectors.operators_in_scope(user=_user(request)), pk=pk)
        accounts = Account.objects.with_balance().filter(owner=node)
        balances = {a.kind: str(from_minor(account_balance(a))) for a in accounts}
        return Response({"operator": node.pk, "balances": balances,
                         "rows": _money(selectors.account_statement(accounts=accounts))})


class Commissions(Report):
    def get(self, request: Request) -> Response:
        rows = selectors.commissions_by_node(user=_user(request), start=_day(request, "from"), end=_day(request, "to"))
        return Response({"rows": _money(rows)})


class CashByCollector(Report):
    def get(self, request: Request) -> Response:
        return Response({"rows": _money(selectors.cash_by_collector(user=_user(request)))})


# Business reports (README, Reports; definitions in ledger/report_selectors.py). `from` is inclusive and `to`
# exclusive (YYYY-MM-DD, UTC days); without them the last 30 days, today included.
PERIOD = [OpenApiParameter("from", OpenApiTypes.DATE, description="first day (default: 29 days ago)"),
          OpenApiParameter("to", OpenApiTypes.DATE, description="day after the last (default: tomorrow)"),
          OpenApiParameter("format", str, enum=["json", "csv"])]


def report_period(request: Request) -> tuple[datetime, datetime]:
    today = timezone.localdate()
    start = _day(request, "from") or datetime(today.year, today.month, today.day, tzinfo=UTC) - timedelta(days=29)
    end = _day(request, "to") or datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
    if start >= end:
        raise exceptions.ValidationError({"to": ["Must be after “from”."]})
    if end - start > timedelta(days=3660):
        raise exceptions.ValidationError({"from": ["Ask for at most ten years."]})
    return start, end


def _period_body(start: datetime, end: datetime) -> dict[str, str]:
    return {"from": start.date().isoformat(), "to": end.date().isoformat()}


class Revenue(Report):
    @extend_schema(parameters=[*PERIOD, OpenApiParameter("group", str, enum=list(report_selectors.REVENUE_GROUPS))],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Net revenue per day, month, package or node (``group``, default day)."""
        user = _user(request)
        group = request.query_params.get("group", "day")
        if group not in report_selectors.REVENUE_GROUPS:
            raise exceptions.ValidationError({"group": [f"One of {', '.join(report_selectors.REVENUE_GROUPS)}."]})
        start, end = report_period(request)
        rows = report_selectors.revenue_by(user=user, group=group, start=start, end=end)
        total = sum(row["revenue"] for row in rows)
        return Response({**_period_body(start, end), "group": group, "total": str(from_minor(total)),
                         "rows": _money(rows)})


class Collections(Report):
    @extend_schema(parameters=PERIOD, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Customer payments per method and collector, with the part refunded since."""
        user = _user(request)
        start, end = report_period(request)
        rows = report_selectors.collections_by(user=user, start=start, end=end)
        by_method: dict[str, int] = {}
        for row in rows:
            by_method[row["method"]] = by_method.get(row["method"], 0) + row["net"]
        return Response({**_period_body(start, end), "by_method": {k: str(from_minor(v)) for k, v in by_method.items()},
                         "rows": _money(rows)})


class Arpu(Report):
    @extend_schema(parameters=PERIOD, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Average revenue per active customer (and per customer with revenue) in the period."""
        user = _user(request)
        start, end = report_period(request)
        figures = report_selectors.arpu(user=user, start=start, end=end)
        row = {key: str(from_minor(value)) if key.startswith(("revenue", "arpu")) else value
               for key, value in figures.items()}
        return Response({**_period_body(start, end), **row, "rows": [row]})


class CustomerCounts(Report):
    @extend_schema(parameters=[OpenApiParameter("format", str, enum=["json", "csv"])], responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Customers by effective status (active with a past expiry counts as expired)."""
        user = _user(request)
        counts = report_selectors.customer_status_counts(user=user)
        return Response({"counts": counts, "rows": [{"status": k, "customers": v} for k, v in counts.items()]})


class Churn(Report):
    @extend_schema(parameters=PERIOD, responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Customers lost in the period: validity lapsed without renewal, or disabled."""
        user = _user(request)
        start, end = report_period(request)
        return Response({**_period_body(start, end), **report_selectors.churn(user=user, start=start, end=end)})


class UpcomingExpiries(Report):
    @extend_schema(parameters=[OpenApiParameter("days", int, description="1-365, default 7"),
                               OpenApiParameter("format", str, enum=["json", "csv"])],
                   responses=OpenApiTypes.OBJECT)
    def get(self, request: Request) -> Response:
        """Active customers whose validity ends within the next ``days`` days."""
        user = _user(request)
        raw = request.query_params.get("days", "7")
        if not raw.isdigit() or not 1 <= int(raw) <= 365:
            raise exceptions.ValidationError({"days": ["A whole number of days from 1 to 365."]})
        return Response(report_selectors.upcoming_expiries(user=user, days=int(raw)))
