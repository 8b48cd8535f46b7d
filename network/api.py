"""REST endpoints for NASes, RADIUS sessions, usage and the Disconnect/CoA log (thin views)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from hierarchy import authority
from hierarchy.api_base import owner_node, reading
from hierarchy.authority import Act
from network import selectors, services
from network.models import DisconnectRequest, Nas
from network.serializers import NasSerializer, RadiusActionSerializer, SessionSerializer, UsageDaySerializer


class NasListCreateView(generics.ListAPIView[Nas]):
    """NASes in your scope (read-only below the ISP); POST registers one (ISP admins and logins granted
    the network; owner defaults to your node)."""
    permission_classes = reading(Act.NAS_VIEW)

    serializer_class = NasSerializer

    def get_queryset(self) -> Any:
        return selectors.nases_in_scope(user=cast(User, self.request.user))

    @extend_schema(request=NasSerializer, responses={201: NasSerializer})
    def post(self, request: Request) -> Response:
        user = cast(User, request.user)
        authority.authorize(user, Act.NAS_REGISTER)  # before the body: a reseller learns nothing from a 400
        serializer = NasSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner = owner_node(user, data.pop("owner_id", None), act=Act.NAS_REGISTER)
        nas = services.nas_create(actor=user, owner=owner, **data)
        return Response(NasSerializer(nas).data, status=status.HTTP_201_CREATED)


class NasDetailView(generics.RetrieveAPIView[Nas]):
    permission_classes = reading(Act.NAS_VIEW)
    serializer_class = NasSerializer

    def get_queryset(self) -> Any:
        return selectors.nases_in_scope(user=cast(User, self.request.user))

    @extend_schema(request=NasSerializer, responses=NasSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        nas = self.get_object()
        authority.authorize(request.user, Act.NAS_REGISTER, node=nas.owner)
        serializer = NasSerializer(nas, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "owner_id" in changes:
            raise ValidationError({"owner": ["Move a NAS by deleting and re-adding it."]})
        nas = services.nas_update(actor=request.user, nas=nas, **changes)
        return Response(NasSerializer(nas).data)

    def delete(self, request: Request, pk: int) -> Response:
        services.nas_delete(actor=request.user, nas=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    if value.lower() in {"1", "true", "yes"}:
        return True
    if value.lower() in {"0", "false", "no"}:
        return False
    raise ValidationError({"online": ["Use 1 or 0."]})


class SessionListView(APIView):
    """RADIUS sessions of the subscribers you may see: `?online=1` who is online now,
    `?subscriber=<id>` one customer's history."""
    permission_classes = reading(Act.SESSIONS_VIEW)

    @extend_schema(
        parameters=[OpenApiParameter("online", str), OpenApiParameter("subscriber", int)],
        responses=SessionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)
        subscriber = None
        if (raw := request.query_params.get("subscriber")) is not None:
            if not raw.isdigit():
                raise ValidationError({"subscriber": ["Give a subscriber id."]})
            subscriber = get_object_or_404(selectors.subscribers_in_scope(user=user), pk=int(raw))
        rows = selectors.sessions_in_scope(
            user=user, online=_flag(request.query_params.get("online")), subscriber=subscriber
        )
        return Response({"count": len(rows), "results": SessionSerializer(rows, many=True).data})


class UsageView(APIView):
    """Bytes up/down per day for one subscriber (`?subscriber=<id>&days=30`); a customer reads its own."""
    permission_classes = reading(Act.SESSIONS_VIEW, own_rows=True)

    @extend_schema(
        parameters=[OpenApiParameter("subscriber", int, required=True), OpenApiParameter("days", int)],
        responses=UsageDaySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)
        raw, days_raw = request.query_params.get("subscriber", ""), request.query_params.get("days", "30")
        if not raw.isdigit() or not days_raw.isdigit() or not 1 <= int(days_raw) <= 366:
            raise ValidationError({"subscriber": ["Give a subscriber id and 1-366 days."]})
        subscriber = get_object_or_404(selectors.subscribers_in_scope(user=user), pk=int(raw))
        today = timezone.now().date()
        rows = selectors.usage_daily(subscriber=subscriber, since=today - timedelta(days=int(days_raw) - 1),
                                     until=today)
        return Response({"subscriber": subscriber.pk, "days": UsageDaySerializer(rows, many=True).data})


class RadiusActionListView(generics.ListAPIView[DisconnectRequest]):
    """Disconnect/CoA requests sent for your subscribers, with their status and attempts."""
    permission_classes = reading(Act.SESSIONS_VIEW)

    serializer_class = RadiusActionSerializer

    def get_queryset(self) -> Any:
        return selectors.radius_actions_in_scope(user=cast(User, self.request.user))
