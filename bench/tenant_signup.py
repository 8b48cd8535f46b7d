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

    from django.db import connection, transaction

    from tenants.schemas import schema_clone_from_template, schema_create_by_migrations
    from tenants.services import tenant_create

    password = "bench-password-123"

    def create(n: int) -> float:
        # Each signup is its own web request; a fresh connection per signup, as in production. (One
        # connection cloning schema after schema slows down clone after clone: PostgreSQL's
        # per-backend catalog caches grow; measured ~1 s -> ~19 s over 30 clones in one session.)
        connection.close()
        started = time.perf_counter()
        tenant_create(name=f"Bench ISP {n}", slug=f"bench{n}", admin_email=f"admin@bench{n}.test",
                      admin_password=password)
        return time.perf_counter() - started

    def schema_only(n: int) -> tuple[float, float]:
        """The schema step alone, both ways, on the same footing (each rolled back afterwards)."""
        timings = []
        for make in (schema_clone_from_template, schema_create_by_migrations):
            started = time.perf_counter()
            with transaction.atomic():
                make(schema_name=f"bench_probe_{n}")
                timings.append(time.perf_counter() - started)
                transaction.set_rollback(True)
        return timings[0], timings[1]

    drop_bench_tenants()

    def report(existing: int, signup: float) -> None:
        clone, migrate = schema_only(existing)
        print(f"{existing:>4} ISPs: full signup {signup:.2f} s | schema by clone {clone:.3f} s, "
              f"by migrations {migrate:.3f} s (ratio {migrate / clone:.1f}x)", flush=True)

    first = create(1)
    report(1, first)
    started = time.perf_counter()
    for n in range(2, args.target):
        create(n)
    bulk = time.perf_counter() - started
    last = create(args.target)
    report(args.target, last)
    print(f"created {args.target - 2} more in between in {bulk:.1f} s ({bulk / max(1, args.target - 2):.2f} s each)")
    print(f"target < 3 s for the 1st and the {args.target}th signup: {'met' if max(first, last) < 3 else 'MISSED'}")
    drop_bench_tenants()


def drop_bench_tenants() -> None:
    from tenants.models import Tenant

    # One tenant (one DROP SCHEMA) per transaction: dropping hundreds at once exhausts the lock table.
    for tenant in Tenant.objects.filter(slug__startswith="bench"):
        tenant.delete()


if __name__ == "__main__":
    main()
