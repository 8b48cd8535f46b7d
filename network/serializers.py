from __future__ import annotations

from typing import Any

from rest_framework import serializers

from network.models import DisconnectRequest, Nas, NasType


class NasSerializer(serializers.ModelSerializer[Nas]):
    secret = serializers.CharField(write_only=True, min_length=6, max_length=128)
    owner = serializers.IntegerField(source="owner_id", required=False)

    class Meta:
        model = Nas
        fields = ["id", "name", "address", "secret", "nas_type", "coa_port", "zone", "uses_radius", "owner",
                  "created"]
        read_only_fields = ["id", "created"]
        # Uniqueness is checked by the service (platform-wide, in radius.nas), not per tenant here.
        extra_kwargs = {"address": {"validators": []}, "nas_type": {"default": NasType.MIKROTIK}}


class SessionSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    subscriber_id = serializers.IntegerField()
    username = serializers.CharField()
    session_id = serializers.CharField()
    nas_address = serializers.CharField()
    framed_ip = serializers.CharField(allow_null=True)
    calling_station = serializers.CharField(allow_null=True)
    started = serializers.DateTimeField(allow_null=True)
    updated = serializers.DateTimeField(allow_null=True)
    stopped = serializers.DateTimeField(allow_null=True)
    seconds = serializers.IntegerField(allow_null=True)
    upload_bytes = serializers.IntegerField()
    download_bytes = serializers.IntegerField()
    terminate_cause = serializers.CharField(allow_null=True)


class UsageDaySerializer(serializers.Serializer[Any]):
    day = serializers.DateField()
    upload_bytes = serializers.IntegerField()
    download_bytes = serializers.IntegerField()
    sessions = serializers.IntegerField()


class RadiusActionSerializer(serializers.ModelSerializer[DisconnectRequest]):
    class Meta:
        model = DisconnectRequest
        fields = ["id", "kind", "subscriber", "username", "nas", "nas_address", "acct_session_id", "attributes",
                  "status", "attempts", "last_error", "created", "updated"]
        read_only_fields = fields
