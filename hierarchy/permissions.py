"""Role → allowed actions, in one place. *Where* a user may act (its scope) is decided by the selectors
(the user's node subtree plus django-guardian grants); this module decides *what* each role may do there.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rest_framework.exceptions import PermissionDenied

from accounts.models import Role


class Kind(StrEnum):
    OPERATOR = "operator"
    USER = "user"
    PACKAGE = "package"
    ASSIGNMENT = "assignment"
    CUSTOMER = "customer"
    IMPORT = "import"


class Action(StrEnum):
    LIST = "list"
    READ = "read"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


READ = frozenset({Action.LIST, Action.READ})
WRITE = frozenset({Action.CREATE, Action.UPDATE, Action.DELETE})
ALL = READ | WRITE
NONE: frozenset[Action] = frozenset()

_RESELLER = {
    Kind.OPERATOR: ALL, Kind.USER: ALL, Kind.PACKAGE: READ, Kind.ASSIGNMENT: ALL, Kind.CUSTOMER: ALL,
    Kind.IMPORT: ALL,
}

MATRIX: dict[str, dict[Kind, frozenset[Action]]] = {
    Role.ADMIN: dict.fromkeys(Kind, ALL),
    Role.RESELLER: _RESELLER,
    Role.SUB_RESELLER: _RESELLER,
    # Everything in scope except money: prices (assignments) and operators' billing settings.
    Role.MANAGER: {**_RESELLER, Kind.ASSIGNMENT: READ},
    # Money in scope: prices down the tree; everything else read-only.
    Role.ACCOUNTANT: {Kind.OPERATOR: READ, Kind.USER: READ, Kind.PACKAGE: READ, Kind.ASSIGNMENT: ALL,
                      Kind.CUSTOMER: READ, Kind.IMPORT: NONE},
    # Customers read-only (and tickets, later).
    Role.SUPPORT: {Kind.OPERATOR: READ, Kind.USER: NONE, Kind.PACKAGE: READ, Kind.ASSIGNMENT: NONE,
                   Kind.CUSTOMER: READ, Kind.IMPORT: NONE},
    # Sells vouchers for the packages its node offers.
    Role.CARD_DISTRIBUTOR: {Kind.PACKAGE: READ},
    # A customer sees only itself.
    Role.CUSTOMER: {Kind.CUSTOMER: READ},
}

# Roles that may change money settings (billing mode, commission share) of operators.
MONEY_ROLES = frozenset({Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.ACCOUNTANT})
# Which roles a user of each role may hand out (never above its own).
GRANTABLE: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset({Role.ADMIN, Role.RESELLER, Role.SUB_RESELLER, Role.MANAGER, Role.ACCOUNTANT,
                           Role.SUPPORT, Role.CARD_DISTRIBUTOR}),
    Role.RESELLER: frozenset({Role.SUB_RESELLER, Role.RESELLER, Role.MANAGER, Role.ACCOUNTANT, Role.SUPPORT,
                              Role.CARD_DISTRIBUTOR}),
    Role.MANAGER: frozenset({Role.SUB_RESELLER, Role.RESELLER, Role.SUPPORT, Role.CARD_DISTRIBUTOR}),
}
GRANTABLE[Role.SUB_RESELLER] = GRANTABLE[Role.RESELLER]


def can(user: Any, kind: Kind, action: Action) -> bool:
    """May this user's role do `action` on objects of `kind` (inside its scope)?"""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return action in MATRIX.get(str(user.role), {}).get(kind, NONE)


def can_package_write(user: Any) -> bool:
    """Master packages belong to the ISP: only its admins define them."""
    return can(user, Kind.PACKAGE, Action.CREATE) and user.role == Role.ADMIN


def can_move_subtree(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active and user.role == Role.ADMIN)


def require(user: Any, kind: Kind, action: Action) -> None:
    if not can(user, kind, action):
        raise PermissionDenied(f"Your role may not {action} {kind}s.")
