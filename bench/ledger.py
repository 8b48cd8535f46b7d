"""Customer payments with a 3-level commission split (ISP → reseller 60 % → sub-reseller 50 %) through
the service layer, from concurrent worker processes; prints payments/s, latency and the trial balance.

    .venv/bin/python -m bench.ledger [--payments 10000] [--workers 8]

Besides wall-clock throughput it prints the CPU one payment costs (the workers' Python and their PostgreSQL
backends, read from /proc when the database runs on this machine) and the load average: on a shared
machine the CPU figures hold when throughput does not.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from decimal import Decimal

from bench.common import percentile, process_cpu_seconds, setup_django

SLUG = "ledgerbench"
ADMIN_LOGIN = "admin@ledgerbench.test"
SUB_LOGIN = "sub@ledgerbench.test"


def prepare(customers: int) -> str:
    from django_tenants.utils import schema_context

    from accounts.models import Role, User
    from hierarchy.audit import SYSTEM
    from hierarchy.models import BillingMode, Membership, Package, PackageAssignment, Subscriber
    from hierarchy.services import operator_create, operator_root
    from tenants.db import schema_use_public
    from tenants.models import Tenant
    from tenants.services import tenant_create

    schema_use_public()
    for old in Tenant.objects.filter(slug=SLUG):
        old.delete(force_drop=True)
    tenant = tenant_create(name="Ledger Bench", slug=SLUG, admin_email=ADMIN_LOGIN,
                           admin_password="bench-password-123")
    with schema_context(tenant.schema_name):
        root = operator_root()
        reseller = operator_create(actor=SYSTEM, parent=root, name="Reseller", billing_mode=BillingMode.PREPAID,
                                   share_percent=Decimal(60))
        sub = operator_create(actor=SYSTEM,
                              parent=reseller, name="Sub", billing_mode=BillingMode.PREPAID, share_percent=Decimal(50))
        package = Package.objects.create(name="Home", type="pppoe", download_kbps=1, upload_kbps=1, price=Decimal(100))
        PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal(110))
        PackageAssignment.objects.create(package=package, operator=sub, price=Decimal(120))
        Subscriber.objects.bulk_create([Subscriber(username=f"bench-{i}", package=package, owner=sub)
                                        for i in range(customers)])
        # The sub-reseller's own login takes the cash (its cash_held); the ISP's admin records bank payments.
        collector = User.objects.create_user(email=SUB_LOGIN, password="bench-password-123", role=Role.SUB_RESELLER)
        Membership.objects.create(user=collector, operator=sub)
    return tenant.schema_name


def _process_cpu(pid: int) -> float:
    """0 when the process cannot be read (a remote database)."""
    return process_cpu_seconds(pid) or 0.0


def worker(args: tuple[str, int, int, int]) -> tuple[list[float], float, float]:
    schema, index, count, workers = args
    from django.db import connection, connections
    from django_tenants.utils import schema_context

    from accounts.models import User
    from hierarchy.models import Subscriber
    from ledger.services import payment_record

    connections.close_all()  # never share the parent's connection across fork
    latencies = []
    with schema_context(schema):
        customers = list(Subscriber.objects.select_related("owner", "package").order_by("id"))
        # Real logins, so every payment passes the authority check (hierarchy.authority): its node and scope
        # are cached on the user object after the first payment, so the check costs no query.
        admin, collector = User.objects.get(email=ADMIN_LOGIN), User.objects.get(email=SUB_LOGIN)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = int(cursor.fetchone()[0])
        client_cpu, server_cpu = time.process_time(), _process_cpu(backend)
        for n in range(count):
            customer = customers[(n * workers + index) % len(customers)]
            started = time.perf_counter()
            by_bank = n % 3 != 0
            payment_record(customer=customer, amount=1_000 + n % 997, method="bank" if by_bank else "cash",
                           idempotency_key=f"bench-{index}-{n}", actor=admin if by_bank else collector)
            latencies.append(time.perf_counter() - started)
        client_cpu, server_cpu = time.process_time() - client_cpu, _process_cpu(backend) - server_cpu
    return latencies, client_cpu, server_cpu


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
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        results = pool.map(worker, [(schema, i, per_worker, args.workers) for i in range(args.workers)])
    elapsed = time.perf_counter() - started
    latencies = [value for result, _, _ in results for value in result]
    client_ms = sum(client for _, client, _ in results) / len(latencies) * 1000
    server_ms = sum(server for _, _, server in results) / len(latencies) * 1000
    with schema_context(schema):
        report = ledger_check(schema=schema)
        count = Payment.objects.count()
    print(f"payments: {count} by {args.workers} workers in {elapsed:.1f} s → {count / elapsed:.0f} payments/s")
    print(f"latency: p50 {percentile(latencies, 50) * 1000:.1f} ms, p95 {percentile(latencies, 95) * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms")
    print(f"CPU per payment: {client_ms:.2f} ms Python + {server_ms:.2f} ms PostgreSQL backend "
          f"({os.cpu_count()} CPUs; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    print(f"trial balance: {report.totals} ({'balanced' if report.ok else 'NOT BALANCED'}); "
          f"cached balances drift: {len(report.drift)}, unbalanced entries: {len(report.unbalanced)}")


if __name__ == "__main__":
    main()
