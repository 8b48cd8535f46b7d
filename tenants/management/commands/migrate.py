"""`migrate` = django-tenants' migrate_schemas, then bring the tenant template schema up to date."""

from typing import Any

from django_tenants.management.commands.migrate_schemas import MigrateSchemasCommand

from tenants.schemas import template_schema_ensure


class Command(MigrateSchemasCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        super().handle(*args, **options)
        only_public = options.get("shared") and not options.get("tenant")
        if options.get("schema_name") or only_public:
            return
        created = template_schema_ensure(
            verbosity=max(0, int(options.get("verbosity", 1)) - 1),
            app_label=options.get("app_label"),
            migration_name=options.get("migration_name"),
        )
        if options.get("verbosity", 1):
            self.stdout.write("Tenant template schema " + ("created." if created else "is current."))
