"""Build money-test data inside the active ISP schema."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.db import connection

from hierarchy.audit import SYSTEM
from hierarchy.models import BillingMode, Operator, Package, PackageAssignment, Subscriber
from hierarchy.services import operator_create
from ledger.models import Account, account_balance

_seq = itertools.count(1)


def node(parent: Operator, *, share: str = "50", prepaid: bool = True, credit: str = "0") -> Operator:
    return operator_create(actor=SYSTEM, parent=parent, name=f"node-{next(_seq)}-{id(parent)}",
                           billing_mode=BillingMode.PREPAID if prepaid else BillingMode.POSTPAID,
                           share_percent=Decimal(share), credit_limit=Decimal(credit))


def credit_grant(node: Operator, limit: str) -> None:
    """Give a postpaid node a credit limit (an UPDATE, so the database's trigger moves its ceiling too). The
    persona objects are shared between tests: they are not changed in memory."""
    Operator.objects.filter(pk=node.pk).update(credit_limit=Decimal(limit))


def customer(owner: Operator, package: Package) -> Subscriber:
    return Subscriber.objects.create(username=f"cust-{next(_seq)}-{owner.pk}", package=package, owner=owner)


def assign_down(package: Package, chain: list[Operator], prices: list[str], mode: str = "share") -> None:
    for op, price in zip(chain, prices, strict=True):
        PackageAssignment.objects.update_or_create(package=package, operator=op,
                                                   defaults={"price": Decimal(price), "commission_mode": mode})


def balance(code: str) -> int:
    account = Account.objects.with_balance().filter(code=code).first()
    return account_balance(account) if account else 0


def check_deferred_now() -> None:
    """Fire the deferred 'entry balances' triggers now (tests run inside one uncommitted transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
