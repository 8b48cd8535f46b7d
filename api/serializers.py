from __future__ import annotations

from rest_framework import serializers

from accounts.models import User


class TokenRequestSerializer(serializers.Serializer[dict[str, str]]):
    email = serializers.EmailField()
    password = serializers.CharField(trim_whitespace=False, max_length=256)


class TokenResponseSerializer(serializers.Serializer[dict[str, str]]):
    token = serializers.CharField()


class MeSerializer(serializers.ModelSerializer[User]):
    tenant = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "tenant"]

    def get_tenant(self, obj: User) -> str | None:
        tenant = getattr(self.context.get("request"), "tenant", None)
        return tenant.slug if tenant else None
