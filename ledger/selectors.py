"""Reads on the books, through the one scope gate (hierarchy.authority): a login whose role may see the
books (``Act.FINANCE_VIEW``: not support, not card distributors, not customers) sees the accounts, entries
and payments of its scope — its node's subtree plus the subtrees django-guardian grants it
(``hierarchy.access_subtree``); only logins whose scope covers the whole tree (members of the root, or
granted the root) see the ISP's own accounts. Payments, settlements and top-ups declare their node path
with ``authority.scoped`` (ledger/models.py); accounts and entries belong to a node or to a customer of
one, so they are cut by the same scope paths here."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from django.db import models
from django.db.models import Exists, OuterRef, QuerySet, Sum

from accounts.models import User
from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import Operator, Subscriber
from ledger.models import Account, AccountKind, JournalEntry, Payment, Posting, Settlement

M = TypeVar("M", bound=models.Model)


def finance_paths(*, user: User) -> list[str]:
    """Path prefixes whose money the login may read (none if its role may not see the books)."""
    return authority.scope_paths(user=user) if authority.allowed(user, Act.FINANCE_VIEW) else []


def in_finance_scope(queryset: QuerySet[M], *, user: User) -> QuerySet[M]:
    """``queryset`` (of a model declared with ``authority.scoped``) cut to the login's books: nothing for a
    role that may not see them (customers included: their own money is shown by the portal)."""
    if not authority.allowed(user, Act.FINANCE_VIEW):
        return queryset.none()
    return authority.restrict(queryset, user, Act.FINANCE_VIEW)


def operators_in_scope(*, user: User) -> QuerySet[Operator]:
    return in_finance_scope(Operator.objects.all(), user=user)


def customers_in_scope(*, user: User) -> QuerySet[Subscriber]:
    return in_finance_scope(Subscriber.objects.all(), user=user)


def accounts_in_scope(*, user: User) -> QuerySet[Account]:
    paths = finance_paths(user=user)
    accounts = Account.objects.with_balance().select_related("owner", "customer").order_by("id")
    if authority.covers_everything(paths):
        return accounts
    return accounts.filter(authority.under_paths("owner__path", paths)
                           | authority.under_paths("customer__owner__path", paths))


def entries_in_scope(*, user: User) -> QuerySet[JournalEntry]:
    paths = finance_paths(user=user)
    entries = JournalEntry.objects.prefetch_related("postings__account")
    if authority.covers_everything(paths):
        return entries
    if not paths:
        return entries.none()
    visible = Account.objects.filter(authority.under_paths("owner__path", paths)
                                     | authority.under_paths("customer__owner__path", paths))
    return entries.filter(Exists(Posting.objects.filter(entry=OuterRef("pk"), account__in=visible)))


def payments_in_scope(*, user: User) -> QuerySet[Payment]:
    return in_finance_scope(Payment.objects.select_related("entry__reversed_by"), user=user)


def settlements_in_scope(*, user: User) -> QuerySet[Settlement]:
    return in_finance_scope(Settlement.objects.all(), user=user)


def trial_balance() -> list[Account]:
    return list(Account.objects.with_balance().select_related("owner", "customer").order_by("id"))


def account_statement(*, accounts: QuerySet[Account]) -> list[dict[str, object]]:
    """Every posting on the accounts in date order with a running balance (minor units)."""
    rows = []
    running = 0
    postings = (Posting.objects.filter(account__in=accounts).select_related("entry", "account")
                .order_by("entry__created", "id"))
    for posting in postings:
        running += posting.debit - posting.credit
        rows.append({"date": posting.entry.created, "entry": posting.entry_id, "kind": posting.entry.kind,
                     "account": posting.account.code, "reason": posting.entry.reason,
                     "debit": posting.debit, "credit": posting.credit, "balance": running})
    return rows


def commissions_by_node(*, user: User, start: datetime | None, end: datetime | None) -> list[dict[str, object]]:
    """Commission earned (credits) and reversed (debits by refunds) per node in the period."""
    postings = Posting.objects.filter(account__kind=AccountKind.COMMISSION_PAYABLE,
                                      account__owner__in=operators_in_scope(user=user),
                                      entry__kind__in=["payment", "refund", "activation"])
    if start:
        postings = postings.filter(entry__created__gte=start)
    if end:
        postings = postings.filter(entry__created__lt=end)
    rows = postings.values("account__owner_id", "account__owner__name").annotate(
        earned=Sum("credit"), reversed=Sum("debit")).order_by("account__owner_id")
    return [{"operator": r["account__owner_id"], "name": r["account__owner__name"], "earned": r["earned"],
             "reversed": r["reversed"], "net": r["earned"] - r["reversed"]} for r in rows]


def cash_by_collector(*, user: User) -> list[dict[str, object]]:
    """Cash each collector node took, handed over, and still holds for the ISP."""
    accounts = accounts_in_scope(user=user).filter(kind=AccountKind.CASH_HELD)
    rows = []
    for account in accounts:
        totals = account.postings.aggregate(collected=Sum("debit"), handed=Sum("credit"))
        collected, handed = totals["collected"] or 0, totals["handed"] or 0
        rows.append({"operator": account.owner_id, "name": account.owner.name if account.owner else "",
                     "collected": collected, "handed_over": handed, "held": collected - handed})
    return rows
