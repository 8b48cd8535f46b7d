"""Import 10,000 PPP secrets and 50 profiles from the fake RouterOS server (real API protocol over TCP) into
a fresh ISP, as the import job does in a worker; print the time. Target: ≤ 30 s.

    make bench            # all benchmarks
    .venv/bin/python -m bench.mikrotik_import [--secrets 10000] [--profiles 50]
"""

from __future__ import annotations

import argparse
import time

from bench.common import setup_django

SLUG = "mtbench"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=10_000)
    parser.add_argument("--profiles", type=int, default=50)
    args = parser.parse_args()
    setup_django()

    from django.test import override_settings
    from django_tenants.utils import schema_context

    from hierarchy.audit import SYSTEM
    from hierarchy.models import Subscriber
    from hierarchy.services import operator_root
    from network.models import RouterJob
    from network.routers.models import JobKind
    from network.routers.runner import router_job_execute
    from network.routers.services import router_create
    from tenants.models import Tenant
    from tenants.services import tenant_create
    from tests.routeros.fake_server import FakeRouter, FakeUser
    from tests.routeros.seed import seed_isp

    for old in Tenant.objects.filter(slug=SLUG):
        old.delete()
    tenant = tenant_create(name="MikroTik Bench", slug=SLUG, admin_email=f"admin@{SLUG}.test",
                           admin_password="bench-password-123")
    user = FakeUser("backhaul", "bench-api-pass", "full")
    with FakeRouter(users=[user], host="127.0.0.1") as router:
        seed_isp(router, secrets=args.secrets, profiles=args.profiles, online=100)
        try:
            # The fake router is on loopback, which the egress guard allows only when told to.
            with schema_context(tenant.schema_name), override_settings(BACKHAUL_EGRESS_ALLOW=["127.0.0.0/8"]):
                nas = router_create(actor=SYSTEM, owner=operator_root(), name="bench-bng", address="127.0.0.1",
                                    api_port=router.port, api_username=user.name, api_password=user.password)
                # Run the job here rather than through a worker so the figure is the import alone.
                job = RouterJob.objects.create(nas=nas, kind=JobKind.IMPORT, params={"owner_id": nas.owner_id,
                                                                                   "queued_by_system": True})
                started = time.perf_counter()
                outcome = router_job_execute(job_id=job.pk)
                elapsed = time.perf_counter() - started
                job.refresh_from_db()
                count = Subscriber.objects.count()
        finally:
            tenant.delete()
    if outcome.status != "succeeded":
        raise SystemExit(f"import failed: {job.error}")
    result = job.result or {}
    subs, packages = result["subscribers"], result["packages"]
    verdict = "OK" if elapsed <= 30 else "SLOWER THAN TARGET"
    print(f"imported {subs['created']} PPP secrets and {packages['created']} profiles "
          f"({count} subscribers in the ISP) in {elapsed:.2f} s — target ≤ 30 s: {verdict}", flush=True)
    print(f"  {args.secrets / elapsed:,.0f} secrets/s; read {result['read']}", flush=True)


if __name__ == "__main__":
    main()
