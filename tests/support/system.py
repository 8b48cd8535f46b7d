"""System packages the suite drives for real (Chromium, FreeRADIUS), installed from Debian's packages.

`make test` calls `ensure()` before pytest: as root it runs apt-get for whatever is missing; otherwise it
stops with the exact command to run.
"""

from __future__ import annotations

import os
import shutil

from config.debian import apt_install

# Debian package -> the executable that proves it is installed.
REQUIRED: dict[str, str] = {
    "chromium": "chromium",
}


def missing(required: dict[str, str] | None = None) -> list[str]:
    required = REQUIRED if required is None else required
    return [package for package, binary in required.items()
            if shutil.which(binary) is None and not os.path.exists(f"/usr/sbin/{binary}")]


def ensure(required: dict[str, str] | None = None) -> None:
    packages = missing(required)
    if packages:
        apt_install(packages, purpose="The test suite")
