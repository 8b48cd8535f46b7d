"""Audit trail of the role tree: who changed which operator, package or subscriber, when, from where and
what changed. Written by the services in the same transaction as the change itself."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models


@dataclass(frozen=True)
class Actor:
    """Who is acting and from which address (None for the system: imports, scheduled jobs)."""

    user: Any = None
    ip: str | None = None

    @property
    def email(self) -> str:
        return str(getattr(self.user, "email", "") or "system")


SYSTEM = Actor()


class AuditAction(models.TextChoices):
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    STATUS = "status", "Status changed"
    MOVE = "move", "Moved"


class AuditEvent(models.Model):
    """One change to one object. Append-only: the services never update or delete these rows."""

    object_type = models.CharField(max_length=20)
    object_id = models.BigIntegerField()
    object_repr = models.CharField(max_length=150)
    action = models.CharField(max_length=10, choices=AuditAction.choices)
    changes = models.JSONField(default=dict, help_text='{"field": [old, new]}')
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_email = models.CharField(max_length=254)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id", "-at"], name="audit_object")]

    def __str__(self) -> str:
        return f"{self.actor_email} {self.action} {self.object_type} {self.object_id}"


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, (bool, int, float, str, list, dict)):
        return value
    return str(value)


def snapshot(obj: models.Model, fields: list[str]) -> dict[str, Any]:
    """The audited fields of an object, JSON-ready (foreign keys as ids)."""
    return {name: _plain(getattr(obj, name)) for name in fields}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def audit_record(*, actor: Actor, obj: models.Model, object_type: str, action: str,
                 changes: dict[str, Any] | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        object_type=object_type, object_id=obj.pk, object_repr=str(obj)[:150], action=action,
        changes=changes or {}, actor=actor.user if getattr(actor.user, "pk", None) else None,
        actor_email=actor.email, ip_address=actor.ip or None,
    )


def audit_events_for(*, object_type: str, object_id: int) -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id=object_id)
