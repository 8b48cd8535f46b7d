"""Writes on packages: master packages (the ISP's) and their assignment down the tree with a price at
each level, never below the parent's cost."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Min

from hierarchy import authority
from hierarchy.audit import Actor, AuditAction, audit_record, diff, snapshot
from hierarchy.authority import Act
from hierarchy.models import Operator, Package, PackageAssignment
from hierarchy.selectors import package_cost_for

PACKAGE_FIELDS = [
    "name", "type", "download_kbps", "upload_kbps", "burst_download_kbps", "burst_upload_kbps",
    "burst_threshold_download_kbps", "burst_threshold_upload_kbps", "burst_time_seconds", "quota_mb",
    "quota_action", "quota_throttle_download_kbps", "quota_throttle_upload_kbps", "validity_days",
    "validity_hours", "price", "tax_class", "visible", "retired",
]


def _money(value: Any, field: str = "price") -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: "Enter an amount like 12.50."}) from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError({field: "Enter a non-negative amount with at most 2 decimals."})
    return amount


def _authorize_master(actor: Actor) -> None:
    """Master packages are the ISP's: edited only by logins whose scope is the whole ISP."""
    authority.authorize(actor, Act.PACKAGE_EDIT, node=Operator.objects.get(depth=0))


def _save(package: Package) -> None:
    package.full_clean()
    try:
        with transaction.atomic():
            package.save()
    except IntegrityError as exc:
        raise ValidationError({"name": "A package with this name already exists."}) from exc


def package_create(*, actor: Actor, **fields: Any) -> Package:
    _authorize_master(actor)
    unknown = set(fields) - set(PACKAGE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown package field." for name in sorted(unknown)})
    fields["price"] = _money(fields.get("price"))
    package = Package(**fields)
    with transaction.atomic():
        _save(package)
        audit_record(actor=actor, obj=package, object_type="package", action=AuditAction.CREATE,
                     changes={k: [None, v] for k, v in snapshot(package, PACKAGE_FIELDS).items()})
    return package


def package_update(*, package: Package, actor: Actor, **fields: Any) -> Package:
    _authorize_master(actor)
    unknown = set(fields) - set(PACKAGE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown package field." for name in sorted(unknown)})
    with transaction.atomic():
        package = Package.objects.select_for_update().get(pk=package.pk)
        before = snapshot(package, PACKAGE_FIELDS)
        if "price" in fields:
            fields["price"] = _money(fields["price"])
            cheapest = package.assignments.filter(operator__depth=1).aggregate(p=Min("price"))["p"]
            if cheapest is not None and fields["price"] > cheapest:
                raise ValidationError({"price": f"A reseller sells this package at {cheapest}; the master "
                                                "price cannot go above it."})
        for name, value in fields.items():
            setattr(package, name, value)
        _save(package)
        changes = diff(before, snapshot(package, PACKAGE_FIELDS))
        if changes:
            audit_record(actor=actor, obj=package, object_type="package", action=AuditAction.UPDATE,
                         changes=changes)
    return package


def package_retire(*, package: Package, actor: Actor) -> Package:
    """No new sales; existing customers keep it."""
    return package_update(package=package, actor=actor, retired=True)


def package_delete(*, package: Package, actor: Actor) -> None:
    _authorize_master(actor)
    with transaction.atomic():
        package = Package.objects.select_for_update().get(pk=package.pk)
        in_use = package.subscribers.count()
        if in_use:
            raise ValidationError({"package": f"This package is in use by {in_use} customer(s) and cannot be "
                                              "deleted; retire it instead (no new sales)."})
        audit_record(actor=actor, obj=package, object_type="package", action=AuditAction.DELETE,
                     changes={k: [v, None] for k, v in snapshot(package, PACKAGE_FIELDS).items()})
        package.assignments.all().delete()
        package.delete()


def package_assign(*, package: Package, operator: Operator, price: Any, actor: Actor) -> PackageAssignment:
    """Offer `package` at `operator` for `price` (create or re-price): at a node strictly below the
    actor's, or re-pricing the actor's own offer. The price is never below the node's cost (its parent's
    price: the master price for a reseller, the reseller's price for its sub-reseller) nor above what the
    node's own children already sell it for."""
    own = authority.user_node(user=getattr(actor, "user", actor))
    repricing_own = own is not None and own.pk == operator.pk and \
        PackageAssignment.objects.filter(package=package, operator=operator).exists()
    authority.authorize(actor, Act.PACKAGE_ASSIGN, node=operator, below=not repricing_own)
    amount = _money(price)
    if operator.is_root:
        raise ValidationError({"operator": "The ISP sells at the master price; assign to a reseller."})
    if package.retired:
        raise ValidationError({"package": "This package is retired and cannot be assigned."})
    with transaction.atomic():
        Operator.objects.select_for_update().filter(pk=operator.pk).first()
        cost = package_cost_for(package=package, operator=operator)
        if cost is None:
            raise ValidationError({"operator": f"{operator.parent} does not offer {package.name}; "
                                               "assign it to the parent first."})
        if amount < cost:
            raise ValidationError({"price": f"{operator.name} cannot sell {package.name} below its cost of "
                                            f"{cost} (its parent's price)."})
        below = PackageAssignment.objects.filter(package=package, operator__parent=operator)
        cheapest_child = below.aggregate(p=Min("price"))["p"]
        if cheapest_child is not None and amount > cheapest_child:
            raise ValidationError({"price": f"A sub-reseller of {operator.name} sells {package.name} at "
                                            f"{cheapest_child}; the price cannot go above it."})
        existing = PackageAssignment.objects.filter(package=package, operator=operator).first()
        if existing is None:
            row = PackageAssignment.objects.create(package=package, operator=operator, price=amount)
            audit_record(actor=actor, obj=package, object_type="package", action=AuditAction.UPDATE,
                         changes={"assigned": [None, {"operator": operator.pk, "price": str(amount)}]})
            return row
        before = existing.price
        existing.price, existing.active = amount, True
        existing.save(update_fields=["price", "active"])
        audit_record(actor=actor, obj=package, object_type="package", action=AuditAction.UPDATE,
                     changes={"assignment_price": [{"operator": operator.pk, "price": str(before)},
                                                   {"operator": operator.pk, "price": str(amount)}]})
        return existing


def assignment_delete(*, assignment: PackageAssignment, actor: Actor) -> None:
    """Withdraw a package from a node below the actor's (and from its subtree); refused while its
    customers use it."""
    from hierarchy.models import Subscriber

    node = assignment.operator
    authority.authorize(actor, Act.PACKAGE_ASSIGN, node=node, below=True)
    subtree_assignments = PackageAssignment.objects.filter(package=assignment.package,
                                                           operator__path__startswith=node.path)
    if Subscriber.objects.filter(package=assignment.package, owner__path__startswith=node.path).exists():
        raise ValidationError({"package": f"Customers under {node.name} use {assignment.package.name}; "
                                          "move them to another package first."})
    with transaction.atomic():
        audit_record(actor=actor, obj=assignment.package, object_type="package", action=AuditAction.UPDATE,
                     changes={"assigned": [{"operator": node.pk, "price": str(assignment.price)}, None]})
        subtree_assignments.delete()
