"""What the billing and voucher services share when they check and record who acted: the acting login as
an ``Actor`` (for the audit trail), its user id, a required reason, and the tenant's bounds on what staff
may give away (``BillingSettings``). Who may act is ``hierarchy.authority``'s table, never a list here."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from hierarchy.audit import SYSTEM, Actor


def as_actor(actor: Any) -> Actor:
    """An ``Actor`` for audit rows from a login, an ``Actor`` or None / SYSTEM (the platform)."""
    if actor is None:
        return SYSTEM
    if isinstance(actor, Actor):
        return actor
    return Actor(user=actor)


def actor_id(actor: Any) -> int | None:
    user = as_actor(actor).user
    return int(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None


def reason_required(reason: str | None) -> str:
    """The stripped reason, or a 400 naming the field: every give-away says why."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise ValidationError({"reason": "Say why (a reason is required and recorded in the audit trail)."})
    return cleaned[:200]


def percent_within(value: Decimal, bound: Decimal, *, field: str, what: str) -> None:
    if Decimal(value) > Decimal(bound):
        raise ValidationError({field: f"{what} is at most {bound} % in this ISP's billing settings."})
