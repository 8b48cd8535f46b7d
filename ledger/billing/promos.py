"""Promo codes: percent or fixed off the customer's next period invoice.

Redeeming claims a use atomically: one UPDATE increments ``times_used`` only while the code is active,
inside its window and under its limit (and the CHECK ``promo_within_usage_limit`` is the backstop); the
UNIQUE (promo, customer) refuses a second use by the same customer. Both happen in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from hierarchy import authority
from hierarchy.audit import AuditAction, audit_record, diff, snapshot
from hierarchy.authority import Act
from hierarchy.models import Subscriber
from ledger.billing.amounts import Promo
from ledger.billing.bounds import as_actor, percent_within, reason_required
from ledger.billing.documents import billing_settings
from ledger.billing.models import PromoCode, PromoKind, PromoRedemption

PROMO_FIELDS = ["code", "kind", "percent", "amount", "valid_from", "valid_until", "usage_limit", "active"]


def promo_code_normalize(code: str) -> str:
    code = (code or "").strip().upper()
    if not code or len(code) > 40 or not all(ch.isalnum() or ch in "-_" for ch in code):
        raise ValidationError({"code": "Use 1-40 letters, digits, - or _."})
    return code


def promo_code_create(*, code: str, kind: str, reason: str, actor: Any, percent: Any = None,
                      amount: int | None = None, valid_from: datetime | None = None,
                      valid_until: datetime | None = None, usage_limit: int | None = None,
                      active: bool = True) -> PromoCode:
    """A promo code grants discounts: ``Act.DISCOUNT_SET`` (the ISP's admin or accountant), with a reason;
    a percent code at most the ISP's ``max_discount_percent``. Audited in the same transaction."""
    authority.authorize(actor, Act.DISCOUNT_SET)
    why = reason_required(reason)
    code = promo_code_normalize(code)
    if kind not in PromoKind.values:
        raise ValidationError({"kind": "Choose percent or fixed."})
    if kind == PromoKind.PERCENT and (percent is None or not 0 < percent <= 100):
        raise ValidationError({"percent": "A percent promo needs a percent above 0, at most 100."})
    if kind == PromoKind.PERCENT:
        percent_within(percent, billing_settings().max_discount_percent, field="percent", what="A promo discount")
    if kind == PromoKind.FIXED and (amount is None or amount <= 0):
        raise ValidationError({"amount": "A fixed promo needs a positive amount."})
    if valid_from and valid_until and valid_until <= valid_from:
        raise ValidationError({"valid_until": "The end of the window must come after its start."})
    if PromoCode.objects.filter(code=code).exists():
        raise ValidationError({"code": f"{code} already exists."})
    try:
        with transaction.atomic():
            promo = PromoCode.objects.create(
                code=code, kind=kind, percent=percent if kind == PromoKind.PERCENT else None,
                amount=amount if kind == PromoKind.FIXED else None, valid_from=valid_from, valid_until=valid_until,
                usage_limit=usage_limit, active=active)
            audit_record(actor=as_actor(actor), obj=promo, object_type="promo_code", action=AuditAction.CREATE,
                         changes={**diff({}, snapshot(promo, PROMO_FIELDS)), "reason": why})
            return promo
    except IntegrityError as exc:
        raise ValidationError({"code": f"{code} already exists."}) from exc


def promo_code_update(*, promo: PromoCode, reason: str, actor: Any, **fields: Any) -> PromoCode:
    """Change a code's window, limit or state (``Act.DISCOUNT_SET``, with a reason; audited)."""
    authority.authorize(actor, Act.DISCOUNT_SET)
    why = reason_required(reason)
    allowed = {"valid_from", "valid_until", "usage_limit", "active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationError({name: "This field cannot be changed (create a new code)." for name in sorted(unknown)})
    before = snapshot(promo, PROMO_FIELDS)
    for name, value in fields.items():
        setattr(promo, name, value)
    if promo.usage_limit is not None and promo.usage_limit < promo.times_used:
        raise ValidationError({"usage_limit": f"The code was already used {promo.times_used} times."})
    if promo.valid_from and promo.valid_until and promo.valid_until <= promo.valid_from:
        raise ValidationError({"valid_until": "The end of the window must come after its start."})
    with transaction.atomic():
        promo.save()
        audit_record(actor=as_actor(actor), obj=promo, object_type="promo_code", action=AuditAction.UPDATE,
                     changes={**diff(before, snapshot(promo, PROMO_FIELDS)), "reason": why})
    return promo


def promo_code_delete(*, promo: PromoCode, actor: Any) -> None:
    """Delete a code nobody used (``Act.DISCOUNT_SET``); a used one is deactivated instead."""
    authority.authorize(actor, Act.DISCOUNT_SET)
    with transaction.atomic():
        if PromoRedemption.objects.filter(promo=promo).exists():
            raise ValidationError({"code": "This code was used; deactivate it instead."})
        audit_record(actor=as_actor(actor), obj=promo, object_type="promo_code", action=AuditAction.DELETE,
                     changes={name: [value, None] for name, value in snapshot(promo, PROMO_FIELDS).items()})
        promo.delete()


def promo_redeem(*, code: str, customer: Subscriber) -> PromoRedemption:
    """Claim one use of ``code`` for ``customer``; its next period invoice gets the discount."""
    code = promo_code_normalize(code)
    now = timezone.now()
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE billing_promocode SET times_used = times_used + 1 WHERE code = %s AND active"
                    " AND (valid_from IS NULL OR valid_from <= %s) AND (valid_until IS NULL OR valid_until > %s)"
                    " AND (usage_limit IS NULL OR times_used < usage_limit) RETURNING id",
                    [code, now, now],
                )
                row = cursor.fetchone()
            if row is None:
                raise ValidationError({"code": f"{code} is unknown, expired, inactive or used up."})
            return PromoRedemption.objects.create(promo_id=row[0], customer=customer)
    except IntegrityError as exc:
        raise ValidationError({"code": f"{customer.username} already used {code}."}) from exc


def promo_pending(*, customer_id: int) -> tuple[PromoRedemption, Promo] | None:
    """The customer's oldest redeemed promo not yet on an invoice (locked for this transaction)."""
    redemption = (PromoRedemption.objects.select_for_update().select_related("promo")
                  .filter(customer_id=customer_id, invoice__isnull=True).order_by("id").first())
    if redemption is None:
        return None
    promo = redemption.promo
    return redemption, Promo(percent=promo.percent, amount=promo.amount)
