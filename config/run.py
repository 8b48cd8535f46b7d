"""`make run`: embedded services, migrations, demo data, then web + Celery worker + beat in the foreground.

Ctrl-C (or SIGTERM) stops every process this started, including the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent
PROFILE = "dev"


def _spawn(name: str, args: list[str], env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    print(f"[run] starting {name}: {' '.join(args)}", flush=True)
    return name, subprocess.Popen(args, cwd=BASE_DIR, env=env)


def web_command(port: int = 8000, *, workers: int = 2) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", str(workers), "--threads", "4", "--access-logfile", "-", "--timeout", "60"]


def main() -> int:
    os.environ.setdefault("BACKHAUL_MODE", "development")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    pg_was_running = (embedded.pg_dir(PROFILE) / "postmaster.pid").exists()
    env = {**os.environ, **embedded.services_start(PROFILE)}
    python = sys.executable
    manage = [python, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([*manage, "seed_demo"], cwd=BASE_DIR, env=env, check=True)

    beat_schedule = embedded.data_dir(PROFILE) / "celerybeat-schedule"
    children = [
        _spawn("web", web_command(8000), env),
        _spawn("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                          "--concurrency", "2", "--hostname", "worker@%h"], env),
        _spawn("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                        "--schedule", str(beat_schedule)], env),
    ]

    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    print(f"[run] {name} exited with {child.returncode}; stopping", flush=True)
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
    finally:
        print("[run] stopping web, worker and beat ...", flush=True)
        for _, child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for _, child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
        if not pg_was_running:
            print("[run] stopping embedded PostgreSQL and Redis", flush=True)
            embedded.services_stop(PROFILE)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
