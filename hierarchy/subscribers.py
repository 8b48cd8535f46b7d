"""Writes on subscribers (the ISP's customers).

Each write takes the acting login (``actor``, required) and checks hierarchy.authority on the customer's
owner node before anything is written. A customer's paid-until (``expires_at``) is service sold: it is
never typed in here. A new customer starts expired (now) until a recharge, payment or voucher sells it
time; the only other way is an ISP admin's audited ``subscriber_expiry_extend`` with a reason.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation
from ipaddress import AddressValueError, IPv4Address
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hierarchy import authority
from hierarchy.audit import Actor, AuditAction, audit_record, diff, snapshot
from hierarchy.authority import Act
from hierarchy.events import SubscriberChange, subscriber_changed
from hierarchy.models import (
    USERNAME_VALIDATOR,
    ConnectionType,
    CustomFieldDefinition,
    CustomFieldType,
    Operator,
    Package,
    Subscriber,
    SubscriberStatus,
)
from hierarchy.selectors import operator_ancestors_suspended, package_cost_for, packages_offered_by

AUDITED = ["username", "connection_type", "mac_address", "ip_address", "package", "owner", "status",
           "expires_at", "billing_day", "special_price", "full_name", "mobile", "email", "address", "zone",
           "custom_fields"]
EDITABLE = {"password", "connection_type", "mac_address", "ip_address", "package", "owner", "billing_day",
            "special_price", "full_name", "mobile", "email", "address", "zone", "custom_fields"}
EXPIRY_SOLD = ("expires_at is changed by payments, recharges and vouchers (or an ISP admin's audited extend), "
               "never set by hand.")
_MAC = re.compile(r"^[0-9A-F]{12}$")


def mac_normalize(value: str | None) -> str | None:
    """Any common MAC spelling (aa-bb-.., aabb.ccdd.eeff, AABBCCDDEEFF) → AA:BB:CC:DD:EE:FF."""
    if value is None or not str(value).strip():
        return None
    digits = re.sub(r"[\s:.\-]", "", str(value)).upper()
    if not _MAC.match(digits):
        raise ValidationError({"mac_address": f"{value!r} is not a MAC address (AA:BB:CC:DD:EE:FF)."})
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def ip_normalize(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    try:
        return str(IPv4Address(str(value).strip()))
    except AddressValueError:
        raise ValidationError({"ip_address": f"{value!r} is not an IPv4 address."}) from None


def custom_fields_clean(values: dict[str, Any] | None,
                        definitions: list[CustomFieldDefinition] | None = None) -> dict[str, Any]:
    """Check values against this ISP's CustomFieldDefinitions (types, choices, required)."""
    values = dict(values or {})
    defs = {d.key: d for d in (definitions if definitions is not None else CustomFieldDefinition.objects.all())}
    errors: list[str] = []
    clean: dict[str, Any] = {}
    for key in values:
        if key not in defs:
            errors.append(f"{key}: no such custom field.")
    for key, definition in defs.items():
        raw = values.get(key)
        if raw is None or raw == "":
            if definition.required:
                errors.append(f"{key}: required.")
            continue
        if definition.type == CustomFieldType.NUMBER:
            try:
                clean[key] = str(Decimal(str(raw)))
            except InvalidOperation:
                errors.append(f"{key}: must be a number.")
        elif definition.type == CustomFieldType.DATE:
            try:
                clean[key] = datetime.date.fromisoformat(str(raw)).isoformat()
            except ValueError:
                errors.append(f"{key}: must be a date (YYYY-MM-DD).")
        elif definition.type == CustomFieldType.CHOICE:
            if str(raw) not in [str(c) for c in definition.choices]:
                errors.append(f"{key}: choose one of {', '.join(map(str, definition.choices))}.")
            clean[key] = str(raw)
        else:
            clean[key] = str(raw)[:500]
    if errors:
        raise ValidationError({"custom_fields": errors})
    return clean


def subscriber_check_sale(*, package: Package, owner: Operator) -> None:
    if not packages_offered_by(operator=owner).filter(pk=package.pk).exists():
        reason = "is retired" if package.retired else f"is not offered by {owner.name}"
        raise ValidationError({"package": f"{package.name} {reason}."})


def _check_special_price(actor: Actor, price: Any, package: Package, owner: Operator) -> Decimal | None:
    if price is None or price == "":
        return None
    # A customer's own price is pricing down the tree: whoever assigns packages at prices.
    if not authority.allowed(actor, Act.PACKAGE_ASSIGN):
        raise PermissionDenied("Your role may not set a special price.")
    try:
        amount = Decimal(str(price))
    except InvalidOperation:
        raise ValidationError({"special_price": "Enter an amount like 12.50."}) from None
    cost = Decimal("0") if owner.is_root else package_cost_for(package=package, operator=owner)
    if amount < 0 or (cost is not None and amount < cost):
        raise ValidationError({"special_price": f"The special price cannot go below {owner.name}'s cost ({cost})."})
    return amount


def _connection_check(subscriber: Subscriber) -> None:
    if subscriber.connection_type not in ConnectionType.values:
        raise ValidationError({"connection_type": "Choose pppoe, hotspot or static."})
    if subscriber.connection_type == ConnectionType.STATIC and not subscriber.ip_address:
        raise ValidationError({"ip_address": "A static-IP customer needs an IP address."})
    if subscriber.connection_type == ConnectionType.HOTSPOT and not subscriber.mac_address:
        raise ValidationError({"mac_address": "A hotspot customer is identified by its MAC address."})


def _uniqueness_check(subscriber: Subscriber) -> None:
    others = Subscriber.objects.exclude(pk=subscriber.pk)
    if others.filter(username=subscriber.username).exists():
        raise ValidationError({"username": f"The username {subscriber.username!r} is already taken in this ISP."})
    if subscriber.ip_address and others.filter(ip_address=subscriber.ip_address).exists():
        raise ValidationError({"ip_address": f"{subscriber.ip_address} is already assigned to another customer."})
    if subscriber.mac_address and others.filter(mac_address__iexact=subscriber.mac_address).exists():
        raise ValidationError({"mac_address": f"{subscriber.mac_address} is already bound to another customer."})


def _save(subscriber: Subscriber) -> None:
    _connection_check(subscriber)
    _uniqueness_check(subscriber)
    subscriber.full_clean(exclude=["package", "owner", "user", "suspended_by", "custom_fields"])
    try:
        with transaction.atomic():
            subscriber.save()
    except IntegrityError as exc:  # a concurrent insert won the race; the constraint holds
        raise ValidationError({"username": "This username, IP or MAC address is already taken."}) from exc


def subscriber_create(
    *, username: str, password: str, package: Package, owner: Operator, actor: Actor,
    connection_type: str = ConnectionType.PPPOE, mac_address: str | None = None, ip_address: str | None = None,
    special_price: Any = None, custom_fields: dict[str, Any] | None = None, **details: Any,
) -> Subscriber:
    """A new customer of ``owner``, expired until its first period is sold (ledger's activation or a
    recharge)."""
    authority.authorize(actor, Act.CUSTOMER_CREATE, node=owner)
    if "expires_at" in details:
        raise ValidationError({"expires_at": EXPIRY_SOLD})
    try:
        USERNAME_VALIDATOR(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    subscriber_check_sale(package=package, owner=owner)
    subscriber = Subscriber(
        username=username, password=password, package=package, owner=owner, connection_type=connection_type,
        mac_address=mac_normalize(mac_address), ip_address=ip_normalize(ip_address),
        special_price=_check_special_price(actor, special_price, package, owner),
        custom_fields=custom_fields_clean(custom_fields), expires_at=timezone.now(), **details,
    )
    with transaction.atomic():
        _save(subscriber)
        audit_record(actor=actor, obj=subscriber, object_type="customer", action=AuditAction.CREATE,
                     changes={k: [None, v] for k, v in snapshot(subscriber, AUDITED).items()})
    return subscriber


def _authorize_update(actor: Actor, subscriber: Subscriber, fields: dict[str, Any]) -> None:
    """A package change is Act.PACKAGE_CHANGE (also the customer's own self-care, e.g. a voucher of another
    package it redeems); anything else is Act.CUSTOMER_EDIT. A new owner must be in scope too."""
    if "package" in fields:
        acting = actor.user if isinstance(actor, Actor) else actor
        own = acting is not None and subscriber.user_id is not None and acting.pk == subscriber.user_id
        if not own:
            authority.authorize(actor, Act.PACKAGE_CHANGE, node=subscriber.owner)
    if set(fields) - {"package"}:
        authority.authorize(actor, Act.CUSTOMER_EDIT, node=subscriber.owner)
    if "owner" in fields:
        authority.authorize(actor, Act.CUSTOMER_EDIT, node=fields["owner"])


def subscriber_update(*, subscriber: Subscriber, actor: Actor, **fields: Any) -> Subscriber:
    if "expires_at" in fields:
        raise ValidationError({"expires_at": EXPIRY_SOLD})
    unknown = set(fields) - EDITABLE
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    _authorize_update(actor, subscriber, fields)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        before = snapshot(subscriber, AUDITED)
        package = fields.get("package", subscriber.package)
        owner = fields.get("owner", subscriber.owner)
        if "package" in fields or "owner" in fields:
            subscriber_check_sale(package=package, owner=owner)
        if "mac_address" in fields:
            fields["mac_address"] = mac_normalize(fields["mac_address"])
        if "ip_address" in fields:
            fields["ip_address"] = ip_normalize(fields["ip_address"])
        if "custom_fields" in fields:
            fields["custom_fields"] = custom_fields_clean(fields["custom_fields"])
        if "special_price" in fields:
            fields["special_price"] = _check_special_price(actor, fields["special_price"], package, owner)
        for name, value in fields.items():
            setattr(subscriber, name, value)
        _save(subscriber)
        changes = diff(before, snapshot(subscriber, AUDITED))
        if "password" in fields:
            changes["password"] = ["***", "***"]  # that it changed, never the value
        if changes:
            audit_record(actor=actor, obj=subscriber, object_type="customer", action=AuditAction.UPDATE,
                         changes=changes)
        if "package" in changes:
            # The new rate reaches a live session by CoA (after commit).
            subscriber_changed(subscriber=subscriber, change=SubscriberChange.RATE)
    return subscriber


_TRANSITIONS = {
    SubscriberStatus.SUSPENDED: {SubscriberStatus.ACTIVE, SubscriberStatus.EXPIRED},
    SubscriberStatus.ACTIVE: {SubscriberStatus.SUSPENDED, SubscriberStatus.DISABLED},
    SubscriberStatus.DISABLED: {SubscriberStatus.ACTIVE, SubscriberStatus.EXPIRED, SubscriberStatus.SUSPENDED},
}


def subscriber_status_set(*, subscriber: Subscriber, status: str, actor: Actor) -> Subscriber:
    """suspend (active/expired → suspended), reactivate (suspended/disabled → active), disable."""
    authority.authorize(actor, Act.CUSTOMER_STATUS, node=subscriber.owner)
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        allowed_from = _TRANSITIONS.get(SubscriberStatus(status), set())
        if subscriber.status not in allowed_from:
            raise ValidationError({"status": f"A {subscriber.status} customer cannot become {status}."})
        if status == SubscriberStatus.ACTIVE and operator_ancestors_suspended(operator=subscriber.owner):
            raise ValidationError({"status": f"{subscriber.owner.name} (or a node above it) is suspended; "
                                             "reactivate it first."})
        before = subscriber.status
        subscriber.status = status
        subscriber.suspended_by = None
        subscriber.save(update_fields=["status", "suspended_by", "updated"])
        audit_record(actor=actor, obj=subscriber, object_type="customer", action=AuditAction.STATUS,
                     changes={"status": [before, status]})
        if status != SubscriberStatus.ACTIVE:
            # RADIUS now refuses the customer; drop the live session too (Disconnect-Request after commit).
            subscriber_changed(subscriber=subscriber, change=SubscriberChange.ACCESS_LOST)
    return subscriber


def subscriber_suspend(*, subscriber: Subscriber, actor: Actor) -> Subscriber:
    return subscriber_status_set(subscriber=subscriber, status=SubscriberStatus.SUSPENDED, actor=actor)


def subscriber_reactivate(*, subscriber: Subscriber, actor: Actor) -> Subscriber:
    return subscriber_status_set(subscriber=subscriber, status=SubscriberStatus.ACTIVE, actor=actor)


def subscriber_disable(*, subscriber: Subscriber, actor: Actor) -> Subscriber:
    return subscriber_status_set(subscriber=subscriber, status=SubscriberStatus.DISABLED, actor=actor)


def subscriber_expiry_extend(*, subscriber: Subscriber, until: datetime.datetime, reason: str,
                             actor: Actor) -> Subscriber:
    """Service time given without a sale: an ISP admin's explicit decision (Act.EXPIRY_EXTEND), with a
    reason, audited. Only forward; an expired customer becomes active again."""
    authority.authorize(actor, Act.EXPIRY_EXTEND, node=subscriber.owner)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this customer gets service time without paying for it."})
    if timezone.is_naive(until):
        raise ValidationError({"until": "Give a date-time with its time zone."})
    with transaction.atomic():
        subscriber = Subscriber.objects.select_for_update().get(pk=subscriber.pk)
        current = subscriber.expires_at
        if until <= timezone.now() or (current is not None and until <= current):
            raise ValidationError({"until": "An extension moves the paid-until date forward (later than now "
                                            "and than the current one)."})
        before = snapshot(subscriber, ["expires_at", "status"])
        subscriber.expires_at = until
        if subscriber.status == SubscriberStatus.EXPIRED:
            subscriber.status = SubscriberStatus.ACTIVE
        subscriber.save(update_fields=["expires_at", "status", "updated"])
        changes = diff(before, snapshot(subscriber, ["expires_at", "status"]))
        changes["reason"] = [None, reason]
        audit_record(actor=actor, obj=subscriber, object_type="customer", action=AuditAction.UPDATE,
                     changes=changes)
    return subscriber


def subscriber_delete(*, subscriber: Subscriber, actor: Actor) -> None:
    authority.authorize(actor, Act.CUSTOMER_DELETE, node=subscriber.owner)
    with transaction.atomic():
        audit_record(actor=actor, obj=subscriber, object_type="customer", action=AuditAction.DELETE,
                     changes={k: [v, None] for k, v in snapshot(subscriber, AUDITED).items()})
        subscriber.delete()


