"""Reads on the books, scoped by the role tree: a node's staff see their own node's and their subtree's
accounts, entries and payments; only the ISP's own staff (members of the root) see the ISP's accounts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from accounts.models import Role, User
from hierarchy.models import Operator, Subscriber
from hierarchy.selectors import user_node as hierarchy_user_node
from ledger.models import Account, AccountKind, JournalEntry, Payment, Posting, Settlement

MONEY_ROLES = {Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.MANAGER, Role.ACCOUNTANT, Role.CARD_DISTRIBUTOR}
BOOKKEEPER_ROLES = {Role.ADMIN, Role.ACCOUNTANT, Role.MANAGER}


def user_node(*, user: User) -> Operator | None:
    """The node whose subtree the user may see, or None (customers, users without a membership)."""
    if not user.is_authenticated or user.role not in MONEY_ROLES | {Role.SUPPORT}:
        return None
    return hierarchy_user_node(user=user)


def user_is_isp_bookkeeper(*, user: User) -> bool:
    node = user_node(user=user)
    return node is not None and node.depth == 0 and user.role in BOOKKEEPER_ROLES


def operators_in_scope(*, user: User) -> QuerySet[Operator]:
    node = user_node(user=user)
    if node is None:
        return Operator.objects.none()
    return Operator.objects.filter(path__startswith=node.path)


def customers_in_scope(*, user: User) -> QuerySet[Subscriber]:
    node = user_node(user=user)
    if node is None:
        return Subscriber.objects.none()
    return Subscriber.objects.filter(owner__path__startswith=node.path)


def accounts_in_scope(*, user: User) -> QuerySet[Account]:
    node = user_node(user=user)
    if node is None:
        return Account.objects.none()
    accounts = Account.objects.with_balance().select_related("owner", "customer")
    if node.depth == 0:
        return accounts
    return accounts.filter(Q(owner__path__startswith=node.path) | Q(customer__owner__path__startswith=node.path))


def entries_in_scope(*, user: User) -> QuerySet[JournalEntry]:
    node = user_node(user=user)
    if node is None:
        return JournalEntry.objects.none()
    entries = JournalEntry.objects.prefetch_related("postings__account")
    if node.depth == 0:
        return entries
    visible = accounts_in_scope(user=user)
    return entries.filter(Exists(Posting.objects.filter(entry=OuterRef("pk"), account__in=visible)))


def payments_in_scope(*, user: User) -> QuerySet[Payment]:
    return Payment.objects.select_related("entry__reversed_by").filter(customer__in=customers_in_scope(user=user))


def settlements_in_scope(*, user: User) -> QuerySet[Settlement]:
    return Settlement.objects.filter(node__in=operators_in_scope(user=user))


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
