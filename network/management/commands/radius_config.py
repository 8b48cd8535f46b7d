"""Write a complete FreeRADIUS 3.2 config directory for this database.

    python manage.py radius_config --out DIR [--auth-port 1812 --acct-port 1813 --listen 127.0.0.1]
    freeradius -f -l stdout -d DIR
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from network.radius import config


class Command(BaseCommand):
    help = "Write a FreeRADIUS config directory (clients from radius.nas, function-based SQL queries)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="Directory to write (created if missing)")
        parser.add_argument("--auth-port", type=int, default=1812)
        parser.add_argument("--acct-port", type=int, default=1813)
        parser.add_argument("--listen", default="127.0.0.1", help="Address FreeRADIUS listens on")
        parser.add_argument(
            "--nas-network", action="append", dest="nas_networks",
            help="Networks NAS packets may come from (repeatable; default 0.0.0.0/0 - radius.nas decides)",
        )
        parser.add_argument("--nas-cache-seconds", type=int, default=30,
                            help="How long a NAS definition is cached before radius.nas is read again")
        parser.add_argument("--threads", type=int, default=32)

    def handle(self, *args: Any, **options: Any) -> None:
        db = settings.DATABASES["default"]
        for port in ("auth_port", "acct_port"):
            if not 0 < options[port] < 65536:
                raise CommandError(f"--{port.replace('_', '-')} must be between 1 and 65535")
        try:
            out = config.write_config(
                options["out"],
                db_host=str(db.get("HOST") or "127.0.0.1"),
                db_port=int(str(db.get("PORT") or 5432)),
                db_name=str(db["NAME"]),
                db_user=settings.RADIUS_DB_ROLE,
                db_password=settings.RADIUS_DB_PASSWORD or None,
                auth_port=options["auth_port"],
                acct_port=options["acct_port"],
                listen=options["listen"],
                nas_networks=options["nas_networks"] or ["0.0.0.0/0"],
                nas_cache_seconds=options["nas_cache_seconds"],
                threads=options["threads"],
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Wrote {out}\nRun: {' '.join(config.server_command(out))}")
