"""Reports: trial balance, statements per customer and per node, commissions, cash per collector.
Every report also renders as CSV (``?format=csv``)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_date
from rest_framework import exceptions
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger import selectors
from ledger.api import _require_bookkeeper, _user
from ledger.models import Account, Payment, account_balance
from ledger.pricing import from_minor
from ledger.serializers import AccountSerializer

MONEY_COLUMNS = {"debit", "credit", "balance", "earned", "reversed", "net", "collected", "handed_over", "held"}


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
    day = parse_date(raw)
    if day is None:
        raise exceptions.ValidationError({name: ["Use YYYY-MM-DD."]})
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class Report(APIView):
    renderer_classes = [JSONRenderer, CsvRenderer]


class TrialBalance(Report):
    def get(self, request: Request) -> Response:
        _require_bookkeeper(_user(request))
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
