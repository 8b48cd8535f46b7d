"""Writes on the role tree: operator nodes, moving subtrees, and the logins attached to nodes.

Every write takes the acting login (``actor``, required) and checks hierarchy.authority itself before
anything is written: a node changes only what lies strictly below it (it never raises its own share or
credit limit), and a login hands out only roles with no more authority than its own."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.audit import Actor, AuditAction, audit_record, diff, snapshot
from hierarchy.authority import Act
from hierarchy.models import (
    BillingMode,
    Membership,
    NodeKind,
    NodeStatus,
    Operator,
    Subscriber,
    SubscriberStatus,
)
from tenants.db import schema_current
from tenants.models import Tenant

OPERATOR_AUDITED = ["name", "contact_name", "email", "phone", "address", "billing_mode", "share_percent",
                    "credit_limit", "status", "suspends_customers", "brand_name", "brand_color", "parent", "path"]
OPERATOR_EDITABLE = {"name", "contact_name", "email", "phone", "address", "billing_mode", "share_percent",
                     "credit_limit", "suspends_customers", "brand_name", "brand_color"}
# A node's money settings: set only by Act.NODE_BILLING_SET, on nodes strictly below the actor's own.
MONEY_FIELDS = {"billing_mode", "share_percent", "credit_limit"}


def _next_operator_id() -> int:
    """Take the id before the insert so the row is written once with its final path."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence('hierarchy_operator', 'id'))")
        return int(cursor.fetchone()[0])


def operator_root_create(*, name: str, email: str = "") -> Operator:
    """The ISP itself, root of its tree (created with the tenant)."""
    pk = _next_operator_id()
    return Operator.objects.create(
        pk=pk, parent=None, path=f"/{pk}/", depth=0, kind=NodeKind.ISP, name=name, email=email,
        billing_mode=BillingMode.POSTPAID, share_percent=Decimal("100"),
    )


def operator_root() -> Operator:
    return Operator.objects.get(depth=0)


def _max_depth() -> int:
    tenant = Tenant.objects.filter(schema_name=schema_current()).only("max_reseller_depth").first()
    return tenant.max_reseller_depth if tenant else 3


def _kind_at(depth: int) -> str:
    return NodeKind.RESELLER if depth == 1 else NodeKind.SUB_RESELLER


def _share(value: Any) -> Decimal:
    try:
        share = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"share_percent": "The share is a percent between 0 and 100."}) from None
    if not Decimal("0") <= share <= Decimal("100"):
        raise ValidationError({"share_percent": "The share is a percent between 0 and 100."})
    return share


def _credit(value: Any) -> Decimal:
    try:
        limit = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({"credit_limit": "The credit limit is an amount like 500.00."}) from None
    if limit < 0 or limit != limit.quantize(Decimal("0.01")):
        raise ValidationError({"credit_limit": "The credit limit is a non-negative amount with at most 2 decimals."})
    return limit


def operator_create(
    *,
    parent: Operator,
    name: str,
    actor: Actor,
    billing_mode: str | None = None,
    share_percent: Decimal | None = None,
    credit_limit: Decimal | None = None,
    kind: str | None = None,
    **details: Any,
) -> Operator:
    """A reseller under the ISP, or a sub-reseller under a reseller (up to the ISP's depth limit). Money
    settings not given are the defaults: postpaid, 0 % share, no credit."""
    authority.authorize(actor, Act.NODE_CREATE, node=parent)
    if billing_mode is not None or share_percent is not None or credit_limit is not None:
        authority.authorize(actor, Act.NODE_BILLING_SET)  # the new node lies below the actor's own
    billing_mode = BillingMode.POSTPAID if billing_mode is None else billing_mode
    depth = parent.depth + 1
    if depth > _max_depth():
        raise ValidationError({"parent": f"This ISP allows at most {_max_depth()} reseller levels."})
    expected = _kind_at(depth)
    if kind is not None and kind != expected:
        raise ValidationError({"role": f"A node under {parent.name} is a {NodeKind(expected).label.lower()}."})
    if billing_mode not in BillingMode.values:
        raise ValidationError({"billing_mode": "Choose prepaid or postpaid."})
    node = Operator(
        parent=parent, depth=depth, kind=expected, name=name, billing_mode=billing_mode,
        share_percent=_share(share_percent or 0), credit_limit=_credit(credit_limit or 0), **details,
    )
    node.full_clean(exclude=["path", "depth"])
    with transaction.atomic():
        node.pk = _next_operator_id()
        node.path = f"{parent.path}{node.pk}/"
        node.save(force_insert=True)
        audit_record(actor=actor, obj=node, object_type="operator", action=AuditAction.CREATE,
                     changes={k: [None, v] for k, v in snapshot(node, OPERATOR_AUDITED).items()})
    return node


def operator_update(*, operator: Operator, actor: Actor, **fields: Any) -> Operator:
    """Contact and branding of a node below the actor's (the ISP's admins also edit the ISP's own); its
    money settings only with Act.NODE_BILLING_SET, strictly below."""
    # The ISP's root is edited by the ISP's own staff; any other node only from above it. Contact and
    # branding are NODE_EDIT; billing mode, share and credit limit are NODE_BILLING_SET (an accountant's).
    if set(fields) - MONEY_FIELDS or not fields:
        authority.authorize(actor, Act.NODE_EDIT, node=operator, below=not operator.is_root)
    unknown = set(fields) - OPERATOR_EDITABLE
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if MONEY_FIELDS & set(fields):
        if operator.is_root:
            raise ValidationError({"share_percent": "The ISP's own billing settings are fixed."})
        authority.authorize(actor, Act.NODE_BILLING_SET, node=operator, below=True)
    if "share_percent" in fields:
        fields["share_percent"] = _share(fields["share_percent"])
    if "credit_limit" in fields:
        fields["credit_limit"] = _credit(fields["credit_limit"])
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        before = snapshot(operator, OPERATOR_AUDITED)
        for name, value in fields.items():
            setattr(operator, name, value)
        operator.full_clean(exclude=["path", "depth", "parent"])
        operator.save()
        changes = diff(before, snapshot(operator, OPERATOR_AUDITED))
        if changes:
            audit_record(actor=actor, obj=operator, object_type="operator", action=AuditAction.UPDATE,
                         changes=changes)
    return operator


def operator_suspend(*, operator: Operator, actor: Actor, suspend_customers: bool | None = None) -> Operator:
    """Suspend a node: its (and its subtree's) users can no longer sign in; if the node suspends its
    customers, the subtree's active customers are suspended too (and restored on reactivation)."""
    authority.authorize(actor, Act.NODE_STATUS, node=operator, below=True)
    if operator.is_root:
        raise ValidationError({"operator": "The ISP itself cannot be suspended here."})
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        if suspend_customers is not None:
            operator.suspends_customers = suspend_customers
        if operator.status == NodeStatus.SUSPENDED:
            raise ValidationError({"status": "This node is already suspended."})
        operator.status = NodeStatus.SUSPENDED
        operator.save(update_fields=["status", "suspends_customers"])
        affected = 0
        if operator.suspends_customers:
            affected = Subscriber.objects.filter(
                owner__path__startswith=operator.path, status=SubscriberStatus.ACTIVE
            ).update(status=SubscriberStatus.SUSPENDED, suspended_by=operator)
        audit_record(actor=actor, obj=operator, object_type="operator", action=AuditAction.STATUS,
                     changes={"status": [NodeStatus.ACTIVE, NodeStatus.SUSPENDED],
                              "customers_suspended": [0, affected]})
    return operator


def operator_reactivate(*, operator: Operator, actor: Actor) -> Operator:
    authority.authorize(actor, Act.NODE_STATUS, node=operator, below=True)
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        if operator.status != NodeStatus.SUSPENDED:
            raise ValidationError({"status": "This node is not suspended."})
        operator.status = NodeStatus.ACTIVE
        operator.save(update_fields=["status"])
        restored = Subscriber.objects.filter(suspended_by=operator, status=SubscriberStatus.SUSPENDED).update(
            status=SubscriberStatus.ACTIVE, suspended_by=None)
        audit_record(actor=actor, obj=operator, object_type="operator", action=AuditAction.STATUS,
                     changes={"status": [NodeStatus.SUSPENDED, NodeStatus.ACTIVE],
                              "customers_restored": [0, restored]})
    return operator


def operator_delete(*, operator: Operator, actor: Actor) -> None:
    """Only an empty node goes: no sub-nodes, customers or logins (suspend it otherwise). Whoever may
    create a node there may remove it."""
    authority.authorize(actor, Act.NODE_CREATE, node=operator, below=True)
    if operator.is_root:
        raise ValidationError({"operator": "The ISP itself cannot be deleted."})
    if operator.children.exists() or operator.subscribers.exists() or operator.members.exists():
        raise ValidationError({"operator": "This node still has sub-resellers, customers or logins; "
                                           "move or remove them first, or suspend the node."})
    with transaction.atomic():
        audit_record(actor=actor, obj=operator, object_type="operator", action=AuditAction.DELETE,
                     changes={k: [v, None] for k, v in snapshot(operator, OPERATOR_AUDITED).items()})
        operator.delete()


def operator_move(*, operator: Operator, new_parent: Operator, actor: Actor) -> Operator:
    """Move a subtree under another parent: one transaction, one UPDATE rewriting path, depth and kind of
    every node below (Act.NODE_MOVE: the ISP's admins)."""
    authority.authorize(actor, Act.NODE_MOVE, node=operator, below=True)
    authority.authorize(actor, Act.NODE_MOVE, node=new_parent)
    if operator.is_root:
        raise ValidationError({"operator": "The ISP itself cannot be moved."})
    with transaction.atomic():
        locked = list(Operator.objects.select_for_update().filter(pk__in=[operator.pk, new_parent.pk]))
        operator = next(o for o in locked if o.pk == operator.pk)
        new_parent = next(o for o in locked if o.pk == new_parent.pk)
        if new_parent.path.startswith(operator.path):
            raise ValidationError({"parent": "A node cannot move under itself or its own subtree."})
        if new_parent.pk == operator.parent_id:
            return operator
        old_path, new_path = operator.path, f"{new_parent.path}{operator.pk}/"
        delta = new_parent.depth + 1 - operator.depth
        deepest = Operator.objects.filter(path__startswith=old_path).aggregate(d=Max("depth"))["d"]
        if deepest + delta > _max_depth():
            raise ValidationError({"parent": f"This ISP allows at most {_max_depth()} reseller levels; "
                                             "the subtree would go deeper."})
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE hierarchy_operator
                      SET path = %s || substr(path, %s),
                          depth = depth + %s,
                          kind = CASE WHEN depth + %s = 1 THEN 'reseller' ELSE 'sub_reseller' END,
                          parent_id = CASE WHEN id = %s THEN %s ELSE parent_id END
                    WHERE path LIKE %s""",
                [new_path, len(old_path) + 1, delta, delta, operator.pk, new_parent.pk,
                 old_path.replace("_", r"\_") + "%"],
            )
        # Logins follow their node's kind.
        User.objects.filter(membership__operator__path__startswith=new_path, membership__operator__depth=1,
                            role=Role.SUB_RESELLER).update(role=Role.RESELLER)
        User.objects.filter(membership__operator__path__startswith=new_path, membership__operator__depth__gt=1,
                            role=Role.RESELLER).update(role=Role.SUB_RESELLER)
        operator.refresh_from_db()
        audit_record(actor=actor, obj=operator, object_type="operator", action=AuditAction.MOVE,
                     changes={"path": [old_path, new_path], "parent": [int(old_path.split("/")[-3]),
                                                                       new_parent.pk]})
    return operator


NODE_ROLES = {Role.RESELLER: NodeKind.RESELLER, Role.SUB_RESELLER: NodeKind.SUB_RESELLER,
              Role.ADMIN: NodeKind.ISP}


def _check_role_fits(role: str, operator: Operator) -> None:
    if role == Role.CUSTOMER or role == Role.PLATFORM_OPERATOR or role not in Role.values:
        raise ValidationError({"role": "Choose a staff or reseller role (customers get portal logins)."})
    required_kind = NODE_ROLES.get(Role(role))
    if required_kind is not None and operator.kind != required_kind:
        raise ValidationError({"role": f"A {Role(role).label.lower()} login belongs to a "
                                       f"{NodeKind(required_kind).label.lower()} node."})


def _authorize_login(actor: Actor, target: User) -> Operator:
    """Only logins the actor could have created may be changed, and never its own."""
    node = Membership.objects.select_related("operator").get(user=target).operator
    acting = actor.user if isinstance(actor, Actor) else actor
    if acting is not None and acting.pk == target.pk:
        raise PermissionDenied("You may not change your own login here.")
    authority.authorize_login_role(actor, role=target.role, node=node)
    return node


def user_create(*, email: str, password: str, role: str, operator: Operator, actor: Actor,
                full_name: str = "") -> User:
    """A login attached to a node with a role the actor may hand out there (never more than its own)."""
    authority.authorize_login_role(actor, role=role, node=operator)
    _check_role_fits(role, operator)
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A login with this email already exists in this ISP."})
    candidate = User(email=email.lower(), full_name=full_name, role=role)
    validate_password(password, candidate)
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, role=role, full_name=full_name,
                                            is_staff=role == Role.ADMIN)
            Membership.objects.create(user=user, operator=operator)
            audit_record(actor=actor, obj=user, object_type="user", action=AuditAction.CREATE,
                         changes={"email": [None, user.email], "role": [None, role],
                                  "operator": [None, operator.pk]})
    except IntegrityError:
        raise ValidationError({"email": "A login with this email already exists in this ISP."}) from None
    return user


def user_update(*, user: User, actor: Actor, full_name: str | None = None,
                is_active: bool | None = None, role: str | None = None) -> User:
    node = _authorize_login(actor, user)
    with transaction.atomic():
        before = {"full_name": user.full_name, "is_active": user.is_active, "role": user.role}
        if role is not None and role != user.role:
            authority.authorize_login_role(actor, role=role, node=node)
            _check_role_fits(role, node)
            user.role = role
        if full_name is not None:
            user.full_name = full_name
        if is_active is not None:
            user.is_active = is_active
        user.save(update_fields=["full_name", "is_active", "role"])
        changes = diff(before, {"full_name": user.full_name, "is_active": user.is_active, "role": user.role})
        if changes:
            audit_record(actor=actor, obj=user, object_type="user", action=AuditAction.UPDATE, changes=changes)
    return user


def user_delete(*, user: User, actor: Actor) -> None:
    _authorize_login(actor, user)
    with transaction.atomic():
        audit_record(actor=actor, obj=user, object_type="user", action=AuditAction.DELETE,
                     changes={"email": [user.email, None], "role": [user.role, None]})
        user.delete()
