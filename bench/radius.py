"""Access-Request throughput and latency through a real FreeRADIUS: the per-tenant views (100 ISPs x
1,000 subscribers, each ISP behind its own NAS) against stock flat radcheck/radreply tables holding
the same 100,000 users, in one run; then Accounting packets/s into the tenant partitions.

    make bench            # all benchmarks
    .venv/bin/python -m bench.radius [--tenants 100 --users 1000 --requests 20000 --concurrency 16]

Load generator (pyrad, threads), FreeRADIUS and PostgreSQL share the machine: the figures compare
the two setups; they are not capacity figures. Targets: views/flat ratio >= 0.85, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from pyrad.client import Timeout

from bench.common import setup_django

FLAT_CHECK = (
    "SELECT id, username, attribute, value, op FROM flat.radcheck WHERE username = '%{SQL-User-Name}' ORDER BY id"
)
FLAT_REPLY = (
    "SELECT id, username, attribute, value, op FROM flat.radreply WHERE username = '%{SQL-User-Name}' ORDER BY id"
)
SLUG = "radbench"


def nas_address(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def seed(tenants: int, users: int) -> None:
    """Bench ISPs (kept between runs), their subscribers and NASes; the flat baseline tables."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from hierarchy.models import ConnectionType, Package, Subscriber
    from hierarchy.services import operator_root
    from network.models import Nas
    from network.services import nas_create
    from tenants.models import Tenant
    from tenants.services import tenant_create

    started = time.perf_counter()
    for n in range(tenants):
        slug = f"{SLUG}{n:03d}"
        tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(
            name=f"Radius Bench {n}", slug=slug, admin_email=f"admin@{slug}.test", admin_password="bench-password-123"
        )
        with schema_context(tenant.schema_name):
            if Subscriber.objects.count() >= users:
                continue
            root = operator_root()
            package = Package.objects.create(
                name="Bench 10M", type=ConnectionType.PPPOE, download_kbps=10_000, upload_kbps=2_000,
                burst_download_kbps=12_000, burst_upload_kbps=3_000, burst_threshold_download_kbps=8_000,
                burst_threshold_upload_kbps=1_500, burst_time_seconds=10, price=Decimal("10"),
            )
            Subscriber.objects.bulk_create(
                Subscriber(
                    username=f"user{i}", password=f"pass{i}", package=package, owner=root,
                    connection_type=ConnectionType.STATIC if i % 10 == 0 else ConnectionType.PPPOE,
                    ip_address=f"100.64.{i // 250}.{1 + i % 250}" if i % 10 == 0 else None,
                )
                for i in range(users)
            )
            if not Nas.objects.exists():
                nas_create(owner=root, name="bench", address=nas_address(n), secret=f"bench-secret-{n}")
    print(f"seeded {tenants} ISPs x {users} subscribers in {time.perf_counter() - started:.0f} s", flush=True)

    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA IF EXISTS flat CASCADE; CREATE SCHEMA flat")
        for table in ("radcheck", "radreply"):
            cursor.execute(
                f"CREATE TABLE flat.{table} (id serial PRIMARY KEY, username text NOT NULL,"
                " attribute text NOT NULL, op text NOT NULL DEFAULT ':=', value text NOT NULL)"
            )
        cursor.execute(
            "INSERT INTO flat.radcheck (username, attribute, value) SELECT 't' || t || '_user' || u,"
            " 'Cleartext-Password', 'pass' || u FROM generate_series(0, %s) t, generate_series(0, %s) u",
            [tenants - 1, users - 1],
        )
        cursor.execute(
            "INSERT INTO flat.radreply (username, attribute, value) SELECT 't' || t || '_user' || u, a.attribute,"
            " a.value FROM generate_series(0, %s) t, generate_series(0, %s) u,"
            " (VALUES ('Mikrotik-Rate-Limit', '2000k/10000k 3000k/12000k 1500k/8000k 10/10')) AS a(attribute, value)",
            [tenants - 1, users - 1],
        )
        cursor.execute("CREATE INDEX ON flat.radcheck (username); CREATE INDEX ON flat.radreply (username)")
        from django.conf import settings

        cursor.execute(f'GRANT USAGE ON SCHEMA flat TO "{settings.RADIUS_DB_ROLE}"')
        cursor.execute(f'GRANT SELECT ON flat.radcheck, flat.radreply TO "{settings.RADIUS_DB_ROLE}"')
        cursor.execute("ANALYZE")


def load(
    make_request: Callable[[Any, int], Any], nases: list[Any], *, requests: int, concurrency: int, ok: int
) -> dict[str, float]:
    """Each worker thread acts as every NAS in turn, with its own sockets (pyrad clients are not
    thread-safe)."""
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker(k: int) -> None:
        nonlocal failures
        mine: list[float] = []
        bad = 0
        rng = random.Random(k)
        clients = [nas.client(timeout=5, retries=1) for nas in nases]
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                break
            client = clients[rng.randrange(len(clients))]
            request = make_request(client, rng.randrange(1 << 30))
            t0 = time.perf_counter()
            try:
                reply = client.SendPacket(request)
            except Timeout:
                bad += 1
                continue
            mine.append(time.perf_counter() - t0)
            bad += reply.code != ok
        with lock:
            latencies.extend(mine)
            failures += bad

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {"rps": len(latencies) / elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=None,
                        help="Requests before measuring (default 40 per ISP: every FreeRADIUS database"
                             " connection plans each ISP's lookup once)")
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.db import connection
    from pyrad import packet as rp

    from tests.radius.support import Database, Nas, RadiusServer, prerequisites_missing, start_server

    if (missing := prerequisites_missing()) is not None:
        raise SystemExit(missing)
    seed(args.tenants, args.users)
    db = connection.settings_dict
    database = Database(host=str(db["HOST"]), port=int(db["PORT"] or 5432), name=str(db["NAME"]),
                        user=settings.RADIUS_DB_ROLE, password=settings.RADIUS_DB_PASSWORD or None)
    users, tenants = args.users, args.tenants

    def views_request(client: Any, r: int) -> Any:
        u = r % users
        request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name=f"user{u}")
        request["User-Password"] = request.PwCrypt(f"pass{u}")
        return request

    def flat_request(client: Any, r: int) -> Any:
        u, t = r % users, (r // users) % tenants
        request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name=f"t{t}_user{u}")
        request["User-Password"] = request.PwCrypt(f"pass{u}")
        return request

    def acct_request(client: Any, r: int) -> Any:
        request = client.CreateAcctPacket()
        session = r % 5000
        request["Acct-Status-Type"] = ("Start", "Interim-Update", "Stop")[r % 3]
        request["User-Name"] = f"user{r % users}"
        request["Acct-Session-Id"] = f"bench-{run_id}-{session}"
        request["Acct-Input-Octets"] = r % 100000
        request["Acct-Output-Octets"] = r % 1000000
        return request

    run_id = secrets.token_hex(3)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, queries, make in (
            ("views", {}, views_request),
            ("flat", {"authorize_check_query": FLAT_CHECK, "authorize_reply_query": FLAT_REPLY}, flat_request),
        ):
            server: RadiusServer = start_server(
                database, Path(tmp) / name, nas_networks=["127.0.0.0/8"], reject_delay=0, threads=32,
                db_pool_max=16, **queries,
            )
            try:
                clients = [Nas(nas_address(n), f"bench-secret-{n}", server) for n in range(tenants)]
                warmup = args.warmup if args.warmup is not None else 40 * tenants
                load(make, clients, requests=warmup, concurrency=args.concurrency, ok=rp.AccessAccept)
                results[name] = load(make, clients, requests=args.requests, concurrency=args.concurrency,
                                     ok=rp.AccessAccept)
                if name == "views":
                    results["accounting"] = load(acct_request, clients, requests=args.requests // 2,
                                                 concurrency=args.concurrency, ok=rp.AccountingResponse)
            finally:
                server.stop()

    print(f"{args.requests} Access-Requests, concurrency {args.concurrency}, {tenants} ISPs x {users} subscribers,"
          f" {tenants} NASes (after a warm-up of {warmup} requests per setup)")
    for name in ("views", "flat"):
        r = results[name]
        print(f"  {name:>5}: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
              f"  non-accept {r['failures']:.0f}")
    ratio = results["views"]["rps"] / results["flat"]["rps"]
    a = results["accounting"]
    print(f"  accounting (views server): {a['rps']:7.0f} packets/s  p50 {a['p50_ms']:.2f} ms  p99 {a['p99_ms']:.2f} ms"
          f"  unanswered {a['failures']:.0f}")
    print(f"  ratio views/flat {ratio:.2f} (target >= 0.85: {'met' if ratio >= 0.85 else 'MISSED'});"
          f" views p99 {results['views']['p99_ms']:.2f} ms (target < 20 ms:"
          f" {'met' if results['views']['p99_ms'] < 20 else 'MISSED'})")


if __name__ == "__main__":
    main()
