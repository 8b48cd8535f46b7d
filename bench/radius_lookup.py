"""What one Access-Request's authorize query costs inside PostgreSQL, by how requests spread over ISPs.

    .venv/bin/python -m bench.radius_lookup [--requests 8000] [--rounds 3]

One connection as the FreeRADIUS role (with its session settings) calls ``<schema>.radius_check`` for
subscribers of the bench ISPs that ``bench.radius`` seeds (it seeds them if missing), and the same
connection's backend CPU time is read from /proc: all requests to one ISP; over every ISP in batches
(sorted by ISP); over every ISP at random (what a FreeRADIUS connection sees). The stock flat
``radcheck``/``radreply`` queries are the baseline. No FreeRADIUS, no network: only the database's share.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
from collections.abc import Callable
from typing import Any

from bench.common import process_cpu_seconds, setup_django


def _backend_cpu(pid: int) -> float:
    used = process_cpu_seconds(pid)
    if used is None:
        raise SystemExit("bench.radius_lookup reads the database backend's CPU time from /proc: run it on the"
                         " database's machine")
    return used


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()

    import psycopg
    from django.conf import settings
    from django.db import connection

    from bench.radius import SLUG, nas_address, seed

    seed(args.tenants, args.users, processes=3)
    db = connection.settings_dict
    conn = psycopg.connect(host=db["HOST"], port=db["PORT"] or 5432, dbname=db["NAME"], autocommit=True,
                           user=settings.RADIUS_DB_ROLE, password=settings.RADIUS_DB_PASSWORD or None)
    pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]

    def views(tenant: int, user: int) -> list[str]:
        return [f"SELECT id, username, attribute, value, op FROM isp_{SLUG}{tenant:03d}.radius_check("
                f"'{nas_address(tenant)}', 'user{user}')"]

    def flat(tenant: int, user: int) -> list[str]:
        name = f"t{tenant}_user{user}"
        return [f"SELECT id, username, attribute, value, op FROM flat.{table} WHERE username = '{name}' ORDER BY id"
                for table in ("radcheck", "radreply")]

    rng = random.Random(1)
    spread = [(rng.randrange(args.tenants), rng.randrange(args.users)) for _ in range(args.requests)]
    cases: list[tuple[str, Callable[[int, int], list[str]], list[tuple[int, int]]]] = [
        ("radius_check, one ISP", views, [(0, user) for _, user in spread]),
        (f"radius_check, {args.tenants} ISPs in batches", views, sorted(spread)),
        (f"radius_check, {args.tenants} ISPs at random", views, spread),
        ("flat radcheck + radreply, at random", flat, spread),
        ("SELECT 1 (protocol and CPU speed)", lambda tenant, user: ["SELECT 1"], spread),
    ]
    for tenant in range(args.tenants):  # every ISP's function compiled and planned once on this connection
        for query in views(tenant, 1) + flat(tenant, 1):
            conn.execute(query).fetchall()
    print(f"{args.requests} requests per round, {args.rounds} rounds, one connection as {settings.RADIUS_DB_ROLE};"
          f" backend CPU per request (median of rounds, /proc at {os.sysconf('SC_CLK_TCK')} Hz):")
    for label, queries, work in cases:
        per_request: list[float] = []
        for _ in range(args.rounds):
            started = _backend_cpu(pid)
            rows: Any = 0
            for tenant, user in work:
                for query in queries(tenant, user):
                    rows += len(conn.execute(query).fetchall())
            per_request.append((_backend_cpu(pid) - started) / len(work) * 1e6)
        print(f"  {label:<42} {statistics.median(per_request):6.0f} us"
              f"  (rounds: {', '.join(f'{x:.0f}' for x in per_request)})")
    conn.close()


if __name__ == "__main__":
    main()
