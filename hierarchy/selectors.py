"""Reads on the role tree, always scoped to the user asking, through the one gate
(``hierarchy.authority.restrict``).

Scope = the subtree of the user's node, one indexed prefix query on ``Operator.path``
(``path LIKE '/1/7/%'``, ``varchar_pattern_ops`` index), plus the subtrees of nodes on which
django-guardian grants the user ``hierarchy.access_subtree`` (explicit exceptions, e.g. a support user
given one reseller). The role x action table (hierarchy.authority) then decides what it may do there.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import NodeStatus, Operator, Package, PackageAssignment, Subscriber
from tenants.db import schema_current

CharField.register_lookup(Lower)  # `name__lower__startswith`, matching the lower(...) search indexes

# The scope itself (a login's node, its subtree and guardian grants) is the one gate's: hierarchy.authority.
user_node = authority.user_node
scope_paths = authority.scope_paths
_prefix_q = authority.under_paths
_covers_everything = authority.covers_everything


def operators_in_scope(*, user: Any, act: Act = Act.NODE_VIEW) -> QuerySet[Operator]:
    return authority.restrict(Operator.objects.all(), user, act)


def operators_writable(*, user: Any) -> QuerySet[Operator]:
    """Nodes the user may change: strictly below its own node, or inside a granted subtree."""
    if not authority.allowed(user, Act.NODE_EDIT):
        return Operator.objects.none()
    node = user_node(user=user)
    grants = [p for p in scope_paths(user=user) if node is None or p != node.path]
    query = _prefix_q("path", grants)
    if node is not None:
        query |= Q(path__startswith=node.path) & ~Q(pk=node.pk)
    return Operator.objects.filter(query)


def operator_in_write_scope(*, user: Any, operator: Operator) -> bool:
    return authority.node_below(user=user, node=operator)


def operator_in_scope(*, user: Any, operator: Operator) -> bool:
    return authority.node_in_scope(user=user, node=operator)


def operator_children(*, operator: Operator) -> QuerySet[Operator]:
    return Operator.objects.filter(parent=operator)


def operator_ancestors_suspended(*, operator: Operator) -> bool:
    """Is this node or any node above it suspended? The path lists the ancestors' ids."""
    ids = [int(part) for part in operator.path.strip("/").split("/")]
    return Operator.objects.filter(pk__in=ids, status=NodeStatus.SUSPENDED).exists()


def user_login_allowed(*, user: Any) -> bool:
    """Users of a suspended node (or of a node under a suspended one) cannot sign in."""
    if schema_current() == "public" or user.role == Role.CUSTOMER:
        return True
    node = user_node(user=user)
    return node is None or not operator_ancestors_suspended(operator=node)


def users_in_scope(*, user: Any) -> QuerySet[User]:
    if not authority.allowed(user, Act.LOGIN_VIEW) or user.role == Role.CUSTOMER:
        return User.objects.none()
    if _covers_everything(scope_paths(user=user)):
        return (User.objects.exclude(role=Role.CUSTOMER).filter(membership__isnull=False)
                .select_related("membership__operator").order_by("email"))
    return (User.objects.exclude(role=Role.CUSTOMER)
            .filter(_prefix_q("membership__operator__path", scope_paths(user=user)))
            .select_related("membership__operator").order_by("email"))


def subscribers_in_scope(*, user: Any, act: Act = Act.CUSTOMER_VIEW) -> QuerySet[Subscriber]:
    """Customers the user may reach for ``act`` (a customer: itself, for reading)."""
    if act != Act.CUSTOMER_VIEW and getattr(user, "role", None) == Role.CUSTOMER:
        return Subscriber.objects.none()
    return authority.restrict(Subscriber.objects.all(), user, act)


def subscribers_writable(*, user: Any) -> QuerySet[Subscriber]:
    return subscribers_in_scope(user=user, act=Act.CUSTOMER_EDIT)


def subscriber_list(
    *, user: Any, status: str | None = None, package: int | None = None, owner: int | None = None,
    connection_type: str | None = None, expiring_within_days: int | None = None, search: str | None = None,
) -> QuerySet[Subscriber]:
    """The scoped customer list with the API's filters (owner includes its whole subtree)."""
    qs = subscribers_in_scope(user=user)
    if status:
        qs = qs.filter(status=status)
    if package:
        qs = qs.filter(package_id=package)
    if owner:
        node = operators_in_scope(user=user).filter(pk=owner).first()
        if node is None:
            return qs.none()
        qs = qs.filter(owner_id__in=Operator.objects.filter(path__startswith=node.path).values("pk"))
    if connection_type:
        qs = qs.filter(connection_type=connection_type)
    if expiring_within_days is not None:
        now = timezone.now()
        qs = qs.filter(expires_at__gte=now, expires_at__lte=now + timedelta(days=expiring_within_days))
    if search:
        term = search.strip().lower()
        qs = qs.filter(Q(username__lower__startswith=term) | Q(full_name__lower__startswith=term)
                       | Q(email__lower__startswith=term) | Q(mobile__startswith=term))
        # Sorting the (few) matches beats walking the username index until 50 of them turn up.
        return qs.order_by(Lower("username"), "pk")
    return qs.order_by("username")


def packages_for(*, user: Any) -> QuerySet[Package]:
    """Packages a user sees: all of them at the ISP's root, else those assigned to its node(s)."""
    if user.role == Role.CUSTOMER:
        return Package.objects.filter(subscribers__user_id=user.pk)
    if not authority.allowed(user, Act.PACKAGE_VIEW):
        return Package.objects.none()
    paths = scope_paths(user=user)
    if _covers_everything(paths):
        return Package.objects.all()
    nodes = [int(p.strip("/").split("/")[-1]) for p in paths]
    return Package.objects.filter(assignments__operator_id__in=nodes, assignments__active=True).distinct()


def packages_offered_by(*, operator: Operator) -> QuerySet[Package]:
    """What a node may sell: everything (not retired) at the root, else what is assigned to it."""
    qs = Package.objects.filter(retired=False)
    if operator.is_root:
        return qs
    return qs.filter(assignments__operator=operator, assignments__active=True)


def assignments_in_scope(*, user: Any) -> QuerySet[PackageAssignment]:
    """Packages offered down the tree with each node's price: prices are the books' (support and card
    distributors do not see them)."""
    if getattr(user, "role", None) == Role.CUSTOMER:
        return PackageAssignment.objects.none()
    return (authority.restrict(PackageAssignment.objects.all(), user, Act.FINANCE_VIEW)
            .select_related("package", "operator").order_by("operator__path", "package__name"))


def package_cost_for(*, package: Package, operator: Operator) -> Decimal | None:
    """What `operator` pays for `package`: its parent's price (the master price under the ISP).
    None when the parent does not offer the package."""
    parent = operator.parent
    if parent is None or parent.is_root:
        return package.price
    row = PackageAssignment.objects.filter(package=package, operator=parent, active=True).first()
    return row.price if row else None


def package_price_at(*, package: Package, operator: Operator) -> Decimal | None:
    """The customer price at a node: its own assignment price (the master price at the root)."""
    if operator.is_root:
        return package.price
    row = PackageAssignment.objects.filter(package=package, operator=operator).first()
    return row.price if row else None
