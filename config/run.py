"""`make run`: embedded services, migrations, demo data, then web + Celery worker + beat in the foreground.

Ctrl-C (or SIGTERM) stops every process this started, including the embedded PostgreSQL and Redis.
"""

from __future__ import annotations

import os
import signal
import socket
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


def _wait_for_web(web: subprocess.Popen[bytes], port: int = 8000) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and web.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)


def main() -> int:
    os.environ.setdefault("BACKHAUL_MODE", "development")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    already_running = embedded.services_running(PROFILE)
    env = {**os.environ, **embedded.services_start(PROFILE)}
    python = sys.executable
    manage = [python, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    banner = subprocess.run([*manage, "seed_demo"], cwd=BASE_DIR, env=env, check=True,
                            capture_output=True, text=True).stdout

    beat_schedule = embedded.data_dir(PROFILE) / "celerybeat-schedule"
    children = [
        _spawn("web", web_command(8000), env),
        _spawn("worker", [python, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
                          "--concurrency", "2", "--hostname", "worker@%h"], env),
        _spawn("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                        "--schedule", str(beat_schedule)], env),
    ]

    _wait_for_web(children[0][1])
    print(banner, flush=True)
    print("Press Ctrl-C to stop everything make run started.", flush=True)

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
        print("[run] stopping the embedded services this run started", flush=True)
        embedded.services_stop(PROFILE, keep=already_running)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
