"""Writes on tenants: signup, suspension."""

from __future__ import annotations

import functools
import re
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tenants.db import violated_constraint
from tenants.models import Domain, Tenant, TenantStatus
from tenants.schemas import schema_clone_from_template

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")


def schema_name_for(slug: str) -> str:
    return "isp_" + slug.replace("-", "_")


def tenant_slug_validate(slug: str) -> str:
    slug = slug.strip().lower()
    if not SLUG_RE.fullmatch(slug) or "--" in slug:
        raise ValidationError(
            {"slug": "Use 3-40 characters: lowercase letters, digits and single hyphens, "
                     "starting with a letter and not ending with a hyphen."}
        )
    if slug in settings.RESERVED_SUBDOMAINS:
        raise ValidationError({"slug": f"“{slug}” is reserved. Please choose another subdomain."})
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"“{slug}” is already taken."})
    return slug


def tenant_create(
    *,
    name: str,
    slug: str,
    admin_email: str,
    admin_password: str,
    admin_name: str = "",
    currency: str = "USD",
    timezone: str = "UTC",
    tax_rate: Decimal = Decimal("0.00"),
) -> Tenant:
    """Create an ISP: its schema (cloned from the template), its platform domain and its admin.

    Everything happens in one transaction, DDL included, so a failure leaves no tenant row, schema,
    domain or user behind.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Enter the ISP's name."})
    slug = tenant_slug_validate(slug)
    admin_email = User.objects.normalize_email(admin_email.strip()).lower()
    validate_password(admin_password, User(email=admin_email, full_name=admin_name))

    try:
        with transaction.atomic():
            tenant = Tenant(
                name=name, slug=slug, schema_name=schema_name_for(slug),
                currency=currency.upper(), timezone=timezone, tax_rate=tax_rate,
            )
            tenant.full_clean(exclude=["schema_name"], validate_unique=False)
            try:
                tenant.save()
            except ValidationError as exc:  # django-tenants' own check that the schema name is free
                raise ValidationError({"slug": f"“{slug}” is already taken."}) from exc
            schema_clone_from_template(schema_name=tenant.schema_name)
            _radius_register(schema_name=tenant.schema_name)
            Domain.objects.create(domain=f"{slug}.{settings.PLATFORM_DOMAIN}", tenant=tenant, is_primary=True)
            with schema_context(tenant.schema_name):
                tenant_schema_seed(tenant=tenant, admin_email=admin_email, admin_password=admin_password,
                                   admin_name=admin_name)
    except IntegrityError as exc:
        # Two signups racing for one subdomain: the unique constraint decides.
        constraint = violated_constraint(exc)
        if "slug" in constraint or "schema_name" in constraint or "domain" in constraint:
            raise ValidationError({"slug": f"“{slug}” is already taken."}) from exc
        raise
    return tenant


def _radius_register(*, schema_name: str) -> None:
    """The tenant's accounting partitions in the shared radius schema (its status is read live
    from tenants_tenant by the radius.tenant view), inside the signup transaction."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT radius.ensure_tenant_partition(%s)", [schema_name])


def tenant_schema_seed(*, tenant: Tenant, admin_email: str, admin_password: str, admin_name: str) -> None:
    """Initial rows inside a new ISP schema (runs with that schema active, inside the signup
    transaction)."""
    # Imported here: these apps' services import tenants.
    from accounts.services import user_welcome_schedule
    from hierarchy.models import Membership
    from hierarchy.services import operator_root_create

    root = operator_root_create(name=tenant.name, email=admin_email)
    admin = User.objects.create_user(
        email=admin_email, password=admin_password, full_name=admin_name, role=Role.ADMIN, is_staff=True,
    )
    Membership.objects.create(user=admin, operator=root)
    user_welcome_schedule(schema_name=tenant.schema_name, user=admin)


def tenant_suspend(*, tenant: Tenant, reason: str = "") -> Tenant:
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        locked.status = TenantStatus.SUSPENDED
        locked.status_reason = reason[:200]
        locked.save(update_fields=["status", "status_reason"])
        # Its RADIUS answers turn to Reject at once; live sessions are dropped by Disconnect-Requests.
        from network.tasks import radius_tenant_disconnect

        transaction.on_commit(functools.partial(radius_tenant_disconnect.delay, locked.schema_name), robust=True)
    return locked


def tenant_unsuspend(*, tenant: Tenant) -> Tenant:
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        locked.status = TenantStatus.ACTIVE
        locked.status_reason = ""
        locked.save(update_fields=["status", "status_reason"])
    return locked
