"""Voucher and recharge reports, scoped by the role tree; JSON, or CSV with ``?format=csv``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from hierarchy.api_base import reading
from hierarchy.authority import Act
from ledger.pricing import from_minor
from ledger.reports import Report, _day
from ledger.vouchers import selectors

MONEY = {"face_value", "commission", "price", "cost"}
PERIOD = [OpenApiParameter("from", str, description="YYYY-MM-DD (inclusive)"),
          OpenApiParameter("to", str, description="YYYY-MM-DD (exclusive)")]


def _money(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (str(from_minor(v or 0)) if k in MONEY else v) for k, v in row.items()} for row in rows]


def _by(request: Request, choices: tuple[str, ...]) -> str:
    by = request.query_params.get("by", choices[0])
    if by not in choices:
        raise exceptions.ValidationError({"by": [f"Choose one of {', '.join(choices)}."]})
    return by


class VoucherStock(Report):
    permission_classes = reading(Act.VOUCHER_VIEW)  # card distributors see their stock and sales

    @extend_schema(parameters=[OpenApiParameter("by", str, enum=["status", "batch", "distributor"]),
                               OpenApiParameter("format", str, enum=["json", "csv"])], responses=dict)
    def get(self, request: Request) -> Response:
        rows = selectors.voucher_stock(user=request.user, by=_by(request, ("status", "batch", "distributor")))
        return Response({"rows": _money(rows)})


class VoucherSales(Report):
    permission_classes = reading(Act.VOUCHER_VIEW)  # card distributors see their stock and sales

    @extend_schema(parameters=[OpenApiParameter("by", str, enum=["day", "distributor"]), *PERIOD,
                               OpenApiParameter("format", str, enum=["json", "csv"])], responses=dict)
    def get(self, request: Request) -> Response:
        rows = selectors.voucher_sales(user=request.user, by=_by(request, ("day", "distributor")),
                                       start=_day(request, "from"), end=_day(request, "to"))
        return Response({"rows": _money(rows)})


class Recharges(Report):
    @extend_schema(parameters=[OpenApiParameter("by", str, enum=["day", "package"]), *PERIOD,
                               OpenApiParameter("format", str, enum=["json", "csv"])], responses=dict)
    def get(self, request: Request) -> Response:
        rows = selectors.recharge_report(user=request.user, by=_by(request, ("day", "package")),
                                         start=_day(request, "from"), end=_day(request, "to"))
        return Response({"rows": _money(rows)})
