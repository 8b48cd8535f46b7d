"""Reads on vouchers and recharges through the one scope gate (hierarchy.authority.restrict) for the act
at hand: a node's staff see batches owned in their scope, a card distributor only its own stock, a
customer only its own recharges. Reports aggregate in SQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDay

from accounts.models import Role
from hierarchy import authority
from hierarchy.authority import Act
from ledger.vouchers.models import Recharge, Voucher, VoucherBatch


def _distributor(user: Any) -> bool:
    """A card distributor's scope is its own stock, not its node's subtree."""
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "role", "") == Role.CARD_DISTRIBUTOR)


def batches_in_scope(*, user: Any, act: Act = Act.VOUCHER_VIEW) -> QuerySet[VoucherBatch]:
    """Batches ``user`` may reach for ``act`` (hierarchy.authority.restrict): owned in its scope, or for a
    card distributor those it holds cards of."""
    qs = VoucherBatch.objects.select_related("package", "owner")
    if _distributor(user):
        if not authority.allowed(user, act):
            return qs.none()
        return qs.filter(pk__in=Voucher.objects.filter(distributor_id=user.pk).values("batch_id"))
    return authority.restrict(qs, user, act)


def with_stock_counts(batches: Iterable[VoucherBatch]) -> list[VoucherBatch]:
    """The batches, each with ``status_counts`` (cards per status), in one query."""
    found = list(batches)
    rows = (VoucherBatch.objects.filter(pk__in=[b.pk for b in found]).values("pk", "vouchers__status")
            .annotate(n=Count("vouchers")))
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["pk"], {})[row["vouchers__status"]] = row["n"]
    for batch in found:
        batch.status_counts = counts.get(batch.pk, {})  # type: ignore[attr-defined]
    return found


def vouchers_in_scope(*, user: Any, act: Act = Act.VOUCHER_VIEW) -> QuerySet[Voucher]:
    qs = Voucher.objects.select_related("batch__package", "batch__owner")
    if _distributor(user):
        return qs.filter(distributor_id=user.pk) if authority.allowed(user, act) else qs.none()
    return authority.restrict(qs, user, act)


def recharges_in_scope(*, user: Any) -> QuerySet[Recharge]:
    """Recharges are money (price and cost): roles that see the books, and a customer its own."""
    return authority.restrict(Recharge.objects.select_related("customer", "package"), user, Act.FINANCE_VIEW)


def _period(qs: QuerySet[Any], field: str, start: datetime | None, end: datetime | None) -> QuerySet[Any]:
    if start:
        qs = qs.filter(**{f"{field}__gte": start})
    if end:
        qs = qs.filter(**{f"{field}__lt": end})
    return qs


def voucher_stock(*, user: Any, by: str) -> list[dict[str, Any]]:
    """Voucher counts and face value per status, per batch (and status) or per distributor (and status)."""
    group = {"status": ["status"], "batch": ["batch_id", "batch__package__name", "status"],
             "distributor": ["distributor__email", "status"]}[by]
    rows = (vouchers_in_scope(user=user).values(*group).annotate(count=Count("id"), face_value=Sum("batch__face_price"))
            .order_by(*group))
    renames = {"batch_id": "batch", "batch__package__name": "package", "distributor__email": "distributor"}
    return [{renames.get(k, k): v for k, v in row.items()} for row in rows]


def voucher_sales(*, user: Any, by: str, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    """Vouchers sold (whatever happened next) per day or per distributor/seller node."""
    qs = _period(vouchers_in_scope(user=user).filter(sold_at__isnull=False), "sold_at", start, end)
    if by == "day":
        qs = qs.annotate(day=TruncDay("sold_at")).values("day")
        order = ["day"]
    else:
        qs = qs.values("seller_node_id", "seller_node__name", "sold_by__email")
        order = ["seller_node_id", "sold_by__email"]
    rows = qs.annotate(count=Count("id"), face_value=Sum("batch__face_price"), commission=Sum("commission"),
                       voided=Count("id", filter=Q(status="void")),
                       redeemed=Count("id", filter=Q(status="redeemed"))).order_by(*order)
    renames = {"seller_node_id": "seller_node", "seller_node__name": "seller_name", "sold_by__email": "sold_by"}
    return [{renames.get(k, k): (v.date().isoformat() if k == "day" else v) for k, v in row.items()} for row in rows]


def recharge_report(*, user: Any, by: str, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
    qs = _period(recharges_in_scope(user=user), "created", start, end)
    if by == "day":
        qs = qs.annotate(day=TruncDay("created")).values("day", "source")
        order = ["day", "source"]
    else:
        qs = qs.values("package_id", "package__name", "source")
        order = ["package_id", "source"]
    rows = qs.annotate(count=Count("id"), price=Sum("price"), cost=Sum("cost")).order_by(*order)
    renames = {"package_id": "package", "package__name": "package_name"}
    return [{renames.get(k, k): (v.date().isoformat() if k == "day" else v) for k, v in row.items()} for row in rows]
