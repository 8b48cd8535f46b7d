"""The processes of test_concurrency.py, each its own connection with committed data:
`python -m tests.ledger.concurrency_worker setup <slug>` creates an ISP with a prepaid chain and prints
its schema; `… work <schema> <seed>` pays, refunds and activates and prints a JSON summary;
`… drop <schema>` removes the ISP."""

from __future__ import annotations

import json
import os
import random
import sys


def setup(slug: str) -> str:
    from decimal import Decimal

    from django_tenants.utils import schema_context

    from hierarchy.audit import SYSTEM
    from hierarchy.models import BillingMode, Package, PackageAssignment, Subscriber
    from hierarchy.services import operator_create, operator_root
    from ledger.wallets import wallet_topup
    from tenants.services import tenant_create

    tenant = tenant_create(name=f"Concurrency {slug}", slug=slug, admin_email=f"admin@{slug}.test",
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
        for i in range(3):
            Subscriber.objects.create(username=f"conc-{i}", package=package, owner=sub)
        wallet_topup(actor=SYSTEM, node=reseller, amount=200_000, method="bank")
        # 9 activations of 110.00, 15.00 left
        wallet_topup(actor=SYSTEM, node=sub, amount=100_500, method="parent_wallet")
    return tenant.schema_name


def stripe_setup(slug: str, webhook_secret: str) -> str:
    """The setup above, with Stripe connected."""
    from django_tenants.utils import schema_context

    from ledger.stripe_gateway import stripe_account_connect

    schema = setup(slug)
    with schema_context(schema):
        stripe_account_connect(publishable_key="pk_test_local", secret_key="sk_test_local",
                               webhook_secret=webhook_secret)
    return schema


def drop(schema: str) -> None:
    from tenants.models import Tenant

    Tenant.objects.get(schema_name=schema).delete(force_drop=True)


def work(schema: str, seed: int) -> dict[str, int]:
    from django_tenants.utils import schema_context

    from hierarchy.audit import SYSTEM
    from hierarchy.models import Subscriber
    from ledger.models import Payment
    from ledger.services import AlreadyReversed, payment_record, payment_refund
    from ledger.wallets import InsufficientFunds, subscriber_activate

    rng = random.Random(seed)
    summary = {"created": 0, "replayed": 0, "refunded": 0, "already_refunded": 0, "activated": 0, "refused": 0}
    with schema_context(schema):
        customers = list(Subscriber.objects.filter(username__startswith="conc-").select_related("owner", "package"))
        keys = list(range(40))
        rng.shuffle(keys)
        for i in keys:
            customer = customers[i % len(customers)]
            _, created = payment_record(customer=customer, amount=1_000 + i, method=["cash", "bank"][i % 2],
                                        actor=SYSTEM, idempotency_key=f"conc-{i}", collector=customer.owner)
            summary["created" if created else "replayed"] += 1
            if rng.random() < 0.3:
                try:
                    subscriber_activate(actor=SYSTEM, subscriber=rng.choice(customers))
                    summary["activated"] += 1
                except InsufficientFunds:
                    summary["refused"] += 1
        rng.shuffle(keys)
        for i in keys:
            if i % 2 == 0:
                try:
                    payment_refund(actor=SYSTEM, payment=Payment.objects.get(idempotency_key=f"conc-{i}"))
                    summary["refunded"] += 1
                except AlreadyReversed:
                    summary["already_refunded"] += 1
        for _ in range(5):
            try:
                subscriber_activate(actor=SYSTEM, subscriber=rng.choice(customers))
                summary["activated"] += 1
            except InsufficientFunds:
                summary["refused"] += 1
    return summary


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    command, arg = sys.argv[1], sys.argv[2]
    if command == "setup":
        print(setup(arg))
    elif command == "stripe-setup":
        print(stripe_setup(arg, sys.argv[3]))
    elif command == "work":
        print(json.dumps(work(arg, int(sys.argv[3]))))
    else:
        drop(arg)
