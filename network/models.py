"""Routers / NASes of one ISP (each mirrored into the shared registry radius.nas by network.services),
and the log of RADIUS actions sent to them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from hierarchy import authority
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


class RadiusActionKind(models.TextChoices):
    DISCONNECT = "disconnect", "Disconnect-Request"
    COA = "coa", "CoA-Request"


class RadiusActionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACKED = "acked", "Acknowledged"
    NAKED = "naked", "Refused by the NAS"
    FAILED = "failed", "Failed (retries exhausted)"


class DisconnectRequest(models.Model):
    """One RFC 5176 Disconnect- or CoA-Request to one NAS for one session: the visible log of
    what was sent, how often, and how the NAS answered (failures are retried by network.tasks)."""

    kind = models.CharField(max_length=10, choices=RadiusActionKind.choices)
    subscriber = models.ForeignKey(
        "hierarchy.Subscriber", null=True, blank=True, on_delete=models.SET_NULL, related_name="radius_actions"
    )
    username = models.CharField(max_length=253)
    nas = models.ForeignKey(Nas, null=True, blank=True, on_delete=models.SET_NULL, related_name="radius_actions")
    nas_address = models.GenericIPAddressField()
    acct_session_id = models.CharField(max_length=253, blank=True)
    attributes = models.JSONField(default=dict, blank=True, help_text="Extra attributes sent (CoA: the new rate)")
    status = models.CharField(max_length=10, choices=RadiusActionStatus.choices, default=RadiusActionStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["status", "created"], name="radius_action_status")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=RadiusActionKind.values), name="radius_action_kind_valid"),
            models.CheckConstraint(
                condition=Q(status__in=RadiusActionStatus.values), name="radius_action_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.username}@{self.nas_address}: {self.status}"


class QuotaAlert(models.Model):
    """A customer crossed 80 % or 100 % of its package's data quota in one validity period.
    Unique per period and threshold, so each alert is recorded (and emailed) once."""

    subscriber = models.ForeignKey("hierarchy.Subscriber", on_delete=models.CASCADE, related_name="quota_alerts")
    threshold = models.PositiveSmallIntegerField()
    period_start = models.DateTimeField()
    used_bytes = models.BigIntegerField()
    quota_bytes = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "threshold", "period_start"], name="quota_alert_once"),
            models.CheckConstraint(condition=Q(threshold__in=[80, 100]), name="quota_alert_threshold_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} {self.threshold}%"


# Where each model's node path lives, for the scope gate (hierarchy.authority.restrict). A router is a Nas row.
authority.scoped(Nas, path_field="owner__path")
authority.scoped(DisconnectRequest, path_field="subscriber__owner__path", customer_field="subscriber__user_id")
authority.scoped(QuotaAlert, path_field="subscriber__owner__path", customer_field="subscriber__user_id")

# Router jobs, imported pools and read copies live beside the routers' code.
from network.routers.models import RouterIpPool, RouterJob, RouterSnapshot  # noqa: E402

__all__ = ["Nas", "NasType", "RouterIpPool", "RouterJob", "RouterSnapshot", "RouterStatus"]
