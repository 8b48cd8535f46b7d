"""Access-Request throughput and latency through a real FreeRADIUS: the per-tenant views (100 ISPs x
1,000 subscribers, each ISP behind its own NAS) against stock flat radcheck/radreply tables holding
the same 100,000 users, in one run; then Accounting packets/s into the tenant partitions.

    make bench            # all benchmarks
    .venv/bin/python -m bench.radius [--tenants 100 --users 1000 --requests 20000 --concurrency 16
                                      --threads 8 --db-pool 8 --rounds 8]

Load generator, FreeRADIUS and PostgreSQL share the machine: the figures compare the two setups;
they are not capacity figures. Both FreeRADIUS servers run at once and the requests go to them in
alternating rounds, so a host whose speed drifts during the run (a shared virtual machine's does)
weighs on both setups alike. Packets are built before the clock starts and sent from a few
processes with a fixed number in flight, so Python's own cost stays out of the latencies.
Targets: views/flat ratio >= 0.85, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import secrets
import select
import socket
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import process_cpu_seconds, setup_django

FLAT_CHECK = (
    "SELECT id, username, attribute, value, op FROM flat.radcheck WHERE username = '%{SQL-User-Name}' ORDER BY id"
)
FLAT_REPLY = (
    "SELECT id, username, attribute, value, op FROM flat.radreply WHERE username = '%{SQL-User-Name}' ORDER BY id"
)
SLUG = "radbench"


def nas_address(n: int) -> str:
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def _seed_tenant(n: int, users: int) -> None:
    """One bench ISP (signup as in production), its subscribers (one INSERT ... SELECT), its NAS."""
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from hierarchy.audit import SYSTEM
    from hierarchy.models import ConnectionType, Package, Subscriber
    from hierarchy.services import operator_root
    from network.models import Nas
    from network.services import nas_create
    from tenants.models import Tenant
    from tenants.services import tenant_create

    slug = f"{SLUG}{n:03d}"
    tenant = Tenant.objects.filter(slug=slug).first() or tenant_create(
        name=f"Radius Bench {n}", slug=slug, admin_email=f"admin@{slug}.test", admin_password="bench-password-123"
    )
    with schema_context(tenant.schema_name):
        root = operator_root()
        if Subscriber.objects.count() < users:
            Subscriber.objects.all().delete()
            package = Package.objects.filter(name="Bench 10M").first() or Package.objects.create(
                name="Bench 10M",
                type=ConnectionType.PPPOE,
                download_kbps=10_000,
                upload_kbps=2_000,
                burst_download_kbps=12_000,
                burst_upload_kbps=3_000,
                burst_threshold_download_kbps=8_000,
                burst_threshold_upload_kbps=1_500,
                burst_time_seconds=10,
                price=Decimal("10"),
            )
            with connection.cursor() as cursor:
                # Every tenth subscriber is static-IP; the rest PPPoE; all paid for a year (a prepaid customer
                # always has a paid-until; a new one starts expired). Other column defaults as the model's.
                cursor.execute(
                    "INSERT INTO hierarchy_subscriber (username, password, connection_type, ip_address, status,"
                    " billing_day, full_name, mobile, email, address, zone, custom_fields, created, updated,"
                    " owner_id, package_id, expires_at)"
                    " SELECT 'user' || i, 'pass' || i, CASE WHEN i %% 10 = 0 THEN 'static' ELSE 'pppoe' END,"
                    " CASE WHEN i %% 10 = 0 THEN ('100.64.' || i / 250 || '.' || 1 + i %% 250)::inet END, 'active',"
                    " 1, '', '', '', '', '', '{}', now(), now(), %s, %s, now() + interval '365 days'"
                    " FROM generate_series(0, %s) AS i",
                    [root.pk, package.pk, users - 1],
                )
                cursor.execute("ANALYZE hierarchy_subscriber")
        # A bench database seeded before paid-until was required: its customers expired at that migration.
        Subscriber.objects.filter(expires_at__lt=timezone.now() + timedelta(days=30)).update(
            expires_at=timezone.now() + timedelta(days=365))
        if not Nas.objects.exists():
            # The bench's NASes are on loopback, which the egress guard allows only when told to.
            with override_settings(BACKHAUL_EGRESS_ALLOW=["127.0.0.0/8"]):
                nas_create(actor=SYSTEM, owner=root, name="bench", address=nas_address(n),
                           secret=f"bench-secret-{n}")


def _seed_worker(job: tuple[int, int]) -> float:
    started = time.perf_counter()
    _seed_tenant(*job)
    return time.perf_counter() - started


def seed(tenants: int, users: int, *, processes: int) -> None:
    """Bench ISPs (kept between runs), their subscribers and NASes; the flat baseline tables.

    Signups run in a few processes at once (concurrent signups are supported); almost all of the
    time is the schema clone of each signup, not the subscribers."""
    import multiprocessing

    from django.db import connection, connections

    started = time.perf_counter()
    connections.close_all()  # forked workers open their own
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        per_tenant = pool.map(_seed_worker, [(n, users) for n in range(tenants)], chunksize=1)
    print(
        f"seeded {tenants} ISPs x {users} subscribers in {time.perf_counter() - started:.0f} s"
        f" ({processes} processes; slowest ISP {max(per_tenant):.1f} s)",
        flush=True,
    )

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


# --- load generator ------------------------------------------------------------------------------
# Packets are built (pyrad) before the clock starts; the timed loop only sends bytes, waits with
# select() and checks each reply's code and Response Authenticator, in a few processes with a fixed
# number of requests in flight each. So the figures are FreeRADIUS + PostgreSQL, not Python.


@dataclass(frozen=True)
class Target:
    auth_port: int
    acct_port: int
    nases: list[tuple[str, str]]  # (source address, secret)


PacketMaker = Callable[[Any, int], Any]


def _build(target: Target, make: PacketMaker, count: int, seed_: int) -> list[tuple[int, bytes, bytes]]:
    from pyrad.client import Client

    from tests.radius.support import pyrad_dictionary

    rng = random.Random(seed_)
    clients = [
        Client(server="127.0.0.1", secret=secret.encode(), dict=pyrad_dictionary()) for _, secret in target.nases
    ]
    packets = []
    for k in range(count):
        nas = rng.randrange(len(target.nases))
        packet = make(clients[nas], rng.randrange(1 << 30))
        packet.id = k % 256
        raw = packet.RequestPacket()
        packets.append((nas, raw, raw[4:20]))
    return packets


def _run(
    target: Target, packets: list[tuple[int, bytes, bytes]], *, window: int, port: int, ok: int, start_at: float
) -> tuple[list[float], int, float]:
    socks = []
    for address, _ in target.nases:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((address, 0))
        sock.setblocking(False)
        socks.append(sock)
    by_fd = {s.fileno(): i for i, s in enumerate(socks)}
    secrets_ = [secret.encode() for _, secret in target.nases]
    poller = select.poll()
    for s in socks:
        poller.register(s, select.POLLIN)
    pending: dict[tuple[int, int], tuple[float, bytes]] = {}
    latencies: list[float] = []
    failures = 0
    nxt = 0

    def send() -> None:
        nonlocal nxt
        nas, raw, authenticator = packets[nxt]
        nxt += 1
        pending[(nas, raw[1])] = (time.perf_counter(), authenticator)
        socks[nas].sendto(raw, ("127.0.0.1", port))

    while time.time() < start_at:  # every process starts together
        time.sleep(0.001)
    t0 = time.perf_counter()
    while nxt < len(packets) and len(pending) < window:
        send()
    while pending:
        events = poller.poll(200)
        now = time.perf_counter()
        for fd, _ in events:
            nas = by_fd[fd]
            data = socks[nas].recv(4096)
            sent = pending.pop((nas, data[1]), None)
            if sent is None:
                continue
            latencies.append(now - sent[0])
            expected = hashlib.md5(data[:4] + sent[1] + data[20:] + secrets_[nas]).digest()  # noqa: S324 - RADIUS
            failures += data[0] != ok or data[4:20] != expected
            if nxt < len(packets):
                send()
        for key, (sent_at, _) in list(pending.items()):
            if now - sent_at > 5:  # lost: count it, keep the window full
                del pending[key]
                failures += 1
                if nxt < len(packets):
                    send()
    elapsed = time.perf_counter() - t0
    for s in socks:
        s.close()
    return latencies, failures, elapsed


def _load_process(args: tuple[Target, PacketMaker, int, int, int, int, float]) -> tuple[list[float], int, float]:
    target, make, count, seed_, window, ok, start_at = args
    packets = _build(target, make, count, seed_)
    port = target.acct_port if ok == 5 else target.auth_port  # 5 = Accounting-Response
    return _run(target, packets, window=window, port=port, ok=ok, start_at=start_at)


@dataclass
class Sample:
    latencies: list[float]
    failures: int
    elapsed: float

    def __add__(self, other: Sample) -> Sample:
        return Sample(self.latencies + other.latencies, self.failures + other.failures, self.elapsed + other.elapsed)

    def summary(self) -> dict[str, float]:
        q = statistics.quantiles(self.latencies, n=100)
        return {"rps": len(self.latencies) / self.elapsed, "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000,
                "failures": self.failures}


def send_load(
    make: PacketMaker, target: Target, *, requests: int, concurrency: int, ok: int, processes: int = 2, seed_: int = 0
) -> Sample:
    """``requests`` packets with ``concurrency`` in flight, spread over ``processes`` processes."""
    import multiprocessing

    per = [requests // processes + (k < requests % processes) for k in range(processes)]
    windows = [concurrency // processes + (k < concurrency % processes) for k in range(processes)]
    # Building the packets takes a moment: start the clocks together once every process is ready.
    start_at = time.time() + 1.5 + requests / 20000
    jobs = [(target, make, per[k], k * 7919 + requests + seed_, windows[k], ok, start_at) for k in range(processes)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        results = pool.map(_load_process, jobs)
    return Sample([x for r in results for x in r[0]], sum(r[1] for r in results), max(r[2] for r in results))


def _cpu_seconds(radiusd: list[int], role: str) -> dict[int, float]:
    """CPU time so far of FreeRADIUS and of its PostgreSQL sessions, per process: the cost of a
    request whatever else the machine runs (wall-clock figures suffer from every other process)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE usename = %s", [role])
        pids = [*radiusd, *(row[0] for row in cursor.fetchall())]
    seconds = {pid: process_cpu_seconds(pid) for pid in pids}
    return {pid: used for pid, used in seconds.items() if used is not None}


# Packet makers: module level, so forked load processes find them by name.
_shape: dict[str, Any] = {"users": 1000, "tenants": 100, "run": "x"}


def views_request(client: Any, r: int) -> Any:
    from pyrad import packet as rp

    u = r % _shape["users"]
    request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name=f"user{u}")
    request["User-Password"] = request.PwCrypt(f"pass{u}")
    return request


def flat_request(client: Any, r: int) -> Any:
    from pyrad import packet as rp

    u, t = r % _shape["users"], (r // _shape["users"]) % _shape["tenants"]
    request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name=f"t{t}_user{u}")
    request["User-Password"] = request.PwCrypt(f"pass{u}")
    return request


def acct_request(client: Any, r: int) -> Any:
    request = client.CreateAcctPacket()
    request["Acct-Status-Type"] = ("Start", "Interim-Update", "Stop")[r % 3]
    request["User-Name"] = f"user{r % _shape['users']}"
    request["Acct-Session-Id"] = f"bench-{_shape['run']}-{r % 5000}"
    request["Acct-Input-Octets"] = r % 100000
    request["Acct-Output-Octets"] = r % 1000000
    return request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16, help="Requests in flight")
    parser.add_argument("--threads", type=int, default=8, help="FreeRADIUS worker threads (both setups)")
    parser.add_argument("--db-pool", type=int, default=8, help="FreeRADIUS sql connections (both setups)")
    parser.add_argument("--rounds", type=int, default=8,
                        help="Alternating rounds the requests of each setup are split into")
    parser.add_argument("--seed-processes", type=int, default=3)
    parser.add_argument(
        "--warmup",
        type=int,
        default=None,
        help="Requests before measuring (default 60 per ISP: every FreeRADIUS database"
        " connection plans each ISP's lookup once)",
    )
    args = parser.parse_args()
    setup_django()

    from django.conf import settings
    from django.db import connection
    from pyrad import packet as rp

    from network.radius.run import ensure_installed
    from tests.radius.support import Database, RadiusServer, start_server

    ensure_installed()  # as make test does: apt-get as root, else the exact command
    seed(args.tenants, args.users, processes=args.seed_processes)
    db = connection.settings_dict
    database = Database(
        host=str(db["HOST"]),
        port=int(db["PORT"] or 5432),
        name=str(db["NAME"]),
        user=settings.RADIUS_DB_ROLE,
        password=settings.RADIUS_DB_PASSWORD or None,
    )
    _shape.update(users=args.users, tenants=args.tenants, run=secrets.token_hex(3))
    nases = [(nas_address(n), f"bench-secret-{n}") for n in range(args.tenants)]
    warmup = args.warmup if args.warmup is not None else 60 * args.tenants
    setups: dict[str, tuple[dict[str, Any], PacketMaker]] = {
        "views": ({}, views_request),
        "flat": ({"authorize_check_query": FLAT_CHECK, "authorize_reply_query": FLAT_REPLY}, flat_request),
    }
    samples: dict[str, Sample] = {}
    cpu: dict[str, float] = {name: 0.0 for name in setups}
    radiusd_cpu: dict[str, float] = {name: 0.0 for name in setups}
    with tempfile.TemporaryDirectory() as tmp:
        servers: dict[str, RadiusServer] = {}
        try:
            for name, (queries, _) in setups.items():
                servers[name] = start_server(
                    database,
                    Path(tmp) / name,
                    nas_networks=["127.0.0.0/8"],
                    reject_delay=0,
                    threads=args.threads,
                    db_pool_max=args.db_pool,
                    **queries,
                )
            targets = {name: Target(server.auth_port, server.acct_port, nases) for name, server in servers.items()}
            pids = [server.process.pid for server in servers.values() if server.process is not None]
            for name, (_, make) in setups.items():
                send_load(make, targets[name], requests=warmup, concurrency=args.concurrency, ok=rp.AccessAccept)
            # Both servers run side by side; rounds alternate between them (views, flat, flat, views, ...), so a
            # host that speeds up or slows down during the run weighs on both setups alike. Only the round's
            # server is busy: the CPU of every FreeRADIUS and every session of its role counts for that setup.
            order = [name for k in range(args.rounds) for name in (("views", "flat") if k % 2 == 0 else ("flat", "views"))]
            for k, name in enumerate(order):
                before = _cpu_seconds(pids, settings.RADIUS_DB_ROLE)
                sample = send_load(setups[name][1], targets[name], requests=args.requests // args.rounds,
                                   concurrency=args.concurrency, ok=rp.AccessAccept, seed_=k)
                used = _cpu_seconds(pids, settings.RADIUS_DB_ROLE)
                cpu[name] += sum(used[pid] - before.get(pid, 0.0) for pid in used)
                radiusd_cpu[name] += sum(used[pid] - before[pid] for pid in pids if pid in used and pid in before)
                samples[name] = samples[name] + sample if name in samples else sample
            samples["accounting"] = send_load(
                acct_request, targets["views"], requests=args.requests // 2, concurrency=args.concurrency,
                ok=rp.AccountingResponse,
            )
        finally:
            for server in servers.values():
                server.stop()
    results = {name: sample.summary() for name, sample in samples.items()}
    for name in setups:
        results[name]["cpu_us"] = cpu[name] / len(samples[name].latencies) * 1e6
        results[name]["radiusd_us"] = radiusd_cpu[name] / len(samples[name].latencies) * 1e6

    print(
        f"{args.requests} Access-Requests, {args.concurrency} in flight, {args.tenants} ISPs x {args.users}"
        f" subscribers, {args.tenants} NASes; FreeRADIUS {args.threads} threads, {args.db_pool} sql connections"
        f" (after a warm-up of {warmup} requests per setup; in {args.rounds} alternating rounds each;"
        f" load avg before {os.getloadavg()[0]:.1f})"
    )
    for name in ("views", "flat"):
        r = results[name]
        print(
            f"  {name:>5}: {r['rps']:7.0f} req/s  p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms"
            f"  non-accept {r['failures']:.0f}"
        )
    ratio = results["views"]["rps"] / results["flat"]["rps"]
    cpu_ratio = results["flat"]["cpu_us"] / results["views"]["cpu_us"]
    print(
        f"  CPU per Access-Request (FreeRADIUS + its PostgreSQL sessions): views {results['views']['cpu_us']:.0f} us,"
        f" flat {results['flat']['cpu_us']:.0f} us (of which FreeRADIUS {results['views']['radiusd_us']:.0f} /"
        f" {results['flat']['radiusd_us']:.0f} us); capacity ratio views/flat {cpu_ratio:.2f}"
    )
    a = results["accounting"]
    print(
        f"  accounting (views server): {a['rps']:7.0f} packets/s  p50 {a['p50_ms']:.2f} ms  p99 {a['p99_ms']:.2f} ms"
        f"  unanswered {a['failures']:.0f}"
    )
    print(
        f"  ratio views/flat {ratio:.2f} (target >= 0.85: {'met' if ratio >= 0.85 else 'MISSED'});"
        f" views p99 {results['views']['p99_ms']:.2f} ms (target < 20 ms:"
        f" {'met' if results['views']['p99_ms'] < 20 else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
