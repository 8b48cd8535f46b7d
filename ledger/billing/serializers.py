"""API shapes for billing. Amounts travel as decimal strings ("12.34"); minor units inside."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.billing.models import (
    BillingModel,
    BillingProfile,
    BillingSettings,
    CreditNote,
    Invoice,
    InvoiceLine,
    PaymentTerms,
    PromoCode,
    PromoKind,
)
from ledger.models import PaymentMethod
from ledger.pricing import from_minor, to_minor


@extend_schema_field(OpenApiTypes.DECIMAL)
class MinorField(serializers.Field):
    """Integer minor units in the model, a decimal string in the API."""

    def __init__(self, *, min_value: Decimal | None = None, **kwargs: Any) -> None:
        self.min_value = min_value
        super().__init__(**kwargs)

    def to_representation(self, value: int) -> str:
        return str(from_minor(int(value)))

    def to_internal_value(self, data: Any) -> int:
        try:
            amount = Decimal(str(data))
        except Exception:
            raise serializers.ValidationError("Enter an amount like 12.50.") from None
        if not amount.is_finite() or abs(amount) > Decimal("1e12"):
            raise serializers.ValidationError("Enter an amount like 12.50.")
        if self.min_value is not None and amount < self.min_value:
            raise serializers.ValidationError(f"Must be at least {self.min_value}.")
        try:
            return to_minor(amount)
        except DjangoValidationError:
            raise serializers.ValidationError("Use at most two decimal places.") from None


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit_price = MinorField(read_only=True)
    amount = MinorField(read_only=True)
    discount = MinorField(read_only=True)
    tax = MinorField(read_only=True)
    total = MinorField(read_only=True)

    class Meta:
        model = InvoiceLine
        fields = ["id", "description", "package", "period_start", "period_end", "quantity", "unit_price", "amount",
                  "discount", "tax_rate", "tax", "total", "income"]


class InvoiceSerializer(serializers.ModelSerializer):
    subtotal = MinorField(read_only=True)
    discount = MinorField(read_only=True)
    tax = MinorField(read_only=True)
    total = MinorField(read_only=True)
    amount_paid = MinorField(read_only=True)
    amount_credited = MinorField(read_only=True)
    outstanding = MinorField(read_only=True)
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = ["id", "number", "customer", "owner", "kind", "status", "period_start", "period_end", "issue_date",
                  "due_date", "currency", "subtotal", "discount", "tax", "total", "amount_paid", "amount_credited",
                  "outstanding", "entry", "void_entry", "lines", "created"]


class InvoiceFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["draft", "open", "partially_paid", "paid", "void"], required=False)
    customer = serializers.IntegerField(required=False, min_value=1)
    kind = serializers.ChoiceField(choices=["regular", "proration", "late_fee"], required=False)
    issued_from = serializers.DateField(required=False)
    issued_to = serializers.DateField(required=False)
    # (A BooleanField would read a missing query parameter as False.)
    overdue = serializers.ChoiceField(choices=["true", "false"], required=False)

    def validate_overdue(self, value: str) -> bool:
        return value == "true"


class CreditNoteSerializer(serializers.ModelSerializer):
    net = MinorField(read_only=True)
    tax = MinorField(read_only=True)
    total = MinorField(read_only=True)

    class Meta:
        model = CreditNote
        fields = ["id", "number", "customer", "invoice", "net", "tax", "total", "reason", "entry", "created"]


class CreditNoteRequestSerializer(serializers.Serializer):
    amount = MinorField(min_value=Decimal("0.01"), help_text="Tax included")
    reason = serializers.CharField(max_length=200)


class VoidRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Why (required; recorded in the audit trail)")


class InvoicePayRequestSerializer(serializers.Serializer):
    amount = MinorField(min_value=Decimal("0.01"))
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference = serializers.CharField(max_length=128, required=False, default="")


class PackageChangeRequestSerializer(serializers.Serializer):
    package = serializers.IntegerField(min_value=1)


class _Part(serializers.Serializer):
    net = MinorField()
    discount = MinorField()
    tax = MinorField()
    total = MinorField()


class _Segment(serializers.Serializer):
    package = serializers.IntegerField()
    start = serializers.DateField()
    end = serializers.DateField()
    days = serializers.IntegerField()
    days_in_period = serializers.IntegerField()
    net = MinorField()
    discount = MinorField()
    tax = MinorField()
    total = MinorField()


class PackageChangeQuoteSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    old_package = serializers.IntegerField()
    new_package = serializers.IntegerField()
    effective = serializers.DateField()
    invoice = serializers.IntegerField(allow_null=True, help_text="The period invoice credited")
    period_start = serializers.DateField(allow_null=True)
    period_end = serializers.DateField(allow_null=True)
    days_in_period = serializers.IntegerField()
    days_remaining = serializers.IntegerField()
    credit = _Part()
    charge = _Part()
    net_total = MinorField(help_text="Owed because of the change (negative: credited)")
    segments = _Segment(many=True, help_text="Postpaid: what the period's arrears invoice will bill, per package")


class PackageChangeResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    customer = serializers.IntegerField()
    package = serializers.IntegerField()
    credit_note = CreditNoteSerializer(allow_null=True)
    invoice = InvoiceSerializer(allow_null=True)


class PromoCodeSerializer(serializers.ModelSerializer):
    amount = MinorField(required=False, allow_null=True, min_value=Decimal("0.01"))
    kind = serializers.ChoiceField(choices=PromoKind.choices)
    reason = serializers.CharField(max_length=200, write_only=True,
                                   help_text="Why (required on create and change; recorded in the audit trail)")

    class Meta:
        model = PromoCode
        fields = ["id", "code", "kind", "percent", "amount", "valid_from", "valid_until", "usage_limit", "times_used",
                  "active", "created", "reason"]
        read_only_fields = ["times_used", "created"]


class PromoRedeemSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=40)
    customer = serializers.IntegerField(min_value=1)


class BillingSettingsSerializer(serializers.ModelSerializer):
    late_fee_fixed = MinorField(min_value=Decimal("0"), required=False)

    class Meta:
        model = BillingSettings
        fields = ["calendar_month", "grace_days", "late_fee_percent", "late_fee_fixed", "invoice_due_days",
                  "number_prefix", "credit_note_prefix", "suspend_overdue", "max_discount_percent",
                  "max_voucher_discount_percent", "max_voucher_commission_percent", "voucher_max_valid_days"]
        extra_kwargs = {"late_fee_percent": {"min_value": Decimal("0"), "max_value": Decimal("100")},
                        "max_discount_percent": {"min_value": Decimal("0"), "max_value": Decimal("100")},
                        "max_voucher_discount_percent": {"min_value": Decimal("0"), "max_value": Decimal("100")},
                        "max_voucher_commission_percent": {"min_value": Decimal("0"), "max_value": Decimal("99.99")},
                        "voucher_max_valid_days": {"min_value": 1, "max_value": 3660},
                        "grace_days": {"max_value": 365}, "invoice_due_days": {"max_value": 365}}


class BillingProfileSerializer(serializers.ModelSerializer):
    credit = MinorField(read_only=True, help_text="Advance payments and credit notes not yet applied")

    class Meta:
        model = BillingProfile
        fields = ["customer", "model", "terms", "discount_percent", "start_date", "suspended_for_nonpayment", "credit"]
        read_only_fields = ["customer", "model", "suspended_for_nonpayment"]
        extra_kwargs = {"discount_percent": {"min_value": Decimal("0"), "max_value": Decimal("100")}}


class BillingProfileWriteSerializer(serializers.Serializer):
    terms = serializers.ChoiceField(choices=PaymentTerms.choices, required=False)
    discount_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal("0"),
                                                max_value=Decimal("100"), required=False)
    start_date = serializers.DateField(required=False)
    reason = serializers.CharField(max_length=200, help_text="Why (required; recorded in the audit trail)")


class ModelSwitchRequestSerializer(serializers.Serializer):
    model = serializers.ChoiceField(choices=BillingModel.choices)
    open_invoices = serializers.ChoiceField(choices=[("void", "Void / cancel them"), ("keep", "Keep them payable")],
                                            required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=200, help_text="Why (required; recorded in the audit trail)")


class AgingQuerySerializer(serializers.Serializer):
    on = serializers.DateField(required=False)
    owner = serializers.IntegerField(required=False, min_value=1)
