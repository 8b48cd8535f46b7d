"""Re-send queued router jobs that nothing will run (e.g. created while the broker was down).

Safe to run at any time, e.g. every few minutes from cron or Celery beat:
    python manage.py router_jobs_resume [--idle-minutes 10]
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import schema_context

from network.routers.services import router_jobs_resume
from tenants.models import Tenant


class Command(BaseCommand):
    help = "Re-send stale queued router jobs of every ISP to the worker queue."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--idle-minutes", type=int, default=10)

    def handle(self, *args: Any, **options: Any) -> None:
        idle = timedelta(minutes=options["idle_minutes"])
        for tenant in Tenant.objects.exclude(schema_name="public"):
            with schema_context(tenant.schema_name):
                ids = router_jobs_resume(idle=idle)
            if ids:
                self.stdout.write(f"{tenant.schema_name}: re-sent jobs {ids}")
