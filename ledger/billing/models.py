"""Monthly billing of one ISP (lives in the ISP's schema): settings, customers' billing profiles, tax per
package, promo codes, invoices and their lines, credit notes, how payments and credits are allocated to
invoices, late fees and package changes.

Amounts are integers in minor units. The invariants are PostgreSQL's (CHECKs here, triggers in migration
0002): an issued invoice never changes except its status and its paid/credited amounts, which only the
allocation trigger writes; the allocations of an invoice never exceed its total, those of a payment or a
credit note never exceed its amount; numbers are gapless per series (a counter row updated in the issuing
transaction); a late fee is posted once per invoice; a promo code never exceeds its usage limit nor is used
twice by one customer.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from hierarchy import authority


class BillingSettings(models.Model):
    """The ISP's billing preferences (one row per ISP schema)."""

    singleton = models.BooleanField(default=True, unique=True, editable=False)
    calendar_month = models.BooleanField(
        default=False, help_text="Invoice every customer on the 1st instead of on its own billing day.")
    grace_days = models.PositiveSmallIntegerField(default=7, help_text="Days after the due date before a late fee.")
    late_fee_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    late_fee_fixed = models.BigIntegerField(default=0, help_text="Minor units")
    invoice_due_days = models.PositiveSmallIntegerField(default=7)
    number_prefix = models.CharField(max_length=12, default="INV-")
    credit_note_prefix = models.CharField(max_length=12, default="CN-")
    suspend_overdue = models.BooleanField(
        default=False, help_text="Suspend a customer whose invoice is overdue past the grace period.")
    # Bounds on what staff may give away (hierarchy.authority decides who; these decide how much).
    max_discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("50"),
        help_text="Largest standing discount or percent promo, and the most of an invoice credit notes may cancel.")
    max_voucher_discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("0"),
        help_text="How far below its owner's cost a voucher card may be printed (0: never below cost).")
    max_voucher_commission_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("20"),
        help_text="Largest commission a voucher batch may pay the node that sells a card.")
    voucher_max_valid_days = models.PositiveSmallIntegerField(
        null=True, blank=True, default=366,
        help_text="Voucher cards are sold and redeemed at most this many days after printing (empty: no limit).")

    class Meta:
        verbose_name_plural = "billing settings"
        constraints = [
            models.CheckConstraint(condition=Q(singleton=True), name="billing_settings_single"),
            models.CheckConstraint(condition=Q(late_fee_percent__gte=0, late_fee_percent__lte=100),
                                   name="billing_late_fee_percent_range"),
            models.CheckConstraint(condition=Q(late_fee_fixed__gte=0), name="billing_late_fee_fixed_positive"),
            models.CheckConstraint(
                condition=Q(max_discount_percent__gte=0, max_discount_percent__lte=100,
                            max_voucher_discount_percent__gte=0, max_voucher_discount_percent__lte=100,
                            max_voucher_commission_percent__gte=0, max_voucher_commission_percent__lt=100),
                name="billing_settings_bounds_range"),
        ]

    def __str__(self) -> str:
        return "billing settings"


class BillingModel(models.TextChoices):
    MONTHLY = "monthly", "Monthly invoices"
    DAILY = "daily", "Daily / short prepaid recharge"


class PaymentTerms(models.TextChoices):
    PREPAID = "prepaid", "Prepaid (invoice at the start of the period)"
    POSTPAID = "postpaid", "Postpaid (invoice at the end of the period)"


class BillingProfile(models.Model):
    """How one customer is billed. Customers without a profile are not invoiced (recharge/activation only)."""

    customer = models.OneToOneField("hierarchy.Subscriber", on_delete=models.CASCADE, related_name="billing_profile")
    model = models.CharField(max_length=8, choices=BillingModel.choices, default=BillingModel.MONTHLY)
    terms = models.CharField(max_length=8, choices=PaymentTerms.choices, default=PaymentTerms.PREPAID)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    start_date = models.DateField(help_text="No period starting before this day is invoiced.")
    suspended_for_nonpayment = models.BooleanField(default=False)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(model__in=BillingModel.values), name="billing_profile_model_valid"),
            models.CheckConstraint(condition=Q(terms__in=PaymentTerms.values), name="billing_profile_terms_valid"),
            models.CheckConstraint(condition=Q(discount_percent__gte=0, discount_percent__lte=100),
                                   name="billing_profile_discount_range"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.model}/{self.terms}"


class PackageTax(models.Model):
    """A package's own tax rate; without one, exempt packages pay 0 and the others the ISP's rate."""

    package = models.OneToOneField("hierarchy.Package", on_delete=models.CASCADE, related_name="billing_tax")
    rate = models.DecimalField(max_digits=5, decimal_places=2, help_text="Percent")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rate__gte=0, rate__lte=100), name="package_tax_range")]

    def __str__(self) -> str:
        return f"{self.package_id}: {self.rate} %"


class PromoKind(models.TextChoices):
    PERCENT = "percent", "Percent off"
    FIXED = "fixed", "Fixed amount off"


class PromoCode(models.Model):
    code = models.CharField(max_length=40, unique=True)
    kind = models.CharField(max_length=8, choices=PromoKind.choices)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units")
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    usage_limit = models.PositiveIntegerField(null=True, blank=True)
    times_used = models.PositiveIntegerField(default=0)
    active = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="percent", percent__gt=0, percent__lte=100, amount__isnull=True)
                           | Q(kind="fixed", amount__gt=0, percent__isnull=True)),
                name="promo_value_matches_kind"),
            models.CheckConstraint(condition=Q(usage_limit__isnull=True) | Q(times_used__lte=F("usage_limit")),
                                   name="promo_within_usage_limit"),
            models.CheckConstraint(condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True)
                                   | Q(valid_until__gt=F("valid_from")), name="promo_window_ordered"),
        ]

    def __str__(self) -> str:
        return self.code


class InvoiceKind(models.TextChoices):
    REGULAR = "regular", "Period invoice"
    PRORATION = "proration", "Package change (prorated)"
    LATE_FEE = "late_fee", "Late fee"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    OPEN = "open", "Open"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class DocumentCounter(models.Model):
    """The last number given in a series; updated (row-locked) in the issuing transaction, so numbers
    are gapless: a rolled-back issue gives its number back."""

    series = models.CharField(max_length=16, unique=True)
    last = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.series}: {self.last}"


class Invoice(models.Model):
    number = models.CharField(max_length=32, null=True, blank=True, unique=True)
    sequence = models.BigIntegerField(null=True, blank=True, unique=True)
    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="invoices")
    owner = models.ForeignKey("hierarchy.Operator", on_delete=models.PROTECT, related_name="+",
                              help_text="The customer's node when issued (scope and reports).")
    kind = models.CharField(max_length=10, choices=InvoiceKind.choices, default=InvoiceKind.REGULAR)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period (inclusive)")
    issue_date = models.DateField()
    due_date = models.DateField()
    currency = models.CharField(max_length=3)
    subtotal = models.BigIntegerField(default=0)
    discount = models.BigIntegerField(default=0)
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    amount_paid = models.BigIntegerField(default=0)
    amount_credited = models.BigIntegerField(default=0)
    entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="invoice")
    void_entry = models.OneToOneField("ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="voided_invoice")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["customer", "status", "due_date"], name="invoice_customer_open"),
            models.Index(fields=["status", "due_date"], name="invoice_status_due"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=InvoiceStatus.values), name="invoice_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=InvoiceKind.values), name="invoice_kind_valid"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False, sequence__isnull=False)
                & (Q(entry__isnull=False) | Q(total=0)),
                name="invoice_issued_has_number_and_entry"),
            models.CheckConstraint(condition=Q(total=F("subtotal") - F("discount") + F("tax")),
                                   name="invoice_total_adds_up"),
            models.CheckConstraint(condition=Q(total__gte=0, discount__gte=0, tax__gte=0),
                                   name="invoice_amounts_not_negative"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0, amount_credited__gte=0)
                                   & Q(amount_paid__lte=F("total") - F("amount_credited")),
                                   name="invoice_allocations_within_total"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="invoice_period_ordered"),
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_after_issue"),
            # One period invoice per customer and period (the monthly run is idempotent).
            models.UniqueConstraint(fields=["customer", "period_start"],
                                    condition=Q(kind="regular") & ~Q(status="void"), name="invoice_one_per_period"),
        ]

    def __str__(self) -> str:
        return self.number or f"draft #{self.pk}"

    @property
    def outstanding(self) -> int:
        return self.total - self.amount_paid - self.amount_credited


class IncomeKind(models.TextChoices):
    SALES = "sales_revenue", "Sales"
    LATE_FEE = "late_fee_income", "Late fee"


class InvoiceLine(models.Model):
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(max_length=255)
    package = models.ForeignKey("hierarchy.Package", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=9, decimal_places=4, default=Decimal("1"))
    unit_price = models.BigIntegerField()
    amount = models.BigIntegerField(help_text="unit price x quantity, rounded half up")
    discount = models.BigIntegerField(default=0)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=Decimal("0"))
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    income = models.CharField(max_length=16, choices=IncomeKind.choices, default=IncomeKind.SALES)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("amount") - F("discount") + F("tax")),
                                   name="invoice_line_adds_up"),
            models.CheckConstraint(condition=Q(amount__gte=0, discount__gte=0, tax__gte=0)
                                   & Q(discount__lte=F("amount")), name="invoice_line_amounts_valid"),
            models.CheckConstraint(condition=Q(income__in=IncomeKind.values), name="invoice_line_income_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id}: {self.description}"


class PromoRedemption(models.Model):
    """A customer used a promo code (once per customer); consumed by the next invoice issued to it."""

    promo = models.ForeignKey(PromoCode, on_delete=models.PROTECT, related_name="redemptions")
    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="promo")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["promo", "customer"], name="promo_once_per_customer")]

    def __str__(self) -> str:
        return f"{self.promo_id} by {self.customer_id}"


class CreditNote(models.Model):
    """A correction after issue: reduces what an invoice asks (or, beyond it, is the customer's credit)."""

    number = models.CharField(max_length=32, unique=True)
    sequence = models.BigIntegerField(unique=True)
    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes")
    net = models.BigIntegerField()
    tax = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    income = models.CharField(max_length=16, choices=IncomeKind.choices, default=IncomeKind.SALES)
    reason = models.CharField(max_length=255)
    entry = models.OneToOneField("ledger.JournalEntry", on_delete=models.PROTECT, related_name="credit_note")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(total=F("net") + F("tax")) & Q(net__gte=0, tax__gte=0, total__gt=0),
                                   name="credit_note_adds_up"),
            models.CheckConstraint(condition=~Q(reason=""), name="credit_note_has_reason"),
        ]

    def __str__(self) -> str:
        return self.number


class PaymentAllocation(models.Model):
    """Part of a payment, or of a credit note, applied to an invoice (append-only).

    A refund (chargeback) of a payment *releases* its allocations: for each one a row with the opposite
    amount, linked by ``releases`` (UNIQUE: released once), on the same invoice and payment. Sums of
    ``amount`` are therefore net everywhere; the trigger (migration 0004) admits a release only of a payment
    allocation of a reversed payment and moves the invoice back to partially paid or open."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    payment = models.ForeignKey("ledger.Payment", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="allocations")
    credit_note = models.ForeignKey(CreditNote, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="allocations")
    amount = models.BigIntegerField()
    releases = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="release")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["payment"], name="allocation_payment"),
                   models.Index(fields=["credit_note"], name="allocation_credit_note")]
        constraints = [
            # An allocation is positive; only a release (of a payment allocation) is negative.
            models.CheckConstraint(condition=Q(releases__isnull=True, amount__gt=0)
                                   | Q(releases__isnull=False, amount__lt=0, payment__isnull=False),
                                   name="allocation_positive_or_release"),
            models.CheckConstraint(condition=Q(payment__isnull=True, credit_note__isnull=False)
                                   | Q(payment__isnull=False, credit_note__isnull=True),
                                   name="allocation_one_source"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} → {self.invoice_id}"


class LateFee(models.Model):
    """The late fee of an overdue invoice, billed on an invoice of its own; once per invoice (UNIQUE)."""

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="late_fee")
    fee_invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="late_fee_for")
    amount = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="late_fee_positive")]

    def __str__(self) -> str:
        return f"late fee on {self.invoice_id}: {self.amount}"


class PackageChange(models.Model):
    """A confirmed mid-cycle package change (append-only: a trigger refuses UPDATE and DELETE), with the
    prices per period in force before and after it (minor units; what a postpaid customer's arrears invoice
    splits the period by) and, for prepaid customers, the documents its proration produced."""

    customer = models.ForeignKey("hierarchy.Subscriber", on_delete=models.PROTECT, related_name="+")
    old_package = models.ForeignKey("hierarchy.Package", on_delete=models.PROTECT, related_name="+")
    new_package = models.ForeignKey("hierarchy.Package", on_delete=models.PROTECT, related_name="+")
    effective = models.DateField()
    old_price = models.BigIntegerField(null=True, blank=True)
    new_price = models.BigIntegerField(null=True, blank=True)
    credit_note = models.OneToOneField(CreditNote, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice = models.OneToOneField(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "effective"], name="package_change_customer_day")]
        constraints = [models.CheckConstraint(condition=Q(old_price__gte=0, new_price__gte=0),
                                              name="package_change_prices")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.old_package_id} → {self.new_package_id}"


# Where each document's node path lives, for the one scope gate (hierarchy.authority.restrict).
authority.scoped(Invoice, path_field="customer__owner__path", customer_field="customer__user_id")
authority.scoped(CreditNote, path_field="customer__owner__path", customer_field="customer__user_id")
authority.scoped(BillingProfile, path_field="customer__owner__path", customer_field="customer__user_id")
