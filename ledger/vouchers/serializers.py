"""API shapes for vouchers and recharges. Money is a decimal string ("5.00"), stored in minor units."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from ledger.serializers import Minor, MoneyField
from ledger.vouchers.models import Recharge, Unit, Voucher, VoucherBatch, VoucherStatus
from ledger.vouchers.recharge import MAX_QUANTITY


class BatchRequestSerializer(serializers.Serializer):
    package = serializers.IntegerField()
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY[Unit.HOURS])
    unit = serializers.ChoiceField(choices=Unit.choices)
    face_price = MoneyField()
    count = serializers.IntegerField(min_value=1, max_value=10_000)
    commission_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal(0),
                                                  max_value=Decimal("99.99"), required=False, default=Decimal(0))
    owner = serializers.IntegerField(required=False, help_text="A node in your subtree (default: your own node).")
    redeem_unsold = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    valid_until = serializers.DateField(
        required=False, allow_null=True, default=None,
        help_text="Last day (ISP time zone) the cards may be sold or redeemed; omit for no expiry.")


class BatchSerializer(serializers.ModelSerializer):
    face_price = Minor()
    package_name = serializers.CharField(source="package.name", read_only=True)
    stock = serializers.SerializerMethodField()

    class Meta:
        model = VoucherBatch
        fields = ["id", "package", "package_name", "quantity", "unit", "face_price", "commission_percent", "owner",
                  "count", "redeem_unsold", "note", "valid_until", "created_by", "created", "stock"]

    def get_stock(self, batch: VoucherBatch) -> dict[str, int]:
        counts = getattr(batch, "status_counts", None)
        if counts is None:
            return {}
        return {status: int(counts.get(status, 0)) for status in VoucherStatus.values}


class AssignRequestSerializer(serializers.Serializer):
    distributor = serializers.IntegerField(help_text="A card distributor login of the batch owner's subtree.")
    count = serializers.IntegerField(min_value=1, max_value=10_000)


class VoucherSerializer(serializers.ModelSerializer):
    serial = serializers.CharField(read_only=True)
    commission = Minor()
    face_price = Minor(source="batch.face_price")
    valid_until = serializers.DateField(source="batch.valid_until", read_only=True)

    class Meta:
        model = Voucher
        fields = ["id", "serial", "batch", "number", "status", "face_price", "valid_until", "distributor", "sold_at", "sold_by",
                  "seller_node", "commission", "sale_entry", "redeemed_by", "redeemed_at", "voided_at", "void_entry"]


class RedeemRequestSerializer(serializers.Serializer):
    pin = serializers.CharField(max_length=40)
    customer = serializers.IntegerField(required=False, help_text="Staff only: the customer to recharge.")


class RechargeRequestSerializer(serializers.Serializer):
    customer = serializers.IntegerField()
    package = serializers.IntegerField(required=False, help_text="Default: the customer's current package.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY[Unit.HOURS])
    unit = serializers.ChoiceField(choices=Unit.choices)


class RechargeSerializer(serializers.ModelSerializer):
    price = Minor()
    cost = Minor()

    class Meta:
        model = Recharge
        fields = ["id", "customer", "package", "owner", "quantity", "unit", "period_start", "period_end", "price",
                  "cost", "source", "channel", "voucher", "actor", "entry", "created"]


class RedemptionSerializer(serializers.Serializer):
    voucher = VoucherSerializer()
    recharge = RechargeSerializer()
    expires_at = serializers.DateTimeField()


class SelfRechargeRequestSerializer(serializers.Serializer):
    package = serializers.IntegerField(required=False, help_text="Default: your current package.")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY[Unit.HOURS])
    unit = serializers.ChoiceField(choices=Unit.choices)
    pay = serializers.ChoiceField(choices=[("credit", "From my credit"), ("stripe", "By card (Stripe)")],
                                  required=False, default="credit")


class SelfRechargeQuoteSerializer(serializers.Serializer):
    package = serializers.IntegerField(source="package.pk")
    package_name = serializers.CharField(source="package.name")
    quantity = serializers.IntegerField()
    unit = serializers.CharField()
    price = Minor()
    credit = Minor()
    covered = serializers.BooleanField(help_text="Whether your credit covers the price (pay=credit works).")
    stripe = serializers.BooleanField(help_text="Whether card payments are available.")


class SelfRechargeIntentSerializer(serializers.Serializer):
    payment_intent = serializers.CharField()
    client_secret = serializers.CharField()
    status = serializers.CharField()
    amount = Minor()
