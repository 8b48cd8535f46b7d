"""`make bench`: every benchmark script in turn."""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = ["bench.tenant_signup", "bench.customers", "bench.ledger", "bench.mikrotik_import", "bench.radius",
              "bench.radius_lookup",
              "bench.billing_run"]


def main() -> int:
    failed = 0
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        failed |= subprocess.run([sys.executable, "-m", module], check=False).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
