"""`make test`: start the embedded test services (unless DATABASE_URL / REDIS_URL are set), check style and
types, run the whole pytest suite, stop what was started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import embedded
from network.radius import run as radius_run
from tests.support import system

BASE_DIR = Path(__file__).resolve().parent.parent
PROFILE = "test"


def main(argv: list[str]) -> int:
    os.environ["BACKHAUL_MODE"] = "test"
    # Importing `config` (for the embedded services) defaults DJANGO_SETTINGS_MODULE to the production
    # module, and that would win over pytest's ini setting.
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
    # The RADIUS tests run a real FreeRADIUS: install it (as root) or say how, and stop.
    radius_run.ensure_installed()
    bin_dir = Path(sys.executable).parent
    system.ensure()
    pg_was_running = (embedded.pg_dir(PROFILE) / "postmaster.pid").exists()
    env = {**os.environ, **embedded.services_start(PROFILE)}
    try:
        steps: list[tuple[str, list[str]]] = [
            ("ruff", [str(bin_dir / "ruff"), "check", "."]),
            ("mypy", [str(bin_dir / "mypy"), "."]),
            ("pytest", [sys.executable, "-m", "pytest", *argv]),
        ]
        if argv:  # a focused run (make test ARGS=...) skips the whole-tree checks
            steps = steps[-1:]
        for name, command in steps:
            print(f"== {name}", flush=True)
            result = subprocess.run(command, cwd=BASE_DIR, env=env, check=False)
            if result.returncode != 0:
                print(f"== {name} failed (exit {result.returncode})", flush=True)
                return result.returncode
        return 0
    finally:
        if not pg_was_running:
            embedded.services_stop(PROFILE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
