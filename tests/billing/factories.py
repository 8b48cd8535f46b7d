"""Billing test data inside the active ISP schema."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from hierarchy.models import Operator, Package, PackageAssignment, Subscriber
from ledger.billing.models import BillingProfile, BillingSettings

_seq = itertools.count(1)


def monthly_customer(owner: Operator, package: Package, *, terms: str = "prepaid", billing_day: int = 1,
                     start: datetime.date = datetime.date(2026, 1, 1), discount: str = "0",
                     special_price: str | None = None) -> Subscriber:
    # Prepaid: paid until its first period starts (payments extend it); postpaid (in arrears): none needed.
    paid_until = None if terms == "postpaid" else datetime.datetime.combine(start, datetime.time(), tzinfo=datetime.UTC)
    customer = Subscriber.objects.create(username=f"bill-{next(_seq)}-{owner.pk}", package=package, owner=owner,
                                         billing_day=billing_day, expires_at=paid_until,
                                         special_price=Decimal(special_price) if special_price else None)
    BillingProfile.objects.create(customer=customer, terms=terms, start_date=start, discount_percent=Decimal(discount))
    return customer


def package(name: str, price: str, owners: list[tuple[Operator, str]] = ()) -> Package:  # type: ignore[assignment]
    pkg = Package.objects.create(name=f"{name}-{next(_seq)}", type="pppoe", download_kbps=10_000, upload_kbps=2_000,
                                 price=Decimal(price))
    for node, node_price in owners:
        PackageAssignment.objects.create(package=pkg, operator=node, price=Decimal(node_price))
    return pkg


def settings(**fields: object) -> BillingSettings:
    row, _ = BillingSettings.objects.get_or_create(singleton=True)
    for name, value in fields.items():
        setattr(row, name, value)
    row.save()
    return row
