"""Creating tenant schemas by cloning the template schema, and keeping the template current.

django-tenants' clone path (TENANT_BASE_SCHEMA) copies a schema kept at the latest migration, so a new
ISP costs one clone instead of running every migration. If the template were missing, django-tenants
would quietly fall back to migrations; we refuse instead so a slow path never hides.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import call_command
from django.db import connection
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from tenants.db import schema_use_public


def template_schema_name() -> str:
    return str(settings.TENANT_BASE_SCHEMA)


def template_schema_ensure(
    *, verbosity: int = 0, app_label: str | None = None, migration_name: str | None = None
) -> bool:
    """Create the template schema if missing and migrate it (to the latest state unless a target is
    named, exactly as the tenants were). True if created."""
    name = template_schema_name()
    created = False
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
        created = True
    clone_function_install()
    targets = [arg for arg in (app_label, migration_name) if arg]
    call_command(
        "migrate_schemas", *targets, schema_name=name, tenant=True, interactive=False, verbosity=verbosity
    )
    schema_use_public()
    return created


def clone_function_install() -> None:
    """(Re)create django-tenants' clone_schema() SQL function; done by `migrate`, not per signup.

    django-tenants replaces the function on every clone, which serialises concurrent signups on the
    function's lock and slows a long-lived connection down clone after clone.
    """
    CloneSchema()._create_clone_schema_function()


def _clone_function_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('public.clone_schema(text, text, text)') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def schema_clone_from_template(*, schema_name: str) -> None:
    template = template_schema_name()
    schema_use_public()
    if not schema_exists(template):
        raise ImproperlyConfigured(
            f"The tenant template schema {template!r} is missing; run `python manage.py migrate` first."
        )
    if schema_exists(schema_name, case_sensitive=False):
        raise ValidationError(f"Schema {schema_name!r} already exists.")
    if not _clone_function_exists():
        clone_function_install()
    with connection.cursor() as cursor:
        cursor.execute("SELECT public.clone_schema(%s, %s, 'DATA')", [template, schema_name])
    schema_use_public()


def schema_create_by_migrations(*, schema_name: str) -> None:
    """The slow path, kept for the signup benchmark's comparison."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{schema_name}"')
    call_command("migrate_schemas", schema_name=schema_name, tenant=True, interactive=False, verbosity=0)
    schema_use_public()
