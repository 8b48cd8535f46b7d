"""REST endpoints for customers (subscribers), their CSV export and CSV import jobs."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any, cast

from django.http import StreamingHttpResponse
from django_tenants.utils import schema_context
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Role, User
from hierarchy import subscribers as customer_services
from hierarchy.api_base import ScopedViewSet, in_scope_or_error
from hierarchy.audit import audit_events_for
from hierarchy.authority import Act
from hierarchy.imports import ImportJob, import_job_commit, import_job_create
from hierarchy.models import Subscriber
from hierarchy.pagination import CustomerPagination
from hierarchy.selectors import operators_in_scope, packages_for, subscriber_list, subscribers_in_scope
from hierarchy.serializers import (
    AuditEventSerializer,
    CustomerExtendSerializer,
    CustomerFilterSerializer,
    CustomerSerializer,
    CustomerUpdateSerializer,
    CustomerWriteSerializer,
    ImportCommitSerializer,
    ImportJobCreateSerializer,
    ImportJobSerializer,
)
from tenants.db import schema_current

EXPORT_COLUMNS = ["id", "username", "connection_type", "mac_address", "ip_address", "package", "owner", "status",
                  "expires_at", "billing_day", "full_name", "mobile", "email", "address", "zone"]


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_rows(queryset: Any, schema: str) -> Iterator[str]:
    """Rows are produced while the server streams the response, after the view returned: activate the
    tenant's schema again for that."""
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    with schema_context(schema):
        yield from _csv_body(writer, queryset)


def _csv_body(writer: Any, queryset: Any) -> Iterator[str]:
    for s in queryset.iterator(chunk_size=2000):
        yield writer.writerow([s.pk, s.username, s.connection_type, s.mac_address or "", s.ip_address or "",
                               s.package.name, s.owner.name, s.status,
                               s.expires_at.isoformat() if s.expires_at else "", s.billing_day, s.full_name,
                               s.mobile, s.email, s.address, s.zone])


class CustomerViewSet(ScopedViewSet):
    """Customers owned by nodes in the caller's scope (a customer sees only itself)."""

    serializer_class = CustomerSerializer
    pagination_class = CustomerPagination
    acts = {"list": Act.CUSTOMER_VIEW, "retrieve": Act.CUSTOMER_VIEW, "create": Act.CUSTOMER_CREATE,
            "update": Act.CUSTOMER_EDIT, "destroy": Act.CUSTOMER_DELETE, "suspend": Act.CUSTOMER_STATUS,
            "reactivate": Act.CUSTOMER_STATUS, "disable": Act.CUSTOMER_STATUS, "audit": Act.AUDIT_VIEW,
            "export": Act.DATA_EXPORT, "extend": Act.EXPIRY_EXTEND}

    def get_queryset(self) -> Any:
        act = self.act() or Act.CUSTOMER_VIEW
        if act in (Act.AUDIT_VIEW, Act.DATA_EXPORT):
            act = Act.CUSTOMER_VIEW  # reading customers, besides the audit log / the export itself
        return subscribers_in_scope(user=self.request.user, act=act).select_related("package", "owner")

    def _filtered_with_names(self, request: Request) -> Any:
        # Package and owner names for a page: two small IN queries instead of joins before the sort.
        return self._filtered(request).prefetch_related("package", "owner")

    def _filtered(self, request: Request) -> Any:
        filters = CustomerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        return subscriber_list(user=request.user, **filters.validated_data)

    @extend_schema(parameters=[CustomerFilterSerializer], responses=CustomerSerializer(many=True))
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self._filtered_with_names(request))
        return self.get_paginated_response(CustomerSerializer(page, many=True).data)

    @extend_schema(parameters=[CustomerFilterSerializer],
                   responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="CSV file")})
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> StreamingHttpResponse:
        """The filtered list (same filters as the list) as CSV."""
        response = StreamingHttpResponse(_csv_rows(self._filtered_with_names(request), schema_current()),
                                         content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="customers.csv"'
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(CustomerSerializer(self.get_object()).data)

    def _references(self, data: dict[str, Any]) -> dict[str, Any]:
        user = self.request.user
        if "owner" in data:
            data["owner"] = in_scope_or_error(operators_in_scope(user=user), data["owner"], "owner", "node")
        if "package" in data:
            data["package"] = in_scope_or_error(packages_for(user=user), data["package"], "package", "package")
        return data

    @extend_schema(request=CustomerWriteSerializer, responses={201: CustomerSerializer})
    def create(self, request: Request) -> Response:
        serializer = CustomerWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = self._references(dict(serializer.validated_data))
        customer = customer_services.subscriber_create(actor=self.actor(), **data)
        return Response(CustomerSerializer(customer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerUpdateSerializer, responses=CustomerSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        customer = cast(Subscriber, self.get_object())
        serializer = CustomerUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = self._references(dict(serializer.validated_data))
        customer = customer_services.subscriber_update(subscriber=customer, actor=self.actor(), **data)
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=CustomerUpdateSerializer, responses=CustomerSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        customer_services.subscriber_delete(subscriber=cast(Subscriber, self.get_object()), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        customer = customer_services.subscriber_suspend(subscriber=cast(Subscriber, self.get_object()),
                                                        actor=self.actor())
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        customer = customer_services.subscriber_reactivate(subscriber=cast(Subscriber, self.get_object()),
                                                           actor=self.actor())
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=None, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request: Request, pk: str) -> Response:
        customer = customer_services.subscriber_disable(subscriber=cast(Subscriber, self.get_object()),
                                                        actor=self.actor())
        return Response(CustomerSerializer(customer).data)

    @extend_schema(request=CustomerExtendSerializer, responses=CustomerSerializer)
    @action(detail=True, methods=["post"])
    def extend(self, request: Request, pk: str) -> Response:
        """Give this customer service time without a sale (ISP admins only; audited with the reason)."""
        serializer = CustomerExtendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_services.subscriber_expiry_extend(
            subscriber=cast(Subscriber, self.get_object()), until=serializer.validated_data["until"],
            reason=serializer.validated_data["reason"], actor=self.actor())
        return Response(CustomerSerializer(customer).data)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        customer = cast(Subscriber, self.get_object())
        page = self.paginate_queryset(audit_events_for(object_type="customer", object_id=customer.pk))
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


class CustomerImportViewSet(ScopedViewSet):
    """CSV imports of customers, run by a background worker: upload with dry_run=true first, read the
    row-by-row errors, then `commit` (mode all_or_nothing or good_rows)."""

    serializer_class = ImportJobSerializer
    parser_classes = [MultiPartParser, FormParser]
    acts = {"list": Act.CUSTOMER_IMPORT, "retrieve": Act.CUSTOMER_IMPORT, "create": Act.CUSTOMER_IMPORT,
            "commit": Act.CUSTOMER_IMPORT}

    def get_queryset(self) -> Any:
        user = cast(User, self.request.user)
        jobs = ImportJob.objects.all()
        return jobs if user.role == Role.ADMIN else jobs.filter(created_by=user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset().defer("content"))
        return self.get_paginated_response(ImportJobSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(ImportJobSerializer(self.get_object()).data)

    @extend_schema(request={"multipart/form-data": ImportJobCreateSerializer}, responses={202: ImportJobSerializer})
    def create(self, request: Request) -> Response:
        serializer = ImportJobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload = serializer.validated_data["file"]
        job = import_job_create(actor=self.actor(), file_name=upload.name or "customers.csv", raw=upload.read(),
                                dry_run=serializer.validated_data["dry_run"], mode=serializer.validated_data["mode"])
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=ImportCommitSerializer, responses={202: ImportJobSerializer})
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, FormParser, MultiPartParser])
    def commit(self, request: Request, pk: str) -> Response:
        """Import a finished dry run's file for real."""
        serializer = ImportCommitSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = import_job_commit(job=cast(ImportJob, self.get_object()), mode=serializer.validated_data["mode"],
                                actor=self.actor())
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
