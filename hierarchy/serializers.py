"""API input/output shapes of the role tree. Ids are integers, amounts decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.models import Role, User
from hierarchy.audit import AuditEvent
from hierarchy.imports import ImportJob, ImportMode
from hierarchy.models import (
    BillingMode,
    ConnectionType,
    NodeKind,
    Operator,
    Package,
    PackageAssignment,
    Subscriber,
    SubscriberStatus,
)
from hierarchy.subscribers import EXPIRY_SOLD


def money(**options: Any) -> serializers.DecimalField:
    """An amount: a decimal string with 2 places in and out."""
    return serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True, **options)


class OperatorSerializer(serializers.ModelSerializer[Operator]):
    role = serializers.CharField(source="kind", read_only=True)

    class Meta:
        model = Operator
        fields = ["id", "name", "parent", "role", "path", "depth", "billing_mode", "share_percent", "credit_limit",
                  "status", "suspends_customers", "contact_name", "email", "phone", "address", "brand_name",
                  "brand_color", "created"]
        read_only_fields = fields


class OperatorCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=120)
    parent = serializers.IntegerField()  # type: ignore[assignment]
    role = serializers.ChoiceField(choices=[NodeKind.RESELLER.value, NodeKind.SUB_RESELLER.value], required=False)
    # Money settings (Act.NODE_BILLING_SET): left out, a new node is postpaid with 0 % and no credit.
    billing_mode = serializers.ChoiceField(choices=BillingMode.choices, required=False)
    share_percent = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=Decimal(0),
                                             max_value=Decimal(100), required=False)
    credit_limit = money(min_value=Decimal(0), required=False,
                         help_text="Postpaid: how much the node may owe; set by its parent, never by itself.")
    suspends_customers = serializers.BooleanField(default=False)
    contact_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    brand_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    brand_color = serializers.RegexField(r"^#[0-9a-fA-F]{6}$", required=False, allow_blank=True)


class OperatorUpdateSerializer(OperatorCreateSerializer):
    """PATCH: any subset of the editable fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)
        for name in ("parent", "role"):
            self.fields.pop(name)
        for f in self.fields.values():
            f.required = False
            f.default = serializers.empty


class OperatorMoveSerializer(serializers.Serializer[dict[str, Any]]):
    parent = serializers.IntegerField()  # type: ignore[assignment]


class OperatorSuspendSerializer(serializers.Serializer[dict[str, Any]]):
    suspend_customers = serializers.BooleanField(required=False, allow_null=True, default=None)


class OperatorTreeSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    role = serializers.CharField()
    status = serializers.CharField()
    children = serializers.ListField(child=serializers.DictField())


class UserSerializer(serializers.ModelSerializer[User]):
    operator = serializers.IntegerField(source="membership.operator_id", read_only=True)

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "operator", "is_active", "date_joined"]
        read_only_fields = fields


class UserCreateSerializer(serializers.Serializer[dict[str, Any]]):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, min_length=10, max_length=256, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150, required=False, default="", allow_blank=True)
    role = serializers.ChoiceField(choices=[r for r in Role.values if r not in ("platform_operator", "customer")])
    operator = serializers.IntegerField()


class UserUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False)
    role = serializers.ChoiceField(choices=[r for r in Role.values if r not in ("platform_operator", "customer")],
                                   required=False)


class PackageSerializer(serializers.ModelSerializer[Package]):
    price = money(min_value=Decimal(0))
    type = serializers.ChoiceField(choices=ConnectionType.choices)

    class Meta:
        model = Package
        fields = ["id", "name", "type", "download_kbps", "upload_kbps", "burst_download_kbps", "burst_upload_kbps",
                  "burst_threshold_download_kbps", "burst_threshold_upload_kbps", "burst_time_seconds",
                  "quota_mb", "quota_action", "quota_throttle_download_kbps", "quota_throttle_upload_kbps",
                  "validity_days", "validity_hours", "price", "tax_class", "visible", "retired", "created"]
        read_only_fields = ["id", "retired", "created"]
        # Uniqueness is reported by the service (one friendly message, same for create and update).
        extra_kwargs: dict[str, dict[str, Any]] = {"name": {"validators": []}}


class AssignSerializer(serializers.Serializer[dict[str, Any]]):
    operator = serializers.IntegerField()
    price = money(min_value=Decimal(0))


class AssignmentSerializer(serializers.ModelSerializer[PackageAssignment]):
    price = money(read_only=True)
    package_name = serializers.CharField(source="package.name", read_only=True)
    operator_name = serializers.CharField(source="operator.name", read_only=True)

    class Meta:
        model = PackageAssignment
        fields = ["id", "package", "package_name", "operator", "operator_name", "price", "commission_mode",
                  "active", "created"]
        read_only_fields = fields


class AssignmentCreateSerializer(AssignSerializer):
    package = serializers.IntegerField()


class AssignmentPriceSerializer(serializers.Serializer[dict[str, Any]]):
    price = money(min_value=Decimal(0))


class CustomerSerializer(serializers.ModelSerializer[Subscriber]):
    package_name = serializers.CharField(source="package.name", read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)
    special_price = money(read_only=True, allow_null=True)

    class Meta:
        model = Subscriber
        fields = ["id", "username", "connection_type", "mac_address", "ip_address", "package", "package_name",
                  "owner", "owner_name", "status", "expires_at", "billing_day", "special_price", "full_name",
                  "mobile", "email", "address", "zone", "custom_fields", "created", "updated"]
        read_only_fields = fields

    def to_representation(self, instance: Subscriber) -> dict[str, Any]:
        """Same output as the declared fields, built directly: lists render 50 of these per request and
        DRF's field-by-field path costs more than the database work."""
        s = instance
        return {
            "id": s.pk, "username": s.username, "connection_type": s.connection_type,
            "mac_address": s.mac_address, "ip_address": s.ip_address, "package": s.package_id,
            "package_name": s.package.name, "owner": s.owner_id, "owner_name": s.owner.name, "status": s.status,
            "expires_at": _when(s.expires_at), "billing_day": s.billing_day,
            "special_price": None if s.special_price is None else f"{s.special_price:.2f}",
            "full_name": s.full_name, "mobile": s.mobile, "email": s.email, "address": s.address, "zone": s.zone,
            "custom_fields": s.custom_fields, "created": _when(s.created), "updated": _when(s.updated),
        }


_DATETIME = serializers.DateTimeField()


def _when(value: Any) -> str | None:
    return None if value is None else str(_DATETIME.to_representation(value))


class CustomerWriteSerializer(serializers.Serializer[dict[str, Any]]):
    username = serializers.CharField(max_length=64)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    connection_type = serializers.ChoiceField(choices=ConnectionType.choices, default=ConnectionType.PPPOE)
    package = serializers.IntegerField()
    owner = serializers.IntegerField()
    mac_address = serializers.CharField(max_length=32, required=False, allow_null=True, allow_blank=True)
    ip_address = serializers.CharField(max_length=15, required=False, allow_null=True, allow_blank=True)
    billing_day = serializers.IntegerField(min_value=1, max_value=28, required=False)
    special_price = money(min_value=Decimal(0), required=False, allow_null=True)
    full_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    mobile = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    address = serializers.CharField(max_length=255, required=False, allow_blank=True)
    zone = serializers.CharField(max_length=80, required=False, allow_blank=True)
    custom_fields = serializers.DictField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The paid-until is sold (recharge, payment, voucher) or extended by an ISP admin, never typed in.
        if isinstance(self.initial_data, dict) and "expires_at" in self.initial_data:
            raise serializers.ValidationError({"expires_at": EXPIRY_SOLD})
        return attrs


class CustomerExtendSerializer(serializers.Serializer[dict[str, Any]]):
    until = serializers.DateTimeField(help_text="The new paid-until (later than now and than the current one).")
    reason = serializers.CharField(max_length=500, help_text="Why this customer gets time without paying.")


class CustomerUpdateSerializer(CustomerWriteSerializer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["partial"] = True
        super().__init__(*args, **kwargs)
        self.fields.pop("username")
        for f in self.fields.values():
            f.required = False
            f.default = serializers.empty


class CustomerFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=SubscriberStatus.choices, required=False)
    package = serializers.IntegerField(required=False)
    owner = serializers.IntegerField(required=False, help_text="A node id; includes its whole subtree.")
    connection_type = serializers.ChoiceField(choices=ConnectionType.choices, required=False)
    expiring_within_days = serializers.IntegerField(min_value=0, max_value=3650, required=False)
    search = serializers.CharField(max_length=100, required=False,
                                   help_text="Prefix of the username, name, email or mobile (case-insensitive).")


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = ["id", "object_type", "object_id", "action", "changes", "actor", "actor_email", "ip_address", "at"]
        read_only_fields = fields


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    progress_percent = serializers.IntegerField(read_only=True)

    class Meta:
        model = ImportJob
        fields = ["id", "file_name", "dry_run", "mode", "status", "total_rows", "processed_rows", "error_rows",
                  "created_rows", "progress_percent", "message", "errors", "expiries", "created", "finished"]
        read_only_fields = fields


class ImportJobCreateSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(default=True)
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)


class ImportCommitSerializer(serializers.Serializer[dict[str, Any]]):
    mode = serializers.ChoiceField(choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
