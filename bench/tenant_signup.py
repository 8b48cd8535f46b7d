"""Create ISPs until 200 exist; time the 1st and the 200th, by template clone (what signup does) and by
running every migration per schema (the path we replaced), in the same run.

    make bench            # all benchmarks
    .venv/bin/python -m bench.tenant_signup [--target 200]
"""

from __future__ import annotations

import argparse
import time

from bench.common import setup_django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=int, default=200)
    args = parser.parse_args()
    setup_django()

    from django.db import transaction

    from tenants.models import Tenant
    from tenants.schemas import schema_create_by_migrations
    from tenants.services import tenant_create

    password = "bench-password-123"

    def create(n: int) -> float:
        started = time.perf_counter()
        tenant_create(name=f"Bench ISP {n}", slug=f"bench{n}", admin_email=f"admin@bench{n}.test",
                      admin_password=password)
        return time.perf_counter() - started

    def migrate_path(n: int) -> float:
        started = time.perf_counter()
        with transaction.atomic():
            schema_create_by_migrations(schema_name=f"bench_migrate_{n}")
            transaction.set_rollback(True)  # measured, then thrown away
        return time.perf_counter() - started

    Tenant.objects.filter(slug__startswith="bench").delete()  # drops their schemas too
    first_clone = create(1)
    first_migrate = migrate_path(1)
    print(f"tenants existing: 1      clone: {first_clone:.2f} s   migrate-per-schema: {first_migrate:.2f} s"
          f"   ratio {first_migrate / first_clone:.1f}x", flush=True)
    started = time.perf_counter()
    for n in range(2, args.target):
        create(n)
    bulk = time.perf_counter() - started
    last_clone = create(args.target)
    last_migrate = migrate_path(args.target)
    print(f"tenants existing: {args.target}    clone: {last_clone:.2f} s   migrate-per-schema: "
          f"{last_migrate:.2f} s   ratio {last_migrate / last_clone:.1f}x")
    print(f"created {args.target - 2} more in {bulk:.1f} s ({bulk / max(1, args.target - 2):.2f} s each)")
    print(f"target < 3 s each: {'met' if max(first_clone, last_clone) < 3 else 'MISSED'}")
    Tenant.objects.filter(slug__startswith="bench").delete()


if __name__ == "__main__":
    main()
