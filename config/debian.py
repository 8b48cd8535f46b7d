"""Installing the Debian packages Backhaul drives (FreeRADIUS for `make radius`, Chromium for the suite).

One installer for both: as root it runs apt-get, waiting for another apt/dpkg run to release its lock
(two checkouts setting up at once is normal); otherwise it stops with the exact command to run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

# Wait up to 10 minutes for a concurrent apt-get/dpkg instead of failing at once.
LOCK_WAIT = ["-o", "DPkg::Lock::Timeout=600"]


def install_command(packages: Sequence[str]) -> list[str]:
    return ["apt-get", "install", "-y", "--no-install-recommends", *packages]


def apt_install(packages: Sequence[str], *, purpose: str) -> None:
    """Install ``packages`` (all missing) or raise SystemExit saying how to."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"{purpose} needs Debian packages {', '.join(packages)}. Install them with:\n"
                         f"    sudo apt-get update && sudo {' '.join(install_command(packages))}")
    print(f"== installing {', '.join(packages)} (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", *LOCK_WAIT, "update", "-qq"], check=True, env=env)
    subprocess.run([*install_command(packages)[:1], *LOCK_WAIT, *install_command(packages)[1:], "-qq"],
                   check=True, env=env)
