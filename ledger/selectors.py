"""Reads on the books, scoped by the role tree: a node's staff see their own node's and their subtree's
accounts, entries and payments, plus the subtrees django-guardian grants them (``hierarchy.access_subtree``,
the same exceptions as for customers: ``hierarchy.selectors.scope_paths``); only staff whose scope covers
the whole tree (members of the root, or granted the root) see the ISP's own accounts."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum

from accounts.models import Role, User
from hierarchy.models import Operator, Subscriber
from hierarchy.selectors import scope_paths
from hierarchy.selectors import user_node as hierarchy_user_node
from ledger.models import Account, AccountKind, JournalEntry, Payment, Posting, Settlement

MONEY_ROLES = {Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.MANAGER, Role.ACCOUNTANT, Role.CARD_DISTRIBUTOR}
BOOKKEEPER_ROLES = {Role.ADMIN, Role.ACCOUNTANT, Role.MANAGER}


def user_node(*, user: User) -> Operator | None:
    """The node the user belongs to, or None (customers, users without a membership)."""
    if not _may_read_money(user):
        return None
    return hierarchy_user_node(user=user)


def _may_read_money(user: User) -> bool:
    return bool(user.is_authenticated) and user.role in MONEY_ROLES | {Role.SUPPORT}


def user_is_isp_bookkeeper(*, user: User) -> bool:
    node = user_node(user=user)
    return node is not None and node.depth == 0 and user.role in BOOKKEEPER_ROLES


def ledger_scope_paths(*, user: User) -> list[str]:
    """Path prefixes whose money the user may read: its node's subtree plus guardian-granted subtrees."""
    return scope_paths(user=user) if _may_read_money(user) else []


def under_paths(field: str, paths: list[str]) -> Q:
    query = Q(pk__in=[])
    for path in paths:
        query |= Q(**{f"{field}__startswith": path})
    return query


def paths_cover_everything(paths: list[str]) -> bool:
    return any(path.count("/") == 2 for path in paths)  # the root's path "/<id>/"


def operators_in_scope(*, user: User) -> QuerySet[Operator]:
    return Operator.objects.filter(under_paths("path", ledger_scope_paths(user=user)))


def customers_in_scope(*, user: User) -> QuerySet[Subscriber]:
    return Subscriber.objects.filter(under_paths("owner__path", ledger_scope_paths(user=user)))


def accounts_in_scope(*, user: User) -> QuerySet[Account]:
    paths = ledger_scope_paths(user=user)
    accounts = Account.objects.with_balance().select_related("owner", "customer").order_by("id")
    if paths_cover_everything(paths):
        return accounts
    return accounts.filter(under_paths("owner__path", paths) | under_paths("customer__owner__path", paths))


def entries_in_scope(*, user: User) -> QuerySet[JournalEntry]:
    paths = ledger_scope_paths(user=user)
    entries = JournalEntry.objects.prefetch_related("postings__account")
    if paths_cover_everything(paths):
        return entries
    if not paths:
        return entries.none()
    visible = Account.objects.filter(under_paths("owner__path", paths) | under_paths("customer__owner__path", paths))
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
