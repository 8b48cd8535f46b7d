"""The one scope gate and the one role x action table of an ISP.

*Where* a login may act is its scope: its node's subtree plus the subtrees django-guardian grants it
(``hierarchy.access_subtree`` on a node). *What* it may do there is this module's table: an action is a
business operation (record a payment by bank, void an invoice, extend an expiry, register a router),
never an endpoint. Every API view, panel page, import, Celery task and service asks here; no app keeps a
role list of its own.

- ``allowed(user, act)`` / ``authorize(actor, act, node=...)``: the action check (``authorize`` also checks
  the target node is in scope and raises ``PermissionDenied``, a 403 with a JSON body in the API).
- ``restrict(queryset, user, act)``: the queryset cut to the login's scope, empty if its role may not do
  ``act`` at all (NetBox's ``RestrictedQuerySet.restrict``). Models say which field holds their node path
  with ``scoped(Model, path_field=..., customer_field=...)`` in their own app.

Some actions are held only by logins of the ISP itself (the root node): money that reaches the ISP's bank
or gateway, master packages, the network. A role's actions at a reseller node are its ``ANYWHERE`` set;
at the ISP's root they are ``ANYWHERE | AT_ISP``. A login may hand out a role only if that role's actions
at the target node are a subset of its own (``login_role_grantable``): no login creates more authority
than it has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast

from accounts.models import Role

M = TypeVar("M", bound=models.Model)


class Act(StrEnum):
    """Business operations, each checked inside the service that performs it."""

    # Money entering the ISP
    PAYMENT_CASH = "payment_cash"  # cash taken at the actor's own node (its liability to the ISP)
    PAYMENT_BANK = "payment_bank"  # a bank transfer into the ISP's account
    PAYMENT_GATEWAY = "payment_gateway"  # a gateway (Stripe) payment recorded by hand; webhooks act as the system
    REFUND = "refund"
    MANUAL_ENTRY = "manual_entry"
    SETTLEMENT = "settlement"  # money between the ISP and a node (dues, commission pay-outs)
    WALLET_DEPOSIT = "wallet_deposit"  # the ISP records a reseller's deposit (cash, bank, gateway)
    WALLET_TRANSFER = "wallet_transfer"  # a parent tops up its child from its own wallet
    # Invoices
    INVOICE_PAY = "invoice_pay"  # apply a customer's credit to its invoice
    INVOICE_VOID = "invoice_void"
    CREDIT_NOTE = "credit_note"
    DISCOUNT_SET = "discount_set"  # a customer's standing discount, promo codes
    BILLING_MODEL_SET = "billing_model_set"  # switching a customer's billing model (releases invoices)
    BILLING_SETTINGS_SET = "billing_settings_set"  # the ISP's billing settings and its bounds on give-aways
    # Service time
    RECHARGE = "recharge"  # sell a period, paid from the owner's wallet or credit
    PACKAGE_CHANGE = "package_change"
    EXPIRY_EXTEND = "expiry_extend"  # an explicit, audited extension with a reason
    EXPIRY_IMPORT = "expiry_import"  # CSV / router import that sets expiries
    # Customers
    CUSTOMER_VIEW = "customer_view"
    CUSTOMER_CREATE = "customer_create"
    CUSTOMER_EDIT = "customer_edit"
    CUSTOMER_STATUS = "customer_status"  # suspend, reactivate, disable
    CUSTOMER_DELETE = "customer_delete"
    CUSTOMER_IMPORT = "customer_import"
    # Vouchers
    VOUCHER_VIEW = "voucher_view"
    VOUCHER_BATCH_CREATE = "voucher_batch_create"
    VOUCHER_ASSIGN = "voucher_assign"  # hand cards to a card distributor
    VOUCHER_SELL = "voucher_sell"
    VOUCHER_VOID = "voucher_void"
    # The tree
    NODE_VIEW = "node_view"
    NODE_CREATE = "node_create"
    NODE_EDIT = "node_edit"  # name, contact, branding
    NODE_BILLING_SET = "node_billing_set"  # billing mode, share, credit limit
    NODE_STATUS = "node_status"
    NODE_MOVE = "node_move"
    LOGIN_VIEW = "login_view"
    LOGIN_CREATE = "login_create"  # of a role the actor may grant (login_role_grantable)
    # Packages
    PACKAGE_VIEW = "package_view"
    PACKAGE_EDIT = "package_edit"  # the ISP's master packages
    PACKAGE_ASSIGN = "package_assign"  # offer a package to a child node at a price
    # The network
    NAS_VIEW = "nas_view"
    NAS_REGISTER = "nas_register"
    ROUTER_VIEW = "router_view"
    ROUTER_REGISTER = "router_register"
    ROUTER_OPERATE = "router_operate"  # provision, suspend / reactivate on the router
    ROUTER_IMPORT = "router_import"
    SESSIONS_VIEW = "sessions_view"
    SESSION_DISCONNECT = "session_disconnect"
    # Reading money and data
    FINANCE_VIEW = "finance_view"  # payments, entries, accounts, financial reports of the scope
    AUDIT_VIEW = "audit_view"
    DATA_EXPORT = "data_export"


_CUSTOMERS = frozenset({Act.CUSTOMER_VIEW, Act.CUSTOMER_CREATE, Act.CUSTOMER_EDIT, Act.CUSTOMER_STATUS,
                        Act.CUSTOMER_DELETE, Act.CUSTOMER_IMPORT})
_NETWORK_READ = frozenset({Act.NAS_VIEW, Act.ROUTER_VIEW, Act.SESSIONS_VIEW})
_RESELLER = frozenset({
    Act.PAYMENT_CASH, Act.INVOICE_PAY, Act.WALLET_TRANSFER, Act.RECHARGE, Act.PACKAGE_CHANGE, *_CUSTOMERS,
    Act.VOUCHER_VIEW, Act.VOUCHER_BATCH_CREATE, Act.VOUCHER_ASSIGN, Act.VOUCHER_SELL, Act.VOUCHER_VOID,
    Act.NODE_VIEW, Act.NODE_CREATE, Act.NODE_EDIT, Act.NODE_BILLING_SET, Act.NODE_STATUS,
    Act.LOGIN_VIEW, Act.LOGIN_CREATE, Act.PACKAGE_VIEW, Act.PACKAGE_ASSIGN, *_NETWORK_READ,
    Act.ROUTER_IMPORT, Act.SESSION_DISCONNECT, Act.FINANCE_VIEW, Act.AUDIT_VIEW, Act.DATA_EXPORT,
})
_MANAGER = frozenset({
    Act.PAYMENT_CASH, Act.INVOICE_PAY, Act.RECHARGE, Act.PACKAGE_CHANGE, *_CUSTOMERS,
    Act.VOUCHER_VIEW, Act.VOUCHER_ASSIGN, Act.VOUCHER_SELL, Act.NODE_VIEW, Act.LOGIN_VIEW, Act.LOGIN_CREATE,
    Act.PACKAGE_VIEW, *_NETWORK_READ, Act.SESSION_DISCONNECT, Act.FINANCE_VIEW, Act.AUDIT_VIEW, Act.DATA_EXPORT,
})
_ACCOUNTANT = frozenset({
    Act.PAYMENT_CASH, Act.INVOICE_PAY, Act.WALLET_TRANSFER, Act.CUSTOMER_VIEW, Act.VOUCHER_VIEW,
    Act.VOUCHER_SELL, Act.VOUCHER_VOID, Act.NODE_VIEW, Act.NODE_BILLING_SET, Act.LOGIN_VIEW, Act.PACKAGE_VIEW,
    Act.PACKAGE_ASSIGN, Act.FINANCE_VIEW, Act.AUDIT_VIEW, Act.DATA_EXPORT,
})
_ISP_MONEY = frozenset({
    Act.PAYMENT_BANK, Act.PAYMENT_GATEWAY, Act.REFUND, Act.MANUAL_ENTRY, Act.SETTLEMENT, Act.WALLET_DEPOSIT,
    Act.INVOICE_VOID, Act.CREDIT_NOTE, Act.DISCOUNT_SET, Act.BILLING_MODEL_SET,
})

# What each role may do at any node of its scope.
ANYWHERE: dict[str, frozenset[Act]] = {
    Role.ADMIN: frozenset(Act),
    Role.RESELLER: _RESELLER,
    Role.SUB_RESELLER: _RESELLER,
    Role.MANAGER: _MANAGER,
    Role.ACCOUNTANT: _ACCOUNTANT,
    # Customers and sessions of its scope; nothing financial.
    Role.SUPPORT: frozenset({Act.CUSTOMER_VIEW, Act.NODE_VIEW, Act.PACKAGE_VIEW, *_NETWORK_READ}),
    # Its cards and their sales only (the services limit it to its own stock).
    Role.CARD_DISTRIBUTOR: frozenset({Act.VOUCHER_VIEW, Act.VOUCHER_SELL, Act.PACKAGE_VIEW}),
    # Self-care goes through the portal's own services (its own account only), not through this table.
    Role.CUSTOMER: frozenset(),
}
# What a role may do in addition when its login belongs to the ISP's root node.
AT_ISP: dict[str, frozenset[Act]] = {
    Role.ACCOUNTANT: _ISP_MONEY,
    Role.MANAGER: frozenset({Act.ROUTER_OPERATE}),
}
# Actions django-guardian may grant to a single staff login (``hierarchy.manage_network`` on the ISP's node):
# a network engineer on the ISP's staff, without making it an admin.
NETWORK_GRANT = "manage_network"
GRANTABLE_NETWORK = frozenset({Act.NAS_REGISTER, Act.ROUTER_REGISTER, Act.ROUTER_OPERATE, Act.ROUTER_IMPORT})
NETWORK_GRANTEES = frozenset({Role.MANAGER, Role.SUPPORT})


def acts_of(role: str, *, at_isp: bool) -> frozenset[Act]:
    """Everything a role may do at a node (the ISP's root if ``at_isp``)."""
    acts = ANYWHERE.get(role, frozenset())
    return acts | AT_ISP.get(role, frozenset()) if at_isp else acts


# --- who is acting --------------------------------------------------------------------------------------

_NODE_CACHE = "_backhaul_node"
_PATHS_CACHE = "_backhaul_scope_paths"
_GRANTS_CACHE = "_backhaul_network_grant"


def _user_of(actor: Any) -> Any:
    """A login from an ``Actor`` (hierarchy.audit), a request's user, or None for the system."""
    return getattr(actor, "user", actor) if actor is not None and not _is_login(actor) else actor


def _is_login(obj: Any) -> bool:
    return hasattr(obj, "is_authenticated") and hasattr(obj, "role")


def is_system(actor: Any) -> bool:
    """Scheduled jobs, verified webhooks and imports the platform runs itself act with no login."""
    return _user_of(actor) is None


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


def user_node(*, user: Any) -> Any:
    """The node a staff or reseller login belongs to (None for customers and users without one); cached
    on the user object for the request."""
    if not _active(user):
        return None
    if not hasattr(user, _NODE_CACHE):
        from hierarchy.models import Membership

        membership = Membership.objects.filter(user_id=user.pk).select_related("operator").first()
        setattr(user, _NODE_CACHE, membership.operator if membership else None)
    return getattr(user, _NODE_CACHE)


def _collapse(paths: Iterable[str]) -> list[str]:
    """Drop paths already covered by a shorter one ("/1/7/42/" is inside "/1/7/")."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(prefix) for prefix in kept):
            kept.append(path)
    return kept


def _granted_paths(user: Any, codename: str) -> list[str]:
    """Paths of the nodes on which django-guardian grants the user (or one of its groups) ``codename``:
    one query (guardian's shortcut takes several)."""
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from hierarchy.models import Operator

    perms = Q(permission__codename=codename, permission__content_type__app_label="hierarchy",
              permission__content_type__model="operator")
    by_user = UserObjectPermission.objects.filter(perms, user_id=user.pk).values("object_pk")
    by_group = GroupObjectPermission.objects.filter(perms, group__user=user.pk).values("object_pk")
    return list(Operator.objects.annotate(pk_text=Cast("pk", CharField()))
                .filter(Q(pk_text__in=by_user) | Q(pk_text__in=by_group)).values_list("path", flat=True))


def scope_paths(*, user: Any) -> list[str]:
    """Path prefixes the login may act under: its own node plus guardian-granted subtrees."""
    if not _active(user) or user.role == Role.CUSTOMER:
        return []
    if not hasattr(user, _PATHS_CACHE):
        node = user_node(user=user)
        paths = [node.path] if node else []
        setattr(user, _PATHS_CACHE, _collapse(paths + _granted_paths(user, "access_subtree")))
    result: list[str] = getattr(user, _PATHS_CACHE)
    return result


def covers_everything(paths: list[str]) -> bool:
    return any(path.count("/") == 2 for path in paths)  # the root's path "/<id>/"


def under_paths(field: str, paths: list[str]) -> Q:
    """``field`` (a node path) starts with one of ``paths``; matches nothing for no paths."""
    query = Q(pk__in=[])
    for path in paths:
        query |= Q(**{f"{field}__startswith": path})
    return query


def _at_isp(user: Any) -> bool:
    node = user_node(user=user)
    return node is not None and node.depth == 0


def _network_granted(user: Any) -> bool:
    if not hasattr(user, _GRANTS_CACHE):
        setattr(user, _GRANTS_CACHE, any(p.count("/") == 2 for p in _granted_paths(user, NETWORK_GRANT)))
    return bool(getattr(user, _GRANTS_CACHE))


def allowed(actor: Any, act: Act) -> bool:
    """May this login (or the system) do ``act`` somewhere in its scope?"""
    user = _user_of(actor)
    if user is None:
        return True
    if not _active(user):
        return False
    if act in acts_of(str(user.role), at_isp=_at_isp(user)):
        return True
    return act in GRANTABLE_NETWORK and user.role in NETWORK_GRANTEES and _network_granted(user)


def node_in_scope(*, user: Any, node: Any) -> bool:
    return any(str(node.path).startswith(p) for p in scope_paths(user=user))


def node_below(*, user: Any, node: Any) -> bool:
    """Strictly below the login's own node, or inside a granted subtree: what it may change (a node never
    raises its own share, credit or status)."""
    own = user_node(user=user)
    if own is not None and str(node.path).startswith(own.path) and node.pk != own.pk:
        return True
    return any(str(node.path).startswith(p) for p in scope_paths(user=user) if own is None or p != own.path)


def denial(act: Act) -> str:
    return f"Your role may not {ACT_LABELS.get(act, act.value.replace('_', ' '))} here."


def authorize(actor: Any, act: Act, *, node: Any = None, below: bool = False) -> None:
    """Raise PermissionDenied unless the actor may do ``act`` (at ``node``, if given: inside its scope, or
    strictly below its own node with ``below``). The system (no login) may do everything."""
    user = _user_of(actor)
    if user is None:
        return
    if not allowed(user, act):
        raise PermissionDenied(denial(act))
    if node is not None:
        inside = node_below(user=user, node=node) if below else node_in_scope(user=user, node=node)
        if not inside:
            raise PermissionDenied(f"{node} is outside your part of the tree.")


# --- the scope gate for querysets ---------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeField:
    path: str  # lookup of the node path that owns a row ("owner__path")
    customer: str | None = None  # lookup of the customer's login, for rows a customer may read of its own


_SCOPED: dict[type[models.Model], ScopeField] = {}


def scoped(model: type[models.Model], *, path_field: str, customer_field: str | None = None) -> None:
    """Declare where a model's node path lives (called by the owning app, next to the model)."""
    _SCOPED[model] = ScopeField(path=path_field, customer=customer_field)


def restrict(queryset: QuerySet[M], user: Any, act: Act) -> QuerySet[M]:
    """``queryset`` cut to what ``user`` may reach for ``act``: nothing if its role may not do ``act``;
    for a customer, only its own rows (where the model names a customer field)."""
    user = _user_of(user)
    if user is None:
        return queryset
    field = _SCOPED.get(queryset.model)
    if field is None:
        raise LookupError(f"{queryset.model.__name__} is not declared with authority.scoped()")
    if _active(user) and user.role == Role.CUSTOMER:
        if field.customer is None:
            return queryset.none()
        return queryset.filter(**{field.customer: user.pk})
    if not allowed(user, act):
        return queryset.none()
    paths = scope_paths(user=user)
    if covers_everything(paths):
        return queryset
    if not paths:
        return queryset.none()
    return queryset.filter(under_paths(field.path, paths))


# --- logins -----------------------------------------------------------------------------------------------

STAFF_ROLES = (Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.MANAGER, Role.ACCOUNTANT, Role.SUPPORT,
               Role.CARD_DISTRIBUTOR)


def login_role_grantable(*, actor: Any, role: str, node: Any) -> bool:
    """May ``actor`` create (or promote) a login of ``role`` at ``node``? Only inside its scope, and only
    if that role's actions at that node are a subset of the actor's own: no login creates more authority
    than it has. Customers' portal logins are part of editing the customer."""
    user = _user_of(actor)
    if user is None:
        return True
    if not allowed(user, Act.LOGIN_CREATE) or not node_in_scope(user=user, node=node):
        return False
    if role == Role.CUSTOMER:
        return allowed(user, Act.CUSTOMER_EDIT)
    if role not in STAFF_ROLES:
        return False
    if role == Role.ADMIN and (user.role != Role.ADMIN or node.depth != 0):
        return False
    if role in (Role.RESELLER, Role.SUB_RESELLER) and node.depth == 0:
        return False  # the ISP's own node has admins and staff, not resellers
    mine = acts_of(str(user.role), at_isp=_at_isp(user))
    return acts_of(role, at_isp=node.depth == 0) <= mine


def login_roles_grantable(*, actor: Any, node: Any) -> list[str]:
    return [role for role in STAFF_ROLES if login_role_grantable(actor=actor, role=role, node=node)]


def authorize_login_role(actor: Any, *, role: str, node: Any) -> None:
    if not login_role_grantable(actor=actor, role=role, node=node):
        raise PermissionDenied(f"You may not create a {Role(role).label} login at {node}.")


ACT_LABELS: dict[Act, str] = {
    Act.PAYMENT_CASH: "record cash payments", Act.PAYMENT_BANK: "record bank payments",
    Act.PAYMENT_GATEWAY: "record gateway payments by hand", Act.REFUND: "refund payments",
    Act.MANUAL_ENTRY: "post manual entries", Act.SETTLEMENT: "record settlements",
    Act.WALLET_DEPOSIT: "record wallet deposits", Act.WALLET_TRANSFER: "transfer wallet money",
    Act.INVOICE_PAY: "pay invoices from credit", Act.INVOICE_VOID: "void invoices",
    Act.CREDIT_NOTE: "issue credit notes", Act.DISCOUNT_SET: "set discounts",
    Act.BILLING_MODEL_SET: "switch billing models", Act.BILLING_SETTINGS_SET: "change billing settings",
    Act.RECHARGE: "recharge customers",
    Act.PACKAGE_CHANGE: "change packages", Act.EXPIRY_EXTEND: "extend expiries",
    Act.EXPIRY_IMPORT: "import expiries", Act.CUSTOMER_VIEW: "see customers",
    Act.CUSTOMER_CREATE: "create customers", Act.CUSTOMER_EDIT: "edit customers",
    Act.CUSTOMER_STATUS: "suspend or reactivate customers", Act.CUSTOMER_DELETE: "delete customers",
    Act.CUSTOMER_IMPORT: "import customers", Act.VOUCHER_VIEW: "see vouchers",
    Act.VOUCHER_BATCH_CREATE: "print voucher batches", Act.VOUCHER_ASSIGN: "hand out vouchers",
    Act.VOUCHER_SELL: "sell vouchers", Act.VOUCHER_VOID: "void vouchers", Act.NODE_VIEW: "see resellers",
    Act.NODE_CREATE: "create resellers", Act.NODE_EDIT: "edit resellers",
    Act.NODE_BILLING_SET: "change billing settings of resellers", Act.NODE_STATUS: "suspend resellers",
    Act.NODE_MOVE: "move resellers", Act.LOGIN_VIEW: "see logins", Act.LOGIN_CREATE: "create logins",
    Act.PACKAGE_VIEW: "see packages", Act.PACKAGE_EDIT: "edit master packages",
    Act.PACKAGE_ASSIGN: "assign packages", Act.NAS_VIEW: "see NASes", Act.NAS_REGISTER: "register NASes",
    Act.ROUTER_VIEW: "see routers", Act.ROUTER_REGISTER: "register routers",
    Act.ROUTER_OPERATE: "run router jobs", Act.ROUTER_IMPORT: "import from routers",
    Act.SESSIONS_VIEW: "see sessions", Act.SESSION_DISCONNECT: "disconnect sessions",
    Act.FINANCE_VIEW: "see the books", Act.AUDIT_VIEW: "see the audit log", Act.DATA_EXPORT: "export data",
}


def table_markdown() -> str:
    """The role x action table as Markdown (README's "Authority" section is this text; a test keeps
    them equal): ✓ at any node of the scope, "ISP" only for logins of the ISP's own node, "grant" only
    with an explicit django-guardian grant."""
    roles = list(STAFF_ROLES)
    head = "| action | " + " | ".join(Role(r).label for r in roles) + " |"
    lines = [head, "|" + "---|" * (len(roles) + 1)]
    for act in Act:
        cells = []
        for role in roles:
            if act in ANYWHERE.get(role, frozenset()):
                cells.append("✓")
            elif act in AT_ISP.get(role, frozenset()):
                cells.append("ISP")
            elif act in GRANTABLE_NETWORK and role in NETWORK_GRANTEES:
                cells.append("grant")
            else:
                cells.append("")
        lines.append(f"| {ACT_LABELS[act]} (`{act.value}`) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
