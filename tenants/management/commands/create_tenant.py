"""Create an ISP from a script: `manage.py create_tenant --name … --slug … --admin-email … --admin-password …`."""

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create an ISP (tenant schema, domain and admin login)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", required=True, help="subdomain")
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)
        parser.add_argument("--admin-name", default="")
        parser.add_argument("--currency", default="USD")
        parser.add_argument("--timezone", default="UTC")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            tenant = tenant_create(
                name=options["name"], slug=options["slug"], admin_email=options["admin_email"],
                admin_password=options["admin_password"], admin_name=options["admin_name"],
                currency=options["currency"], timezone=options["timezone"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {tenant.name} ({tenant.schema_name}) at {tenant.slug}."))
