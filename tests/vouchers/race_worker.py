"""Processes for test_concurrency.py, each with its own database connections and committed data:
`python -m tests.vouchers.race_worker setup <slug>` creates an ISP (prepaid chain, 12 customers, a
sub-reseller wallet holding exactly 5 one-day recharges, one sold voucher) and prints JSON;
`… race-pin <schema> <pin> <threads> <first customer index>` redeems the same PIN from many threads;
`… race-recharge <schema> <threads> <first customer index>` recharges one day each from many threads;
`… drop <schema>` removes the ISP. The racers start together on a barrier and print a JSON summary."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hierarchy.audit import Actor


def _system() -> Actor:
    from hierarchy.audit import SYSTEM  # after django.setup()

    return SYSTEM


ONE_DAY_COST = 367  # 110.00 x 24/720, half up


def setup(slug: str) -> dict[str, object]:
    from decimal import Decimal

    from django_tenants.utils import schema_context

    from accounts.models import Role, User
    from hierarchy.audit import SYSTEM
    from hierarchy.models import BillingMode, Membership, Package, PackageAssignment, Subscriber
    from hierarchy.services import operator_create, operator_root
    from ledger.vouchers.services import batch_create, stock_assign, voucher_sell
    from ledger.wallets import wallet_topup
    from tenants.services import tenant_create
    from tests.vouchers.factories import pin_of

    tenant = tenant_create(name=f"Race {slug}", slug=slug, admin_email=f"admin@{slug}.test",
                           admin_password="correct-horse-battery-9")
    with schema_context(tenant.schema_name):
        root = operator_root()
        reseller = operator_create(actor=SYSTEM,
                                   parent=root, name="R", billing_mode=BillingMode.PREPAID, share_percent=Decimal(60))
        sub = operator_create(actor=SYSTEM,
                              parent=reseller, name="S", billing_mode=BillingMode.PREPAID, share_percent=Decimal(50))
        package = Package.objects.create(name="P", type="pppoe", download_kbps=1, upload_kbps=1, price=Decimal(100))
        PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal(110))
        PackageAssignment.objects.create(package=package, operator=sub, price=Decimal(120))
        for i in range(12):
            Subscriber.objects.create(username=f"race-{i:02d}", package=package, owner=sub)
        wallet_topup(actor=_system(), node=reseller, amount=100_000, method="bank")
        wallet_topup(actor=_system(), node=sub, amount=5 * ONE_DAY_COST + 100, method="parent_wallet")
        batch = batch_create(actor=_system(), package=package, quantity=1, unit="days", face_price=500, count=1, owner=sub,
                             commission_percent=Decimal(10))
        seller = User.objects.create_user(email=f"cards@{slug}.test", password="x-long-password-1", role=Role.CARD_DISTRIBUTOR)
        Membership.objects.create(user=seller, operator=sub)
        stock_assign(actor=_system(), batch=batch, distributor=seller, count=1)
        voucher = voucher_sell(voucher=batch.vouchers.get(), actor=seller)
        return {"schema": tenant.schema_name, "pin": pin_of(voucher)}


def _race(schema: str, threads: int, attempt: Callable[[int], str]) -> dict[str, int]:
    from django.db import connection
    from django_tenants.utils import schema_context

    barrier = threading.Barrier(threads)
    results: list[str] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        try:
            with schema_context(schema):
                barrier.wait()
                outcome = attempt(index)
        except Exception as exc:
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    summary: dict[str, int] = {}
    for outcome in results:
        summary[outcome] = summary.get(outcome, 0) + 1
    return summary


def race_pin(schema: str, pin: str, threads: int, first: int) -> dict[str, int]:
    from hierarchy.models import Subscriber
    from ledger.vouchers.services import VoucherRejected, voucher_redeem

    def attempt(index: int) -> str:
        customer = Subscriber.objects.select_related("owner", "package").get(username=f"race-{first + index:02d}")
        try:
            voucher_redeem(pin=pin, customer=customer)
        except VoucherRejected:
            return "rejected"
        return "redeemed"

    return _race(schema, threads, attempt)


def race_recharge(schema: str, threads: int, first: int) -> dict[str, int]:
    from hierarchy.models import Subscriber
    from ledger.vouchers.recharge import recharge_purchase
    from ledger.wallets import InsufficientFunds

    def attempt(index: int) -> str:
        customer = Subscriber.objects.select_related("owner", "package").get(username=f"race-{first + index:02d}")
        try:
            recharge_purchase(actor=_system(), customer=customer, package=customer.package, quantity=1, unit="days")
        except InsufficientFunds:
            return "refused"
        return "recharged"

    return _race(schema, threads, attempt)


def drop(schema: str) -> None:
    from tenants.models import Tenant

    Tenant.objects.get(schema_name=schema).delete(force_drop=True)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    command, args = sys.argv[1], sys.argv[2:]
    if command == "setup":
        print(json.dumps(setup(args[0])))
    elif command == "race-pin":
        print(json.dumps(race_pin(args[0], args[1], int(args[2]), int(args[3]))))
    elif command == "race-recharge":
        print(json.dumps(race_recharge(args[0], int(args[1]), int(args[2]))))
    else:
        drop(args[0])
