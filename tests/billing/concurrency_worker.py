"""The processes of test_concurrency.py, each its own connection on committed data:
`python -m tests.billing.concurrency_worker setup <slug>` creates an ISP with 30 monthly customers and a promo
code limited to 5 uses and prints its schema; `… work <schema> <seed>` issues the June invoices, takes
invoice numbers in transactions that then fail, and redeems the promo code, printing a JSON summary;
`… drop <schema>` removes the ISP."""

from __future__ import annotations

import json
import os
import random
import sys

CUSTOMERS = 30
PROMO_LIMIT = 5


def setup(slug: str) -> str:
    import datetime
    from decimal import Decimal

    from django_tenants.utils import schema_context

    from hierarchy.models import Package, Subscriber
    from ledger.billing.models import BillingProfile, PromoCode
    from tenants.services import tenant_create

    tenant = tenant_create(name=f"Billing concurrency {slug}", slug=slug, admin_email=f"admin@{slug}.test",
                           admin_password="correct-horse-battery-9", tax_rate=Decimal("5.00"))
    with schema_context(tenant.schema_name):
        from hierarchy.services import operator_root

        root = operator_root()
        package = Package.objects.create(name="P", type="pppoe", download_kbps=1, upload_kbps=1, price=Decimal("40"))
        for i in range(CUSTOMERS):
            customer = Subscriber.objects.create(username=f"bc-{i}", package=package, owner=root, billing_day=1)
            BillingProfile.objects.create(customer=customer, start_date=datetime.date(2026, 1, 1))
        PromoCode.objects.create(code="RUSH", kind="fixed", amount=500, usage_limit=PROMO_LIMIT)
    return tenant.schema_name


def drop(schema: str) -> None:
    from tenants.models import Tenant

    Tenant.objects.get(schema_name=schema).delete(force_drop=True)


def work(schema: str, seed: int) -> dict[str, int]:
    import datetime

    from django.core.exceptions import ValidationError
    from django_tenants.utils import schema_context

    from hierarchy.models import Subscriber
    from ledger.billing.documents import INVOICE_SERIES, counter_take
    from ledger.billing.promos import promo_redeem
    from ledger.billing.services import invoice_issue_for_period
    from ledger.journal import money_atomic

    rng = random.Random(seed)
    summary = {"issued": 0, "already": 0, "rolled_back": 0, "redeemed": 0, "refused": 0}

    def take_then_fail() -> None:
        counter_take(INVOICE_SERIES)
        raise RuntimeError("the issuing transaction fails after taking a number")

    with schema_context(schema):
        customers = list(Subscriber.objects.filter(username__startswith="bc-").select_related("owner", "package"))
        rng.shuffle(customers)
        for index, customer in enumerate(customers):
            invoice = invoice_issue_for_period(customer=customer, period_start=datetime.date(2026, 6, 1))
            summary["issued" if invoice is not None else "already"] += 1
            if index % 5 == 0:
                try:
                    money_atomic(take_then_fail)
                except RuntimeError:
                    summary["rolled_back"] += 1
        rng.shuffle(customers)
        for customer in customers:
            try:
                promo_redeem(code="rush", customer=customer)
                summary["redeemed"] += 1
            except ValidationError:
                summary["refused"] += 1
    return summary


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    import django

    django.setup()
    command, arg = sys.argv[1], sys.argv[2]
    if command == "setup":
        print(setup(arg))
    elif command == "work":
        print(json.dumps(work(arg, int(sys.argv[3]))))
    else:
        drop(arg)
