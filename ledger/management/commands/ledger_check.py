"""`manage.py ledger_check [--schema isp_x]`: check every ISP's books; exit 1 on any problem."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from ledger.checks import ledger_check
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Check that balances sum to zero per currency, cached balances equal the postings, entries balance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--schema", help="Only this ISP schema")

    def handle(self, *args: Any, **options: Any) -> None:
        tenants = Tenant.objects.exclude(schema_name="public")
        if options.get("schema"):
            tenants = tenants.filter(schema_name=options["schema"])
        failed = []
        for schema in tenants.values_list("schema_name", flat=True):
            with schema_context(schema):
                report = ledger_check(schema=schema)
            self.stdout.write("\n".join(report.lines()))
            if not report.ok:
                failed.append(schema)
        if failed:
            raise CommandError(f"ledger check failed for: {', '.join(failed)}")
