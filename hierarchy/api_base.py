"""What every role-tree API view shares: each view action is one business operation (an ``Act`` of
hierarchy.authority) checked before anything runs, the actor of a request, and looking up referenced
nodes inside the caller's scope."""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from rest_framework import permissions, viewsets
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.models import Role
from hierarchy import authority
from hierarchy.audit import Actor

# What a customer's login may read through these endpoints: its own rows (authority.restrict cuts them).
SELF_SERVICE = frozenset({authority.Act.CUSTOMER_VIEW})


def holds(act: authority.Act, *, own_rows: bool = False) -> type[permissions.BasePermission]:
    """A DRF permission for reading views (GET/HEAD/OPTIONS): the login's role must hold ``act`` (else 403,
    not an empty list); with ``own_rows`` a customer passes too and the view's ``restrict`` gives it only its
    own rows. Writes are checked by the services themselves."""

    class Holds(permissions.BasePermission):
        message = authority.denial(act)

        def has_permission(self, request: Request, view: APIView) -> bool:
            if request.method not in permissions.SAFE_METHODS:
                return True
            if own_rows and getattr(request.user, "role", None) == Role.CUSTOMER:
                return True
            return authority.allowed(request.user, act)

    Holds.__name__ = f"Holds_{act.value}"
    return Holds


def reading(act: authority.Act, *, own_rows: bool = False) -> list[type[permissions.BasePermission]]:
    """``permission_classes`` of a view that reads what ``act`` covers."""
    return [permissions.IsAuthenticated, holds(act, own_rows=own_rows)]


def owner_node(user: Any, owner_id: int | None, *, act: authority.Act, field: str = "owner") -> Any:
    """The node a new object (a NAS, a router) belongs to: ``owner_id`` if it lies in the login's scope (else
    a 400 on ``field``), the login's own node when none is given. The service then authorizes ``act`` there."""
    from hierarchy.models import Operator

    if owner_id is None:
        node = authority.user_node(user=user)
        if node is None:
            raise PermissionDenied(authority.denial(act))
        return node
    owner = authority.restrict(Operator.objects.all(), user, authority.Act.NODE_VIEW).filter(pk=owner_id).first()
    if owner is None:
        raise ValidationError({field: ["No such node in your part of the tree."]})
    return owner


def actor_of(request: Request) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR") or None)


def in_scope_or_error(queryset: QuerySet[Any], pk: int, field: str, what: str) -> Any:
    """A referenced object the caller may see; outside its scope it simply does not exist (400)."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise ValidationError({field: f"No {what} with id {pk} in your part of the tree."})
    return obj


class ScopedViewSet(viewsets.GenericViewSet):
    """Checks the caller's role may do the view action's business operation (``acts``) before anything
    else runs; the queryset (a scoped selector) then hides whatever lies outside the caller's scope (404).
    The services check the same operation again, on the target node, so no caller can skip it."""

    lookup_value_converter = "int"  # ids are integers (and typed so in the OpenAPI schema)
    # View action ("list", "create", "suspend", ...) -> the business operation it performs.
    acts: ClassVar[dict[str, authority.Act]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action in (None, "metadata"):
            return
        act = self.act()
        if act is None:  # an action nobody mapped is refused, not let through
            raise PermissionDenied("This operation is not available.")
        own_rows = act in SELF_SERVICE and getattr(request.user, "role", None) == Role.CUSTOMER
        if not own_rows and not authority.allowed(request.user, act):
            raise PermissionDenied(authority.denial(act))

    def act(self) -> authority.Act | None:
        action = "update" if self.action == "partial_update" else self.action
        return self.acts.get(action or "")

    def actor(self) -> Actor:
        return actor_of(self.request)
