"""Idempotently create the demo platform operator and the demo ISP for `make run`."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tenants.models import Tenant
from tenants.services import tenant_create

DEMO_OPERATOR = ("operator@backhaul.local", "operator-demo-pass")
DEMO_ADMIN = ("admin@demo.local", "admin-demo-pass")


class Command(BaseCommand):
    help = "Create the demo operator and demo ISP if they do not exist yet; print the logins."

    def handle(self, *args: Any, **options: Any) -> None:
        email, password = DEMO_OPERATOR
        if not User.objects.filter(email=email).exists():
            User.objects.create_superuser(email=email, password=password, full_name="Demo Operator")
        tenant = Tenant.objects.filter(slug="demo").first()
        if tenant is None:
            tenant = tenant_create(
                name="Demo ISP", slug="demo", admin_email=DEMO_ADMIN[0], admin_password=DEMO_ADMIN[1],
                admin_name="Demo Admin",
            )
        with schema_context(tenant.schema_name):
            if not User.objects.filter(email=DEMO_ADMIN[0]).exists():
                User.objects.create_user(
                    email=DEMO_ADMIN[0], password=DEMO_ADMIN[1], full_name="Demo Admin", role=Role.ADMIN,
                )
        domain = settings.PLATFORM_DOMAIN
        self.stdout.write(
            "\n".join([
                "",
                "Backhaul is running:",
                f"  Public site & signup   http://{domain}:8000/        (http://{domain}:8000/signup/)",
                f"  Superadmin console     http://{domain}:8000/superadmin/   {DEMO_OPERATOR[0]} / {DEMO_OPERATOR[1]}",
                f"  Demo ISP panel         http://demo.{domain}:8000/     {DEMO_ADMIN[0]} / {DEMO_ADMIN[1]}",
                f"  Demo ISP API docs      http://demo.{domain}:8000/api/docs/",
                "",
            ])
        )
