"""`make radius`: install FreeRADIUS if missing, write its config for the dev database, run it in
the foreground (Ctrl-C stops it).

    .venv/bin/python -m network.radius.run [--auth-port 1812 --acct-port 1813 --listen 127.0.0.1]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from config.debian import apt_install
from network.radius import config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PACKAGES = ("freeradius", "freeradius-postgresql")


def missing() -> bool:
    return shutil.which(config.FREERADIUS_BINARY) is None or not (
        config.MODULE_DIR / "rlm_sql_postgresql.so"
    ).exists()


def ensure_installed() -> None:
    """apt-get install as root; otherwise say exactly what to run, and stop."""
    if not missing():
        return
    apt_install(PACKAGES, purpose="FreeRADIUS (make radius)")
    # Debian starts the packaged service on install; ours runs with its own config.
    subprocess.run(["systemctl", "disable", "--now", "freeradius"], check=False, capture_output=True)


def main(argv: list[str]) -> int:
    from config import embedded

    ensure_installed()
    os.environ.setdefault("BACKHAUL_MODE", "development")
    env = {**os.environ, **embedded.services_start("dev")}
    out = BASE_DIR / ".data" / "radius" / "raddb"
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    subprocess.run([*manage, "radius_config", "--out", str(out), *argv], cwd=BASE_DIR, env=env, check=True)
    print(f"[radius] {' '.join(config.server_command(out))}", flush=True)
    try:
        return subprocess.run(config.server_command(out), check=False).returncode
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
