"""REST endpoints for routers and router jobs. Every router action answers 202 with a job to poll.

Reads go through the scope gate (resellers see their subtree's routers, read-only); what a login may do
is the role x action table, checked by the services (router_create, router_job_enqueue, ...)."""

from __future__ import annotations

from typing import Any, cast

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.crypto import secret_decrypt
from hierarchy import authority
from hierarchy.api_base import owner_node, reading
from hierarchy.authority import Act
from hierarchy.models import Subscriber
from network.models import Nas, NasType, RouterJob
from network.routers.jobs import JOB_ACTS
from network.routers.models import JobKind
from network.routers.selectors import router_jobs_in_scope, routers_in_scope
from network.routers.services import (
    JobConflict,
    JobNotOpen,
    router_create,
    router_delete,
    router_job_cancel,
    router_job_enqueue,
    router_update,
)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class RouterSerializer(serializers.ModelSerializer[Nas]):
    owner_id = serializers.IntegerField(read_only=True)
    owner_name = serializers.CharField(source="owner.name", read_only=True)

    class Meta:
        model = Nas
        fields = ["id", "name", "address", "nas_type", "zone", "owner_id", "owner_name", "api_port", "api_tls",
                  "api_username", "uses_radius", "status", "last_seen", "ros_version", "identity",
                  "provisioned_at", "created"]
        read_only_fields = fields


class PortField(serializers.IntegerField):
    """An API port; the text form must be digits only (int() would accept "8728\r\n")."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, str) and not data.isdigit():
            self.fail("invalid")
        return int(super().to_internal_value(data))


class RouterCreateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=80)
    # An IP address or a host name (resolved once, when registered); never trimmed, so a CR/LF is refused.
    address = serializers.CharField(max_length=253, trim_whitespace=False)
    api_port = PortField(min_value=1, max_value=65535, required=False)
    api_tls = serializers.BooleanField(default=False)
    api_username = serializers.CharField(max_length=64, trim_whitespace=False)
    api_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True)
    nas_type = serializers.ChoiceField(choices=NasType.choices, default=NasType.MIKROTIK)
    zone = serializers.CharField(max_length=80, required=False, default="", allow_blank=True)
    owner_id = serializers.IntegerField(required=False)
    uses_radius = serializers.BooleanField(default=True)


class RouterUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    name = serializers.CharField(max_length=80, required=False)
    address = serializers.CharField(max_length=253, trim_whitespace=False, required=False)
    api_port = PortField(min_value=1, max_value=65535, required=False)
    api_tls = serializers.BooleanField(required=False)
    api_username = serializers.CharField(max_length=64, trim_whitespace=False, required=False)
    api_password = serializers.CharField(max_length=128, trim_whitespace=False, write_only=True, required=False)
    zone = serializers.CharField(max_length=80, required=False, allow_blank=True)


class RouterCreatedSerializer(RouterSerializer):
    radius_secret = serializers.CharField(source="secret", read_only=True)

    class Meta(RouterSerializer.Meta):
        fields = [*RouterSerializer.Meta.fields, "radius_secret"]
        read_only_fields = fields


class RouterJobSerializer(serializers.ModelSerializer[RouterJob]):
    router_id = serializers.IntegerField(source="nas_id", read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, default=None)

    class Meta:
        model = RouterJob
        fields = ["id", "router_id", "kind", "status", "params", "attempts", "max_attempts", "progress",
                  "progress_message", "result", "error", "failed_step", "created_by", "created", "started_at",
                  "finished_at", "next_attempt_at"]
        read_only_fields = fields


class ProvisionSerializer(serializers.Serializer[dict[str, Any]]):
    dry_run = serializers.BooleanField(default=False)


class ImportSerializer(serializers.Serializer[dict[str, Any]]):
    owner_id = serializers.IntegerField(required=False, help_text="Node the subscribers belong to; default: yours")
    include_disabled = serializers.BooleanField(default=False)
    on_duplicate = serializers.ChoiceField(choices=["skip", "update"], default="skip")
    default_package_id = serializers.IntegerField(required=False, allow_null=True)
    expires_at = serializers.DateTimeField(
        required=False, allow_null=True,
        help_text="Paid-until of the imported customers (ISP admins only); without it they start expired.")


class MigrateSerializer(serializers.Serializer[dict[str, Any]]):
    probe_username = serializers.CharField(max_length=64, required=False)


def _router(request: Request, pk: int) -> Nas:
    nas = routers_in_scope(user=cast(User, request.user)).filter(pk=pk).first()
    if nas is None:  # out of scope and missing look the same
        raise NotFound("No such router in your part of the tree.")
    return nas



def _accepted(request: Request, nas: Nas, kind: str, params: dict[str, Any] | None = None) -> Response:
    try:
        job = router_job_enqueue(actor=request.user, nas=nas, kind=kind, params=params)
    except JobConflict as exc:
        raise Conflict(str(exc)) from exc
    return Response(RouterJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class RouterListView(generics.ListAPIView[Nas]):
    permission_classes = reading(Act.ROUTER_VIEW)
    serializer_class = RouterSerializer

    def get_queryset(self) -> Any:
        return routers_in_scope(user=cast(User, self.request.user))

    @extend_schema(request=RouterCreateSerializer, responses={201: RouterCreatedSerializer})
    def post(self, request: Request) -> Response:
        authority.authorize(request.user, Act.ROUTER_REGISTER)  # before the body: a reseller learns nothing
        serializer = RouterCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        owner = owner_node(request.user, data.pop("owner_id", None), act=Act.ROUTER_REGISTER,
                           field="owner_id")
        nas = router_create(actor=request.user, owner=owner, **data)
        return Response(RouterCreatedSerializer(nas).data, status=status.HTTP_201_CREATED)


class RouterDetailView(APIView):
    permission_classes = reading(Act.ROUTER_VIEW)
    @extend_schema(responses=RouterSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(RouterSerializer(_router(request, pk)).data)

    @extend_schema(request=RouterUpdateSerializer, responses=RouterSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        nas = _router(request, pk)
        authority.authorize(request.user, Act.ROUTER_REGISTER, node=nas.owner)
        serializer = RouterUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        nas = router_update(actor=request.user, nas=nas, **serializer.validated_data)
        return Response(RouterSerializer(nas).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        router_delete(actor=request.user, nas=_router(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RouterActionView(APIView):
    """POST queues a job of `kind` on the router; the body depends on the kind."""

    kind: str = ""

    @extend_schema(request=None, responses={202: RouterJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        return _accepted(request, _router(request, pk), self.kind)


class TestConnectionView(RouterActionView):
    kind = JobKind.TEST_CONNECTION


class LiveView(RouterActionView):
    kind = JobKind.LIVE_VIEW


class ProvisionView(APIView):
    @extend_schema(request=ProvisionSerializer, responses={202: RouterJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        nas = _router(request, pk)
        authority.authorize(request.user, Act.ROUTER_OPERATE, node=nas.owner)
        serializer = ProvisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _accepted(request, nas, JobKind.PROVISION, dict(serializer.validated_data))


class ImportView(APIView):
    @extend_schema(request=ImportSerializer, responses={202: RouterJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        nas = _router(request, pk)
        authority.authorize(request.user, Act.ROUTER_IMPORT, node=nas.owner)
        serializer = ImportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        params = dict(serializer.validated_data)
        if params.get("expires_at") is not None:
            params["expires_at"] = params["expires_at"].isoformat()
        # The service decides what this login's import may do (packages, owner, expiries).
        return _accepted(request, nas, JobKind.IMPORT, params)


class MigrateToRadiusView(APIView):
    @extend_schema(request=MigrateSerializer, responses={202: RouterJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        nas = _router(request, pk)
        authority.authorize(request.user, Act.ROUTER_OPERATE, node=nas.owner)
        if nas.uses_radius:
            raise ValidationError({"non_field_errors": [f"Router {nas.name} already uses RADIUS."]})
        serializer = MigrateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _accepted(request, nas, JobKind.MIGRATE_TO_RADIUS, dict(serializer.validated_data))


class SubscriberOnRouterView(APIView):
    kind: str = ""

    @extend_schema(request=None, responses={202: RouterJobSerializer})
    def post(self, request: Request, pk: int, username: str) -> Response:
        nas = _router(request, pk)
        authority.authorize(request.user, Act.ROUTER_OPERATE, node=nas.owner)
        customers = authority.restrict(Subscriber.objects.all(), request.user, Act.CUSTOMER_VIEW)
        if not customers.filter(username=username).exists():
            return Response({"detail": "No such subscriber in your part of the tree.", "code": "not_found"},
                            status=status.HTTP_404_NOT_FOUND)
        if nas.uses_radius:
            raise ValidationError({"non_field_errors": [
                f"Router {nas.name} uses RADIUS: suspend the subscriber in billing, which disconnects it."]})
        return _accepted(request, nas, self.kind, {"username": username})


class SubscriberSuspendView(SubscriberOnRouterView):
    kind = JobKind.SUBSCRIBER_SUSPEND


class SubscriberReactivateView(SubscriberOnRouterView):
    kind = JobKind.SUBSCRIBER_REACTIVATE


class RouterJobListView(generics.ListAPIView[RouterJob]):
    permission_classes = reading(Act.ROUTER_VIEW)
    serializer_class = RouterJobSerializer

    def get_queryset(self) -> Any:
        jobs = router_jobs_in_scope(user=cast(User, self.request.user))
        router = self.request.query_params.get("router")
        return jobs.filter(nas_id=router) if router and router.isdigit() else jobs


class RouterJobDetailView(generics.RetrieveAPIView[RouterJob]):
    permission_classes = reading(Act.ROUTER_VIEW)
    serializer_class = RouterJobSerializer

    def get_queryset(self) -> Any:
        return router_jobs_in_scope(user=cast(User, self.request.user))


class RouterJobCancelView(APIView):
    @extend_schema(request=None, responses={200: RouterJobSerializer})
    def post(self, request: Request, pk: int) -> Response:
        job = get_object_or_404(router_jobs_in_scope(user=cast(User, request.user)), pk=pk)
        try:
            job = router_job_cancel(actor=request.user, job=job)
        except JobNotOpen as exc:
            raise Conflict(str(exc)) from exc
        return Response(RouterJobSerializer(job).data)


class RouterJobSnapshotView(APIView):
    """The CSV copy of one menu an import read (`ip_pool`, `ppp_profile`, `ppp_secret`)."""
    permission_classes = reading(Act.ROUTER_VIEW)

    @extend_schema(responses={(200, "text/csv"): str})
    def get(self, request: Request, pk: int, menu: str) -> HttpResponse:
        job = get_object_or_404(router_jobs_in_scope(user=cast(User, request.user)), pk=pk)
        # A copy holds PPP passwords: only for those who may run the job that read it.
        authority.authorize(request.user, JOB_ACTS[job.kind], node=job.nas.owner)
        snapshot = get_object_or_404(job.snapshots, menu=menu)
        response = HttpResponse(secret_decrypt(snapshot.csv_encrypted), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="router-{job.nas_id}-job-{job.pk}-{menu}.csv"'
        return response
