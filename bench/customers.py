"""The scoped customer list at scale: one ISP with 100,000 customers under 20 resellers x 5 sub-resellers;
p50/p95 of GET /api/v1/customers/ (page of 50, status=active, and a free-text search) for the ISP admin and
for one sub-reseller, through the whole stack (tenant routing, token auth, scope selectors, DRF).
Target p95 < 50 ms.

    make bench
    .venv/bin/python -m bench.customers [--requests 200] [--fresh]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from decimal import Decimal
from typing import Any

from bench.common import percentile, setup_django, summary

SLUG = "benchcust"
CUSTOMERS = 100_000
RESELLERS, SUBS_PER_RESELLER = 20, 5
FIRST = ["maria", "john", "ahmed", "li", "fatima", "carlos", "anna", "david", "sara", "yusuf", "elena", "omar",
         "grace", "ivan", "nadia", "peter", "aisha", "tomas", "mei", "samuel"]
LAST = ["garcia", "smith", "khan", "wang", "silva", "mueller", "rossi", "novak", "okafor", "tanaka", "haddad",
        "johnson", "kowalski", "nguyen", "santos", "ali", "brown", "costa", "ivanova", "lee"]
PASSWORD = "bench-password-123"


def build(fresh: bool) -> None:
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import Role, User
    from hierarchy.audit import SYSTEM
    from hierarchy.models import Membership, Package, PackageAssignment, Subscriber
    from hierarchy.services import operator_create, operator_root
    from tenants.models import Tenant
    from tenants.services import tenant_create

    existing = Tenant.objects.filter(slug=SLUG).first()
    if existing and fresh:
        existing.delete()
        existing = None
    if existing is None:
        tenant_create(name="Bench Customers ISP", slug=SLUG, admin_email=f"admin@{SLUG}.test",
                      admin_password=PASSWORD)
    tenant = Tenant.objects.get(slug=SLUG)
    with schema_context(tenant.schema_name):
        if Subscriber.objects.count() == CUSTOMERS:
            print(f"reusing {CUSTOMERS} customers in {tenant.schema_name}", flush=True)
            return
        started = time.perf_counter()
        root = operator_root()
        package = Package.objects.create(name="Home 50M", type="pppoe", download_kbps=50_000, upload_kbps=10_000,
                                         price=Decimal("30.00"), validity_days=30)
        subs = []
        for r in range(RESELLERS):
            reseller = operator_create(actor=SYSTEM, parent=root, name=f"Reseller {r:02d}", share_percent=Decimal("60"))
            PackageAssignment.objects.create(package=package, operator=reseller, price=Decimal("32.00"))
            for s in range(SUBS_PER_RESELLER):
                sub = operator_create(actor=SYSTEM,
                                      parent=reseller, name=f"Sub {r:02d}-{s}", share_percent=Decimal("50"))
                PackageAssignment.objects.create(package=package, operator=sub, price=Decimal("35.00"))
                subs.append(sub)
        user = User.objects.create_user(email=f"sub@{SLUG}.test", password=PASSWORD, role=Role.SUB_RESELLER)
        Membership.objects.create(user=user, operator=subs[0])
        rng = random.Random(42)
        batch: list[Subscriber] = []
        for i in range(CUSTOMERS):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            roll = rng.random()
            status = "active" if roll < 0.85 else "expired" if roll < 0.95 else "suspended"
            batch.append(Subscriber(
                username=f"{first}.{last}{i}", password="x", package=package, owner=subs[i % len(subs)],
                status=status, full_name=f"{first.title()} {last.title()}", mobile=f"+1555{i:07d}",
                email=f"{first}.{last}{i}@example.net",
            ))
            if len(batch) == 10_000:
                Subscriber.objects.bulk_create(batch)
                batch = []
        Subscriber.objects.bulk_create(batch)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE hierarchy_subscriber")
            cursor.execute("ANALYZE hierarchy_operator")
        print(f"built {len(subs)} sub-resellers and {CUSTOMERS} customers in {time.perf_counter() - started:.1f} s",
              flush=True)


def measure(requests: int) -> bool:
    from django.conf import settings
    from django.test import Client
    from django_tenants.utils import schema_context
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=SLUG)
    host = f"{SLUG}.{settings.PLATFORM_DOMAIN}"
    with schema_context(tenant.schema_name):
        tokens = {who: Token.objects.get_or_create(user=User.objects.get(email=f"{who}@{SLUG}.test"))[0].key
                  for who in ("admin", "sub")}
    scenarios = {"status=active": {"status": "active"}, "status=active&search=mar": {"status": "active",
                                                                                      "search": "mar"},
                 "search=+15550012": {"search": "+15550012"}, "search=maria.garcia1": {"search": "maria.garcia1"}}
    from django.db import connection

    db_time = [0.0, 0]

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            db_time[0] += time.perf_counter() - started
            db_time[1] += 1

    met = True
    for who, token in tokens.items():
        client = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Token {token}")
        for label, params in scenarios.items():
            timings, db_timings, queries = [], [], 0
            count = None
            for i in range(requests + 10):
                page: dict[str, Any] = {**params, "page": 1 + i % 3} if label == "status=active" else dict(params)
                db_time[:] = [0.0, 0]
                started = time.perf_counter()
                with connection.execute_wrapper(timed):
                    response = client.get("/api/v1/customers/", page)
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, response.content[:300]
                count = response.json()["count"]
                if i >= 10:  # warm-up
                    timings.append(elapsed)
                    db_timings.append(db_time[0])
                    queries = int(db_time[1])
            ok = percentile(timings, 95) < 0.050
            met &= ok
            print(f"{who:>5} {label:<27} matches={count:<6} {summary(timings)} {'ok' if ok else 'SLOW'} | "
                  f"{queries} queries, database p50={percentile(db_timings, 50) * 1000:.1f} ms "
                  f"p95={percentile(db_timings, 95) * 1000:.1f} ms", flush=True)
    return met


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--fresh", action="store_true", help="rebuild the bench ISP from scratch")
    args = parser.parse_args()
    setup_django()
    build(args.fresh)
    met = measure(args.requests)
    load = os.getloadavg()[0]
    print(f"target p95 < 50 ms for every scenario: {'met' if met else 'MISSED'} "
          f"(load average {load:.1f} on {os.cpu_count()} CPUs while measuring)")


if __name__ == "__main__":
    main()
