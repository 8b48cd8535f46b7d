"""Reads on routers and router jobs, always within the caller's part of the role tree."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Role, User
from hierarchy.models import Operator
from hierarchy.selectors import user_node
from network.models import Nas, RouterJob

# Who may see and act on routers; the others (customers, card distributors, accountants) see none.
ROUTER_ROLES = frozenset({Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.MANAGER, Role.SUPPORT})


def operator_of(*, user: User) -> Operator | None:
    """The node the user acts for, or None when it may not act on routers at all."""
    if user.role not in ROUTER_ROLES:
        return None
    return user_node(user=user)


def operators_in_scope(*, user: User) -> QuerySet[Operator]:
    node = operator_of(user=user)
    if node is None:
        return Operator.objects.none()
    return Operator.objects.filter(path__startswith=node.path)


def routers_in_scope(*, user: User) -> QuerySet[Nas]:
    """Routers owned by the user's node or any node below it (the ISP root sees every router)."""
    node = operator_of(user=user)
    if node is None:
        return Nas.objects.none()
    return Nas.objects.filter(owner__path__startswith=node.path).select_related("owner")


def router_jobs_in_scope(*, user: User) -> QuerySet[RouterJob]:
    return RouterJob.objects.filter(nas__in=routers_in_scope(user=user)).select_related("nas", "created_by")
