"""The people every tenant fixture has (see STYLE.md: personas in tests).

Each ISP: the ISP admin at the root; a reseller (60 % share) with a sub-reseller (50 % of that); a
sibling reseller (the outsider inside the ISP); a PPPoE package assigned down the tree; a customer of
the sub-reseller with a portal login. The other ISP is the outsider across tenants.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import (
    BillingMode,
    ConnectionType,
    Membership,
    Operator,
    Package,
    PackageAssignment,
    Subscriber,
)
from hierarchy.services import operator_create, operator_root
from tenants.models import Tenant

PASSWORD = "correct-horse-battery-9"


@dataclass
class Isp:
    tenant: Tenant
    host: str
    admin: User
    root: Operator
    reseller: Operator
    reseller_user: User
    sub_reseller: Operator
    sub_reseller_user: User
    sibling: Operator
    sibling_user: User
    package: Package
    customer: Subscriber
    customer_user: User

    @property
    def schema(self) -> str:
        return self.tenant.schema_name


def _login(email: str, role: str, node: Operator | None, name: str) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, role=role, full_name=name)
    if node is not None:
        Membership.objects.create(user=user, operator=node)
    return user


def build_personas(tenant: Tenant) -> Isp:
    slug = tenant.slug
    with schema_context(tenant.schema_name):
        admin = User.objects.get(email=f"admin@{slug}.test")
        root = operator_root()
        reseller = operator_create(actor=SYSTEM, parent=root, name=f"{slug} Reseller", billing_mode=BillingMode.PREPAID,
                                   share_percent=Decimal("60"))
        sub = operator_create(actor=SYSTEM,
                              parent=reseller, name=f"{slug} Sub-reseller", billing_mode=BillingMode.PREPAID,
                              share_percent=Decimal("50"))
        sibling = operator_create(actor=SYSTEM,
                                  parent=root, name=f"{slug} Sibling Reseller", share_percent=Decimal("40"))
        package = Package.objects.create(
            name="Home 20M", type=ConnectionType.PPPOE, download_kbps=20_000, upload_kbps=5_000,
            price=Decimal("100.00"), validity_days=30,
        )
        PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal("110.00"))
        PackageAssignment.objects.create(package=package, operator=sub, price=Decimal("120.00"))
        PackageAssignment.objects.create(package=package, operator=sibling, price=Decimal("105.00"))
        customer_user = _login(f"customer@{slug}.test", Role.CUSTOMER, None, "Carol Customer")
        customer = Subscriber.objects.create(
            username="carol", password="pppoe-secret", package=package, owner=sub, full_name="Carol Customer",
            user=customer_user,
        )
        return Isp(
            tenant=tenant, host=f"{slug}.localhost", admin=admin, root=root,
            reseller=reseller, reseller_user=_login(f"reseller@{slug}.test", Role.RESELLER, reseller, "Rita Reseller"),
            sub_reseller=sub, sub_reseller_user=_login(f"sub@{slug}.test", Role.SUB_RESELLER, sub, "Sam Sub"),
            sibling=sibling, sibling_user=_login(f"sibling@{slug}.test", Role.RESELLER, sibling, "Sid Sibling"),
            package=package, customer=customer, customer_user=customer_user,
        )
