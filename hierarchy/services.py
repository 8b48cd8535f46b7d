"""Writes on the role tree."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection

from hierarchy.models import BillingMode, NodeKind, Operator
from tenants.db import schema_current
from tenants.models import Tenant


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


def operator_create(
    *,
    parent: Operator,
    name: str,
    billing_mode: str = BillingMode.POSTPAID,
    share_percent: Decimal = Decimal("0"),
    kind: str | None = None,
    **details: str,
) -> Operator:
    """A reseller under the ISP, or a sub-reseller under a reseller (up to the ISP's depth limit)."""
    depth = parent.depth + 1
    if depth > _max_depth():
        raise ValidationError({"parent": f"This ISP allows at most {_max_depth()} reseller levels."})
    expected = NodeKind.RESELLER if depth == 1 else NodeKind.SUB_RESELLER
    if kind is not None and kind != expected:
        raise ValidationError({"role": f"A node under {parent.name} is a {expected.label.lower()}."})
    if billing_mode not in BillingMode.values:
        raise ValidationError({"billing_mode": "Choose prepaid or postpaid."})
    if not Decimal("0") <= Decimal(share_percent) <= Decimal("100"):
        raise ValidationError({"share_percent": "The share is a percent between 0 and 100."})
    node = Operator(
        parent=parent, depth=depth, kind=expected, name=name, billing_mode=billing_mode,
        share_percent=share_percent, **details,
    )
    node.full_clean(exclude=["path", "depth"])
    node.pk = _next_operator_id()
    node.path = f"{parent.path}{node.pk}/"
    node.save(force_insert=True)
    return node
