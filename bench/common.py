"""Benchmarks run against their own embedded PostgreSQL/Redis ("bench" profile) unless DATABASE_URL /
REDIS_URL are set, so they never touch the demo or test data."""

from __future__ import annotations

import os
import statistics
from pathlib import Path


def setup_django() -> None:
    from config import embedded

    os.environ.setdefault("BACKHAUL_MODE", "development")
    os.environ.update(embedded.services_start("bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a local process so far, read from /proc (None if it cannot be read,
    e.g. a remote database or a process that is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (f"n={len(values)} mean={statistics.fmean(values) * 1000:.1f} ms "
            f"p50={percentile(values, 50) * 1000:.1f} ms p95={percentile(values, 95) * 1000:.1f} ms")
