"""The monthly billing run at scale: 100 ISPs x 1,000 customers on monthly (prepaid, calendar-month)
billing under a 3-level chain (ISP → reseller → sub-reseller), 10 % tax, some customers with a special
price or a standing discount. Generates one month's invoices with their lines, journal entries and
postings through the set-based path (``ledger.billing.bulk``), ISPs spread over 2 processes; prints
invoices/s, the total time and the trial balance of every ISP. Target: 100,000 invoices in <= 30 s.

    .venv/bin/python -m bench.billing_run [--tenants 100] [--customers 1000] [--processes 2] [--fresh]

Seeding is done once (bulk inserts; reused by later runs, which bill the next month).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import time
from decimal import Decimal

from bench.common import setup_django

PREFIX = "billbench"
PASSWORD = "bench-password-123"


def seed_tenant(index: int, customers: int) -> str:
    from django.db import connection
    from django_tenants.utils import schema_context

    from hierarchy.audit import SYSTEM
    from hierarchy.models import BillingMode, Package, PackageAssignment
    from hierarchy.services import operator_create, operator_root
    from ledger.billing.models import BillingSettings
    from tenants.services import tenant_create

    slug = f"{PREFIX}-{index:03d}"
    tenant = tenant_create(name=f"Billing Bench {index}", slug=slug, admin_email=f"admin@{slug}.test",
                           admin_password=PASSWORD, tax_rate=Decimal("10.00"))
    with schema_context(tenant.schema_name):
        BillingSettings.objects.create(calendar_month=True, invoice_due_days=10)
        root = operator_root()
        reseller = operator_create(actor=SYSTEM, parent=root, name="Reseller", billing_mode=BillingMode.PREPAID,
                                   share_percent=Decimal(60))
        sub = operator_create(actor=SYSTEM,
                              parent=reseller, name="Sub", billing_mode=BillingMode.PREPAID, share_percent=Decimal(50))
        package = Package.objects.create(name="Home 50M", type="pppoe", download_kbps=50_000, upload_kbps=10_000,
                                         price=Decimal("30.00"))
        PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal("32.00"))
        PackageAssignment.objects.create(package=package, operator=sub, price=Decimal("35.00"))
        with connection.cursor() as cursor:
            # One statement each for the customers and their billing profiles.
            cursor.execute(
                "INSERT INTO hierarchy_subscriber (username, password, connection_type, package_id, owner_id, status,"
                " billing_day, special_price, full_name, mobile, email, address, zone, custom_fields, created, updated)"
                " SELECT 'c' || g, 'x', 'pppoe', %s, CASE WHEN g %% 3 = 0 THEN %s ELSE %s END, 'active', 1 + g %% 28,"
                " CASE WHEN g %% 50 = 0 THEN 27.50 END, '', '', '', '', '', '{}', now(), now()"
                " FROM generate_series(1, %s) g",
                [package.pk, reseller.pk, sub.pk, customers],
            )
            cursor.execute(
                "INSERT INTO billing_billingprofile (customer_id, model, terms, discount_percent, start_date,"
                " suspended_for_nonpayment, updated)"
                " SELECT id, 'monthly', 'prepaid', CASE WHEN id % 20 = 0 THEN 12.5 ELSE 0 END, '2020-01-01', false,"
                " now() FROM hierarchy_subscriber")
    return tenant.schema_name


def seed(args: tuple[int, int]) -> str:
    from django.db import connections

    connections.close_all()
    return seed_tenant(*args)


def bill(args: tuple[list[str], str]) -> tuple[int, float]:
    schemas, day = args
    from django.db import connections
    from django_tenants.utils import schema_context

    from ledger.billing.bulk import invoices_issue_bulk

    connections.close_all()  # never share the parent's connection across fork
    issued = 0
    started = time.perf_counter()
    for schema in schemas:
        with schema_context(schema):
            issued += invoices_issue_bulk(on=datetime.date.fromisoformat(day))
    return issued, time.perf_counter() - started


def explain(schema: str, day: datetime.date) -> None:
    """One ISP's run statement by statement with PostgreSQL's own timings (EXPLAIN ANALYZE shows each
    trigger's total), then the deferred checks; everything rolled back."""
    from django.db import connection, transaction
    from django_tenants.utils import schema_context

    from ledger.billing import bulk

    with schema_context(schema), transaction.atomic():
        params = bulk.bulk_params(on=day)
        assert params is not None
        with connection.cursor() as cursor:
            started = time.perf_counter()
            cursor.execute(bulk.CANDIDATES, params)
            print(f"  {(time.perf_counter() - started) * 1000:6.0f} ms  candidates ({cursor.rowcount} invoices)")
            params["first"] = 10**9
            for statement in bulk.STATEMENTS:
                started = time.perf_counter()
                cursor.execute("EXPLAIN (ANALYZE) " + statement, params)
                plan = [row[0] for row in cursor.fetchall()]
                name = " ".join(statement.split()[:3])
                print(f"  {(time.perf_counter() - started) * 1000:6.0f} ms  {name}")
                for row in plan:
                    if row.startswith("Trigger"):
                        print(f"            {row}")
            for constraint in ("ledger_entry_balanced", "ALL"):
                started = time.perf_counter()
                cursor.execute(f"SET CONSTRAINTS {constraint} IMMEDIATE")
                label = ("deferred trigger ledger_entry_balanced (one per entry)" if constraint != "ALL"
                         else "deferred foreign-key checks")
                print(f"  {(time.perf_counter() - started) * 1000:6.0f} ms  {label}")
        transaction.set_rollback(True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--explain", action="store_true",
                        help="also show where one ISP's run spends its time (statements, triggers; rolled back)")
    args = parser.parse_args()
    setup_django()
    from django.db import connections
    from django_tenants.utils import schema_context

    from ledger.billing.models import Invoice
    from ledger.checks import ledger_check
    from tenants.models import Tenant

    existing = {t.slug: t.schema_name for t in Tenant.objects.filter(slug__startswith=f"{PREFIX}-")}
    if args.fresh:
        for slug in existing:
            Tenant.objects.get(slug=slug).delete(force_drop=True)
        existing = {}
    started = time.perf_counter()
    missing = [index for index in range(args.tenants) if f"{PREFIX}-{index:03d}" not in existing]
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        pool.map(seed, [(index, args.customers) for index in missing])
    existing = {t.slug: t.schema_name for t in Tenant.objects.filter(slug__startswith=f"{PREFIX}-")}
    schemas = [existing[f"{PREFIX}-{index:03d}"] for index in range(args.tenants)]
    print(f"seeded/reused {len(schemas)} ISPs x {args.customers} customers in {time.perf_counter() - started:.1f} s",
          flush=True)
    last = None
    for schema in schemas:  # the month after the latest one billed in any bench ISP
        with schema_context(schema):
            latest = Invoice.objects.order_by("-period_start").values_list("period_start", flat=True).first()
        last = max(filter(None, [last, latest]), default=None)
    day = datetime.date(2027, 1, 1) if last is None else (last.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    if args.explain:
        print(f"where one ISP's run ({schemas[-1]}, {day}) spends its time:")
        explain(schemas[-1], day)
    connections.close_all()

    batches = [schemas[i::args.processes] for i in range(args.processes)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(args.processes) as pool:
        results = pool.map(bill, [(batch, day.isoformat()) for batch in batches])
    elapsed = time.perf_counter() - started
    issued = sum(count for count, _ in results)
    print(f"billing period starting {day}: {issued} invoices (with lines, entries, postings) in {elapsed:.1f} s "
          f"→ {issued / elapsed:.0f} invoices/s ({args.processes} processes; per process "
          + ", ".join(f"{seconds:.1f} s" for _, seconds in results) + ")")

    problems = []
    totals: dict[str, int] = {}
    for schema in schemas:
        with schema_context(schema):
            report = ledger_check(schema=schema)
        if not report.ok:
            problems.append(schema)
        for currency, total in report.totals.items():
            totals[currency] = totals.get(currency, 0) + total
    print(f"trial balance over {len(schemas)} ISPs: {totals} "
          f"({'balanced, no drift, no unbalanced entry' if not problems else 'PROBLEMS in ' + ', '.join(problems)})")


if __name__ == "__main__":
    main()
