"""Prepaid recharges and vouchers (recharge cards), in the ISP's schema.

Invariants held by PostgreSQL (migration 0002): a voucher's status only moves forward
(new → sold → redeemed, new|sold → void), its PIN digest, batch and number never change, vouchers are
never deleted; the CHECKs below tie each status to its timestamps; a voucher recharges at most once
(``Recharge.voucher`` is unique); an API recharge posts once per Idempotency-Key (unique).
Money is in integer minor units.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q

from hierarchy import authority


class Unit(models.TextChoices):
    DAYS = "days", "Days"
    HOURS = "hours", "Hours"


class RechargeSource(models.TextChoices):
    RESELLER = "reseller", "Bought by a reseller or the ISP's staff"
    VOUCHER = "voucher", "Voucher redeemed"
    CUSTOMER = "customer", "Bought by the customer itself"


class Channel(models.TextChoices):
    API = "api", "API"
    PORTAL = "portal", "Customer portal"
    HOTSPOT = "hotspot", "Hotspot captive portal"
    PANEL = "panel", "Staff"


class Recharge(models.Model):
    """N days or hours of a package added to a customer's validity (from max(now, current expiry))."""

    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="recharges")
    package = models.ForeignKey("hierarchy.Package", on_delete=models.PROTECT, related_name="recharges")
    owner = models.ForeignKey("hierarchy.Operator", on_delete=models.PROTECT, related_name="recharges",
                              help_text="The customer's owner at the time of the recharge.")
    quantity = models.PositiveIntegerField()
    unit = models.CharField(max_length=5, choices=Unit.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    price = models.BigIntegerField(help_text="What the customer pays its owner (minor units, pro rata).")
    cost = models.BigIntegerField(help_text="What the owner's wallet was charged (minor units, pro rata).")
    source = models.CharField(max_length=8, choices=RechargeSource.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.API)
    voucher = models.OneToOneField("vouchers.Voucher", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="recharge")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="recharge")
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    payload_hash = models.CharField(max_length=64, blank=True)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["customer", "-created"], name="recharge_customer_created")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="recharge_quantity_positive"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="recharge_unit_valid"),
            models.CheckConstraint(condition=Q(source__in=RechargeSource.values), name="recharge_source_valid"),
            models.CheckConstraint(condition=Q(period_end__gt=models.F("period_start")), name="recharge_period_order"),
            models.CheckConstraint(condition=Q(price__gte=0, cost__gte=0), name="recharge_amounts_not_negative"),
            models.CheckConstraint(condition=Q(source="voucher", voucher__isnull=False)
                                   | Q(source__in=["reseller", "customer"], voucher__isnull=True),
                                   name="recharge_voucher_iff_source"),
            # What a customer buys itself is a sale on its receivable: never without its journal entry.
            models.CheckConstraint(condition=~Q(source="customer") | Q(entry__isnull=False) | Q(price=0),
                                   name="recharge_customer_has_entry"),
        ]

    def __str__(self) -> str:
        return f"recharge #{self.pk} {self.customer_id} +{self.quantity} {self.unit}"


class VoucherBatch(models.Model):
    """A print run of vouchers for one package and duration, owned by a node of the role tree."""

    package = models.ForeignKey("hierarchy.Package", on_delete=models.PROTECT, related_name="voucher_batches")
    quantity = models.PositiveIntegerField()
    unit = models.CharField(max_length=5, choices=Unit.choices)
    face_price = models.BigIntegerField(help_text="Printed price the buyer pays (minor units).")
    commission_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0,
                                             help_text="The selling distributor's node earns this share of the face price.")
    owner = models.ForeignKey("hierarchy.Operator", on_delete=models.PROTECT, related_name="voucher_batches")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    count = models.PositiveIntegerField()
    redeem_unsold = models.BooleanField(
        default=False, help_text="A voucher never recorded as sold may be redeemed: the sale is posted then, as cash "
                                 "collected by the batch's owner.")
    note = models.CharField(max_length=120, blank=True)
    valid_until = models.DateField(
        null=True, blank=True,
        help_text="Last day (in the ISP's time zone) a card of the batch may be sold or redeemed; none: no expiry.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="batch_quantity_positive"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="batch_unit_valid"),
            models.CheckConstraint(condition=Q(face_price__gt=0), name="batch_face_price_positive"),
            models.CheckConstraint(condition=Q(count__gte=1, count__lte=10_000), name="batch_count_range"),
            models.CheckConstraint(condition=Q(commission_percent__gte=0, commission_percent__lt=100),
                                   name="batch_commission_range"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} {self.count} x {self.quantity} {self.unit}"

    def expired_on(self, today: datetime.date) -> bool:
        return expired(self.valid_until, today)


def expired(valid_until: datetime.date | None, today: datetime.date) -> bool:
    """A card of a batch valid until ``valid_until`` (None: no expiry) no longer sells or redeems on ``today``.
    The same rule in SQL: services.VALID_ON."""
    return valid_until is not None and valid_until < today


class VoucherStatus(models.TextChoices):
    NEW = "new", "New (in stock)"
    SOLD = "sold", "Sold"
    REDEEMED = "redeemed", "Redeemed"
    VOID = "void", "Void"


class Voucher(models.Model):
    """One card. The PIN is stored twice: an HMAC digest (unique, for lookup) and Fernet-encrypted (so
    authorised users can reprint the sheet); the plain PIN is never stored."""

    batch = models.ForeignKey(VoucherBatch, on_delete=models.PROTECT, related_name="vouchers")
    number = models.PositiveIntegerField(help_text="Position in the batch (1..count).")
    pin_digest = models.CharField(max_length=64, unique=True)
    pin_encrypted = models.TextField()
    status = models.CharField(max_length=8, choices=VoucherStatus.choices, default=VoucherStatus.NEW)
    distributor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="voucher_stock")
    sold_at = models.DateTimeField(null=True, blank=True)
    sold_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+")
    seller_node = models.ForeignKey("hierarchy.Operator", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", help_text="The node holding the cash of the sale.")
    sale_entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="voucher_sold")
    commission = models.BigIntegerField(default=0, help_text="Commission posted to the seller's node at sale.")
    redeemed_by = models.ForeignKey("hierarchy.Subscriber", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="vouchers_redeemed")
    redeemed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="voucher_voided")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "number"]
        indexes = [
            models.Index(fields=["batch", "status"], name="voucher_batch_status"),
            models.Index(fields=["distributor", "status"], name="voucher_distributor_status"),
            models.Index(fields=["sold_at"], name="voucher_sold_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="voucher_number_unique"),
            models.CheckConstraint(condition=Q(status__in=VoucherStatus.values), name="voucher_status_valid"),
            models.CheckConstraint(
                condition=(Q(status="new", sold_at__isnull=True, redeemed_at__isnull=True, voided_at__isnull=True)
                           | Q(status="sold", sold_at__isnull=False, redeemed_at__isnull=True, voided_at__isnull=True)
                           | Q(status="redeemed", sold_at__isnull=False, redeemed_at__isnull=False,
                               redeemed_by__isnull=False, voided_at__isnull=True)
                           | Q(status="void", voided_at__isnull=False, redeemed_at__isnull=True)),
                name="voucher_status_fields",
            ),
        ]

    def __str__(self) -> str:
        return self.serial

    @property
    def serial(self) -> str:
        return f"{self.batch_id:05d}-{self.number:05d}"


# Where each row's node path lives, for the one scope gate (hierarchy.authority.restrict). A card
# distributor's own stock is cut further by the selectors.
authority.scoped(VoucherBatch, path_field="owner__path")
authority.scoped(Voucher, path_field="batch__owner__path")
authority.scoped(Recharge, path_field="customer__owner__path", customer_field="customer__user_id")
