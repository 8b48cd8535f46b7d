"""Customer payments with a 3-level commission split (ISP → reseller 60 % → sub-reseller 50 %) through
the service layer, from concurrent worker processes; prints payments/s, latency and the trial balance.

    .venv/bin/python -m bench.ledger [--payments 10000] [--workers 8]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from decimal import Decimal

from bench.common import percentile, setup_django

SLUG = "ledgerbench"


def prepare(customers: int) -> str:
    from django_tenants.utils import schema_context

    from hierarchy.models import BillingMode, Package, PackageAssignment, Subscriber
    from hierarchy.services import operator_create, operator_root
    from tenants.db import schema_use_public
    from tenants.models import Tenant
    from tenants.services import tenant_create

    schema_use_public()
    for old in Tenant.objects.filter(slug=SLUG):
        old.delete(force_drop=True)
    tenant = tenant_create(name="Ledger Bench", slug=SLUG, admin_email="admin@ledgerbench.test",
                           admin_password="bench-password-123")
    with schema_context(tenant.schema_name):
        root = operator_root()
        reseller = operator_create(parent=root, name="Reseller", billing_mode=BillingMode.PREPAID,
                                   share_percent=Decimal(60))
        sub = operator_create(parent=reseller, name="Sub", billing_mode=BillingMode.PREPAID, share_percent=Decimal(50))
        package = Package.objects.create(name="Home", type="pppoe", download_kbps=1, upload_kbps=1, price=Decimal(100))
        PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal(110))
        PackageAssignment.objects.create(package=package, operator=sub, price=Decimal(120))
        Subscriber.objects.bulk_create([Subscriber(username=f"bench-{i}", package=package, owner=sub)
                                        for i in range(customers)])
    return tenant.schema_name


def worker(args: tuple[str, int, int, int]) -> list[float]:
    schema, index, count, workers = args
    from django.db import connections
    from django_tenants.utils import schema_context

    from hierarchy.models import Subscriber
    from ledger.services import payment_record

    connections.close_all()  # never share the parent's connection across fork
    latencies = []
    with schema_context(schema):
        customers = list(Subscriber.objects.select_related("owner", "package").order_by("id"))
        for n in range(count):
            customer = customers[(n * workers + index) % len(customers)]
            started = time.perf_counter()
            payment_record(customer=customer, amount=1_000 + n % 997, method="bank" if n % 3 else "cash",
                           idempotency_key=f"bench-{index}-{n}", collector=customer.owner)
            latencies.append(time.perf_counter() - started)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payments", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    setup_django()
    from django.db import connections
    from django_tenants.utils import schema_context

    from ledger.checks import ledger_check
    from ledger.models import Payment

    schema = prepare(customers=200)
    connections.close_all()
    per_worker = args.payments // args.workers
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(worker, [(schema, i, per_worker, args.workers) for i in range(args.workers)])
    elapsed = time.perf_counter() - started
    latencies = [value for result in results for value in result]
    with schema_context(schema):
        report = ledger_check(schema=schema)
        count = Payment.objects.count()
    print(f"payments: {count} by {args.workers} workers in {elapsed:.1f} s → {count / elapsed:.0f} payments/s")
    print(f"latency: p50 {percentile(latencies, 50) * 1000:.1f} ms, p95 {percentile(latencies, 95) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    print(f"trial balance: {report.totals} ({'balanced' if report.ok else 'NOT BALANCED'}); "
          f"cached balances drift: {len(report.drift)}, unbalanced entries: {len(report.unbalanced)}")


if __name__ == "__main__":
    main()
