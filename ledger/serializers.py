"""API shapes. Money is a decimal string with two places ("100.00"), stored as integer minor units."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from ledger.models import (
    Account,
    EntryAttachment,
    JournalEntry,
    Payment,
    PaymentMethod,
    Posting,
    Settlement,
    SettlementDirection,
)
from ledger.pricing import from_minor


class MoneyField(serializers.DecimalField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", Decimal("0.01"))
        super().__init__(max_digits=14, decimal_places=2, **kwargs)


class Minor(serializers.Field):
    """Read-only: integer minor units out as "12.34"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return str(from_minor(int(value)))


class PaymentRequestSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    amount = MoneyField()
    method = serializers.ChoiceField(choices=PaymentMethod.choices)
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")


class PaymentSerializer(serializers.ModelSerializer):
    amount = Minor()
    refunded = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = ["id", "customer", "amount", "currency", "method", "collector", "entry", "created", "refunded"]

    def get_refunded(self, payment: Payment) -> bool:
        return hasattr(payment.entry, "reversed_by")


class RefundRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    chargeback = serializers.BooleanField(required=False, default=False)


class TopupRequestSerializer(serializers.Serializer):
    amount = MoneyField()
    method = serializers.ChoiceField(choices=["cash", "bank", "parent_wallet"], required=False)


class AccountSerializer(serializers.ModelSerializer):
    balance = Minor()
    owner = serializers.IntegerField(source="owner_id", read_only=True, allow_null=True)
    customer = serializers.IntegerField(source="customer_id", read_only=True, allow_null=True)

    class Meta:
        model = Account
        fields = ["id", "code", "kind", "currency", "balance", "owner", "customer"]


class PostingSerializer(serializers.ModelSerializer):
    debit = Minor()
    credit = Minor()
    account_code = serializers.CharField(source="account.code", read_only=True)

    class Meta:
        model = Posting
        fields = ["account", "account_code", "currency", "debit", "credit"]


class AttachmentSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = EntryAttachment
        fields = ["id", "name", "content_type", "size", "created", "url"]

    def get_url(self, attachment: EntryAttachment) -> str:
        return f"/api/v1/ledger/entries/{attachment.entry_id}/attachments/{attachment.pk}/"


class JournalEntrySerializer(serializers.ModelSerializer):
    postings = PostingSerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = JournalEntry
        fields = ["id", "kind", "created", "actor", "reason", "external_reference", "reversal_of", "customer", "node",
                  "package", "postings", "attachments"]


class SettlementSerializer(serializers.ModelSerializer):
    amount = MoneyField(write_only=True)
    amount_out = Minor(source="amount")
    direction = serializers.ChoiceField(choices=SettlementDirection.choices)
    method = serializers.ChoiceField(choices=[("cash", "Cash"), ("bank", "Bank")], default="cash")

    class Meta:
        model = Settlement
        fields = ["id", "node", "direction", "method", "amount", "amount_out", "entry", "created"]
        read_only_fields = ["entry", "created"]

    def to_representation(self, instance: Settlement) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["amount"] = data.pop("amount_out")
        return data


class ManualLineSerializer(serializers.Serializer):
    account = serializers.ChoiceField(choices=["cash", "bank", "expenses", "other_income", "tax_payable",
                                               "late_fee_income"])
    debit = MoneyField(required=False)
    credit = MoneyField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("debit" in attrs) == ("credit" in attrs):
            raise serializers.ValidationError("Give a debit or a credit, not both.")
        return attrs


class ManualEntrySerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")
    lines = ManualLineSerializer(many=True)


class ManualEntryUploadSerializer(serializers.Serializer):
    """The multipart form of a manual entry (for the schema): ``lines`` as a JSON string, files attached."""

    reason = serializers.CharField(max_length=255)
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True)
    lines = serializers.CharField(help_text='JSON list, e.g. [{"account": "expenses", "debit": "5.00"}, …]')
    attachments = serializers.ListField(child=serializers.FileField(), required=False)


class AttachmentUploadSerializer(serializers.Serializer):
    attachments = serializers.ListField(child=serializers.FileField())
