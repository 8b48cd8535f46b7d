"""Reads on billing, scoped by the one gate (hierarchy.authority.restrict): staff whose role sees the books
get the invoices of the customers in their scope (their node's subtree plus explicit grants), a customer
its own; other roles nothing."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import F, QuerySet

from hierarchy import authority
from hierarchy.authority import Act
from ledger.billing.models import CreditNote, Invoice, InvoiceStatus

AGING_BUCKETS = ("current", "1_30", "31_60", "61_90", "over_90")


def invoices_in_scope(*, user: Any) -> QuerySet[Invoice]:
    return authority.restrict(Invoice.objects.all(), user, Act.FINANCE_VIEW)


def invoice_list(*, user: Any, status: str | None = None, customer: int | None = None, kind: str | None = None,
                 issued_from: datetime.date | None = None, issued_to: datetime.date | None = None,
                 overdue: bool | None = None, today: datetime.date | None = None) -> QuerySet[Invoice]:
    invoices = invoices_in_scope(user=user).prefetch_related("lines").order_by("-issue_date", "-id")
    if status:
        invoices = invoices.filter(status=status)
    if customer:
        invoices = invoices.filter(customer_id=customer)
    if kind:
        invoices = invoices.filter(kind=kind)
    if issued_from:
        invoices = invoices.filter(issue_date__gte=issued_from)
    if issued_to:
        invoices = invoices.filter(issue_date__lte=issued_to)
    if overdue is not None and today is not None:
        late = {"status__in": [InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID], "due_date__lt": today}
        invoices = invoices.filter(**late) if overdue else invoices.exclude(**late)
    return invoices


def credit_notes_in_scope(*, user: Any) -> QuerySet[CreditNote]:
    return authority.restrict(CreditNote.objects.all(), user, Act.FINANCE_VIEW)


def bucket_of(days_overdue: int) -> str:
    if days_overdue <= 0:
        return "current"
    if days_overdue <= 30:
        return "1_30"
    if days_overdue <= 60:
        return "31_60"
    if days_overdue <= 90:
        return "61_90"
    return "over_90"


def receivables_aging(*, user: Any, on: datetime.date, owner_path: str | None = None) -> list[dict[str, Any]]:
    """What each customer in scope still owes on open invoices, by days past the due date (minor units)."""
    invoices = (invoices_in_scope(user=user).filter(status__in=[InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID])
                .annotate(due=F("total") - F("amount_paid") - F("amount_credited"))
                .values("customer_id", "customer__username", "owner_id", "due_date", "due"))
    if owner_path:
        invoices = invoices.filter(customer__owner__path__startswith=owner_path)
    rows: dict[int, dict[str, Any]] = {}
    for item in invoices:
        row = rows.setdefault(item["customer_id"], {
            "customer": item["customer_id"], "username": item["customer__username"], "owner": item["owner_id"],
            **dict.fromkeys(AGING_BUCKETS, 0), "total": 0})
        row[bucket_of((on - item["due_date"]).days)] += item["due"]
        row["total"] += item["due"]
    return [rows[pk] for pk in sorted(rows)]
