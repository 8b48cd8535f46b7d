"""What every role-tree API view shares: role checks from hierarchy.permissions, the actor of a request,
and looking up referenced nodes inside the caller's scope."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from rest_framework import viewsets
from rest_framework.request import Request

from hierarchy.audit import Actor
from hierarchy.permissions import Action, Kind, require

STANDARD_ACTIONS = {"list": Action.LIST, "retrieve": Action.READ, "create": Action.CREATE,
                    "update": Action.UPDATE, "partial_update": Action.UPDATE, "destroy": Action.DELETE}


def actor_of(request: Request) -> Actor:
    return Actor(user=request.user, ip=request.META.get("REMOTE_ADDR") or None)


def in_scope_or_error(queryset: QuerySet[Any], pk: int, field: str, what: str) -> Any:
    """A referenced object the caller may see; outside its scope it simply does not exist (400)."""
    obj = queryset.filter(pk=pk).first()
    if obj is None:
        raise ValidationError({field: f"No {what} with id {pk} in your part of the tree."})
    return obj


class ScopedViewSet(viewsets.GenericViewSet):
    """Checks the caller's role may do this action on this kind before anything else runs; the
    queryset (a scoped selector) then hides whatever lies outside the caller's scope (404)."""

    kind: Kind
    lookup_value_converter = "int"  # ids are integers (and typed so in the OpenAPI schema)
    extra_actions: dict[str, tuple[Kind | None, Action]] = {}

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action in STANDARD_ACTIONS:
            require(request.user, self.kind, STANDARD_ACTIONS[self.action])
        elif self.action in self.extra_actions:
            kind, action = self.extra_actions[self.action]
            require(request.user, kind or self.kind, action)

    def actor(self) -> Actor:
        return actor_of(self.request)

