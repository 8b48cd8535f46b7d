from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Tenant(TenantMixin):
    """One ISP on the platform; its data lives in its own PostgreSQL schema."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=40, unique=True)
    status = models.CharField(max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    plan = models.CharField(max_length=40, default="standard")
    currency = models.CharField(max_length=3, default="USD")
    timezone = models.CharField(max_length=64, default="UTC")
    tax_rate = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Percent",
    )
    brand_color = models.CharField(max_length=7, default="#0d6efd")
    max_reseller_depth = models.PositiveSmallIntegerField(
        default=3, help_text="How many reseller levels may sit below the ISP."
    )
    radius_suspended_mode = models.CharField(
        max_length=10, choices=[("reject", "Reject"), ("pool", "Accept into the suspended pool")],
        default="reject",
    )
    suspended_pool = models.CharField(max_length=64, default="suspended")

    # Schemas are created by tenants.services.tenant_create (cloned from the template), never implicitly.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TenantStatus.values), name="tenant_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(tax_rate__gte=0, tax_rate__lte=100), name="tenant_tax_rate_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == TenantStatus.ACTIVE


class Domain(DomainMixin):
    """A host name that routes to a tenant: its platform subdomain or a verified custom domain."""

    verified = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.domain
