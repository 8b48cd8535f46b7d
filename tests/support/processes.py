"""Start real platform processes (web, Celery worker) against the test database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    if str(db["HOST"]).startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{db['HOST']}{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "BACKHAUL_MODE": "test",
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        **extra,
    }


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python() -> str:
    return sys.executable


def worker_start(module: str, *args: str) -> subprocess.Popen[bytes]:
    """Start ``python -m module args…`` (a concurrency worker of the suite) against the test database."""
    return subprocess.Popen([python(), "-m", module, *args], cwd=BASE_DIR, env=child_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def worker_output(worker: subprocess.Popen[bytes], timeout: float = 300) -> str:
    """Wait for a worker; fail with its stderr unless it succeeded; return its last line of output."""
    out, err = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, f"a worker failed: {err.decode()[-3000:]}"
    return (out.decode().strip().splitlines() or [""])[-1]


def worker_run(module: str, *args: str) -> str:
    return worker_output(worker_start(module, *args))


def worker_summaries(workers: list[subprocess.Popen[bytes]]) -> list[dict[str, Any]]:
    """The JSON summary each worker prints last."""
    return [json.loads(worker_output(worker)) for worker in workers]
