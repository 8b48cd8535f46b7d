"""The role tree inside one ISP, its packages and its subscribers.

Operator nodes store a materialized path ("/1/7/42/"), so "everything under node X" is one indexed
prefix query (``path LIKE '/1/7/%'``), never a walk in Python.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Now
from django.utils import timezone

from hierarchy import authority


class NodeKind(models.TextChoices):
    ISP = "isp", "ISP"
    RESELLER = "reseller", "Reseller"
    SUB_RESELLER = "sub_reseller", "Sub-reseller"


class BillingMode(models.TextChoices):
    PREPAID = "prepaid", "Prepaid"
    POSTPAID = "postpaid", "Postpaid"


class NodeStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"


class Operator(models.Model):
    """A node of the role tree: the ISP itself (the root), a reseller or a sub-reseller."""

    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, unique=True, editable=False)
    depth = models.PositiveSmallIntegerField(editable=False)
    kind = models.CharField(max_length=16, choices=NodeKind.choices)
    name = models.CharField(max_length=120)
    contact_name = models.CharField(max_length=120, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)
    address = models.CharField(max_length=255, blank=True)
    billing_mode = models.CharField(max_length=10, choices=BillingMode.choices, default=BillingMode.POSTPAID)
    share_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="This node's share of what its subtree's customers pay, as a percent of its parent's share.",
    )
    credit_limit = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))],
        help_text="Postpaid nodes: how much the node may owe for what it sells (set by its parent; 0 = none).",
    )
    status = models.CharField(max_length=10, choices=NodeStatus.choices, default=NodeStatus.ACTIVE)
    suspends_customers = models.BooleanField(
        default=False, help_text="While suspended, this node's customers are refused service too."
    )
    brand_name = models.CharField(max_length=120, blank=True)
    brand_color = models.CharField(max_length=7, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        # Granted with django-guardian on one node: the holder's scope extends to that node's subtree.
        permissions = [("access_subtree", "Can act within this node's subtree (explicit grant)"),
                       ("manage_network", "Can register and change NAS and routers (explicit grant on the ISP)")]
        indexes = [models.Index(fields=["path"], name="operator_path_prefix", opclasses=["varchar_pattern_ops"])]
        constraints = [
            models.UniqueConstraint(fields=["depth"], condition=Q(depth=0), name="operator_single_root"),
            models.CheckConstraint(
                condition=(Q(depth=0, parent__isnull=True, kind="isp")
                           | Q(depth__gt=0, parent__isnull=False) & ~Q(kind="isp")),
                name="operator_root_is_the_isp",
            ),
            models.CheckConstraint(condition=Q(share_percent__gte=0, share_percent__lte=100),
                                   name="operator_share_range"),
            models.CheckConstraint(condition=Q(status__in=NodeStatus.values), name="operator_status_valid"),
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="operator_credit_limit_not_negative"),
            models.CheckConstraint(condition=Q(billing_mode__in=BillingMode.values), name="operator_billing_valid"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_root(self) -> bool:
        return self.depth == 0


class Membership(models.Model):
    """Which node a staff/reseller login belongs to; its role is on the user."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    operator = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="members")

    def __str__(self) -> str:
        return f"{self.user} @ {self.operator}"


class ConnectionType(models.TextChoices):
    PPPOE = "pppoe", "PPPoE"
    HOTSPOT = "hotspot", "Hotspot (MAC)"
    STATIC = "static", "Static IP"


class QuotaAction(models.TextChoices):
    REJECT = "reject", "Reject"
    THROTTLE = "throttle", "Throttle"


class TaxClass(models.TextChoices):
    STANDARD = "standard", "Standard rate"
    EXEMPT = "exempt", "Exempt"


class Package(models.Model):
    """A master package defined by the ISP."""

    name = models.CharField(max_length=120, unique=True)
    type = models.CharField(max_length=10, choices=ConnectionType.choices)
    download_kbps = models.PositiveIntegerField()
    upload_kbps = models.PositiveIntegerField()
    burst_download_kbps = models.PositiveIntegerField(null=True, blank=True)
    burst_upload_kbps = models.PositiveIntegerField(null=True, blank=True)
    burst_threshold_download_kbps = models.PositiveIntegerField(null=True, blank=True)
    burst_threshold_upload_kbps = models.PositiveIntegerField(null=True, blank=True)
    burst_time_seconds = models.PositiveIntegerField(null=True, blank=True)
    quota_mb = models.PositiveBigIntegerField(null=True, blank=True, help_text="Data quota per validity period")
    quota_action = models.CharField(max_length=10, choices=QuotaAction.choices, default=QuotaAction.REJECT)
    quota_throttle_download_kbps = models.PositiveIntegerField(null=True, blank=True)
    quota_throttle_upload_kbps = models.PositiveIntegerField(null=True, blank=True)
    validity_days = models.PositiveIntegerField(default=30)
    validity_hours = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    tax_class = models.CharField(max_length=10, choices=TaxClass.choices, default=TaxClass.STANDARD)
    visible = models.BooleanField(default=True)
    retired = models.BooleanField(default=False, help_text="Retired packages cannot be sold any more.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="package_price_not_negative"),
            models.CheckConstraint(condition=Q(download_kbps__gt=0, upload_kbps__gt=0), name="package_rates_positive"),
            models.CheckConstraint(condition=Q(validity_days__gt=0) | Q(validity_hours__gt=0),
                                   name="package_validity_positive"),
            models.CheckConstraint(
                condition=Q(burst_download_kbps__isnull=True)
                | Q(burst_upload_kbps__isnull=False, burst_threshold_download_kbps__isnull=False,
                    burst_threshold_upload_kbps__isnull=False, burst_time_seconds__isnull=False),
                name="package_burst_complete",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommissionMode(models.TextChoices):
    SHARE = "share", "Share of the parent's share"
    PRICE_DIFFERENCE = "price_difference", "Customer price minus own cost"


class PackageAssignment(models.Model):
    """A package offered by a reseller/sub-reseller at its price (never below its parent's cost)."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="assignments")
    operator = models.ForeignKey(Operator, on_delete=models.CASCADE, related_name="package_assignments")
    price = models.DecimalField(max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    commission_mode = models.CharField(max_length=20, choices=CommissionMode.choices, default=CommissionMode.SHARE)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["package", "operator"], name="assignment_unique"),
            models.CheckConstraint(condition=Q(price__gte=0), name="assignment_price_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.package} @ {self.operator}: {self.price}"


class SubscriberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    SUSPENDED = "suspended", "Suspended"
    DISABLED = "disabled", "Disabled"


USERNAME_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$",
    "Use 1-64 letters, digits and . _ @ : - (starting with a letter or digit); PPPoE clients reject others.",
)


class Subscriber(models.Model):
    """A customer of the ISP (PPPoE, hotspot or static-IP), owned by one node of the tree."""

    username = models.CharField(max_length=64, validators=[USERNAME_VALIDATOR])
    # Kept readable: RADIUS CHAP needs the cleartext (Cleartext-Password), as every RADIUS server does.
    password = models.CharField(max_length=128, blank=True)
    connection_type = models.CharField(max_length=10, choices=ConnectionType.choices, default=ConnectionType.PPPOE)
    # NULL, not "", for "no MAC": the partial unique index must ignore subscribers without one.
    mac_address = models.CharField(max_length=17, null=True, blank=True, help_text="AA:BB:CC:DD:EE:FF")  # noqa: DJ001
    ip_address = models.GenericIPAddressField(protocol="IPv4", null=True, blank=True)
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="subscribers")
    owner = models.ForeignKey(Operator, on_delete=models.PROTECT, related_name="subscribers")
    status = models.CharField(max_length=10, choices=SubscriberStatus.choices, default=SubscriberStatus.ACTIVE)
    # Paid-until. A prepaid customer always has one (a deferred constraint trigger, migration 0005: NULL
    # means "never expires" to RADIUS, allowed only for postpaid customers billed in arrears). A new row
    # starts expired (now) until a sale gives it time.
    expires_at = models.DateTimeField(null=True, blank=True, default=timezone.now, db_default=Now())
    billing_day = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(28)]
    )
    special_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    full_name = models.CharField(max_length=150, blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=255, blank=True)
    zone = models.CharField(max_length=80, blank=True)
    custom_fields = models.JSONField(default=dict, blank=True)
    suspended_by = models.ForeignKey(
        Operator, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Set while the subscriber is suspended because this (suspended) node suspends its customers.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="subscriber"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["username"]
        indexes = [
            models.Index(fields=["owner", "status", "username"], name="subscriber_owner_status_name"),
            models.Index(fields=["expires_at"], name="subscriber_expires"),
            models.Index(fields=["package"], name="subscriber_package"),
            # The customer list: "status=active, ordered by username, 50 a page" for the whole ISP.
            models.Index(fields=["status", "username"], name="subscriber_status_username"),
            # Free-text search is a case-insensitive prefix match (no pg_trgm on every host): lower(username),
            # lower(full_name) and lower(email) have text_pattern_ops expression indexes created by SQL in
            # migration 0002 (Django renders OpClass expressions only with django.contrib.postgres installed).
            models.Index(fields=["mobile"], name="subscriber_search_mobile", opclasses=["varchar_pattern_ops"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["username"], name="subscriber_username_unique"),
            models.UniqueConstraint(fields=["ip_address"], condition=Q(ip_address__isnull=False),
                                    name="subscriber_ip_unique"),
            models.UniqueConstraint(Lower("mac_address"), condition=Q(mac_address__isnull=False),
                                    name="subscriber_mac_unique"),
            models.CheckConstraint(condition=Q(status__in=SubscriberStatus.values), name="subscriber_status_valid"),
            models.CheckConstraint(condition=~Q(connection_type="static") | Q(ip_address__isnull=False),
                                   name="subscriber_static_has_ip"),
            models.CheckConstraint(condition=~Q(connection_type="hotspot") | Q(mac_address__isnull=False),
                                   name="subscriber_hotspot_has_mac"),
            models.CheckConstraint(condition=Q(billing_day__gte=1, billing_day__lte=28),
                                   name="subscriber_billing_day_range"),
        ]

    def __str__(self) -> str:
        return self.username


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class CustomFieldDefinition(models.Model):
    """A per-ISP extra field on subscribers (values live in Subscriber.custom_fields)."""

    key = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=80)
    type = models.CharField(max_length=10, choices=CustomFieldType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.label


# Where each model's node path lives, for the scope gate (hierarchy.authority.restrict).
authority.scoped(Operator, path_field="path")
authority.scoped(Membership, path_field="operator__path")
authority.scoped(PackageAssignment, path_field="operator__path")
authority.scoped(Subscriber, path_field="owner__path", customer_field="user_id")

# Models kept in their own modules (one domain each); imported here so Django registers them.
from hierarchy.audit import AuditEvent  # noqa: E402, F401
from hierarchy.imports import ImportJob  # noqa: E402, F401
