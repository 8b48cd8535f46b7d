"""Routers / NASes of one ISP. Each is mirrored into the shared RADIUS NAS registry (radius.nas)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from hierarchy.models import Operator


class NasType(models.TextChoices):
    MIKROTIK = "mikrotik", "MikroTik RouterOS"
    OTHER = "other", "Other"


class RouterStatus(models.TextChoices):
    UNKNOWN = "unknown", "Not contacted yet"
    ONLINE = "online", "Online"
    UNREACHABLE = "unreachable", "Unreachable"


class Nas(models.Model):
    name = models.CharField(max_length=80)
    address = models.GenericIPAddressField(unique=True, help_text="Source address of its RADIUS packets")
    secret = models.CharField(max_length=128, help_text="RADIUS shared secret")
    nas_type = models.CharField(max_length=10, choices=NasType.choices, default=NasType.MIKROTIK)
    zone = models.CharField(max_length=80, blank=True)
    owner = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="nases")
    coa_port = models.PositiveIntegerField(default=3799)
    api_port = models.PositiveIntegerField(default=8728)
    api_tls = models.BooleanField(default=False)
    api_username = models.CharField(max_length=64, blank=True)
    api_password_encrypted = models.TextField(blank=True, help_text="Fernet token; see config.crypto")
    uses_radius = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)
    # What the last router job saw (network/routers/); never read by RADIUS.
    status = models.CharField(max_length=12, choices=RouterStatus.choices, default=RouterStatus.UNKNOWN)
    last_seen = models.DateTimeField(null=True, blank=True)
    ros_version = models.CharField(max_length=60, blank=True)
    identity = models.CharField(max_length=120, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "NAS / router"
        verbose_name_plural = "NASes / routers"
        constraints = [
            models.CheckConstraint(condition=Q(coa_port__gt=0, coa_port__lt=65536), name="nas_coa_port_range"),
            models.CheckConstraint(condition=Q(api_port__gt=0, api_port__lt=65536), name="nas_api_port_range"),
            models.CheckConstraint(condition=Q(status__in=RouterStatus.values), name="nas_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


# Router jobs, imported pools and read copies live beside the routers' code.
from network.routers.models import RouterIpPool, RouterJob, RouterSnapshot  # noqa: E402

__all__ = ["Nas", "NasType", "RouterIpPool", "RouterJob", "RouterSnapshot", "RouterStatus"]
