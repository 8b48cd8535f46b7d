"""REST endpoints for the role tree: operators (tree), users, packages and package assignments.
Thin: parse with a serializer, call one service or selector, render."""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from hierarchy import packages as package_services
from hierarchy import services
from hierarchy.api_base import ScopedViewSet, in_scope_or_error
from hierarchy.audit import audit_events_for
from hierarchy.authority import Act
from hierarchy.models import Operator, Package, PackageAssignment
from hierarchy.selectors import assignments_in_scope, operators_in_scope, packages_for, users_in_scope
from hierarchy.serializers import (
    AssignmentCreateSerializer,
    AssignmentPriceSerializer,
    AssignmentSerializer,
    AssignSerializer,
    AuditEventSerializer,
    OperatorCreateSerializer,
    OperatorMoveSerializer,
    OperatorSerializer,
    OperatorSuspendSerializer,
    OperatorTreeSerializer,
    OperatorUpdateSerializer,
    PackageSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
)


def _audit_page(view: ScopedViewSet, object_type: str, pk: int) -> Response:
    page = view.paginate_queryset(audit_events_for(object_type=object_type, object_id=pk))
    return view.get_paginated_response(AuditEventSerializer(page, many=True).data)


class OperatorViewSet(ScopedViewSet):
    """Nodes of the role tree in the caller's scope (its subtree plus explicit grants)."""

    serializer_class = OperatorSerializer
    acts = {"list": Act.NODE_VIEW, "retrieve": Act.NODE_VIEW, "tree": Act.NODE_VIEW, "audit": Act.AUDIT_VIEW,
            "create": Act.NODE_CREATE, "update": Act.NODE_EDIT, "destroy": Act.NODE_CREATE,
            "suspend": Act.NODE_STATUS, "reactivate": Act.NODE_STATUS, "move": Act.NODE_MOVE}

    def get_queryset(self) -> QuerySet[Operator]:
        return operators_in_scope(user=self.request.user).order_by("path")

    def act(self) -> Act | None:
        """Changing only a node's money settings is NODE_BILLING_SET (an accountant may), not NODE_EDIT."""
        data = self.request.data if isinstance(self.request.data, dict) else {}
        if self.action in ("update", "partial_update") and data and set(data) <= services.MONEY_FIELDS:
            return Act.NODE_BILLING_SET
        return super().act()

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OperatorSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(OperatorSerializer(self.get_object()).data)

    @extend_schema(request=OperatorCreateSerializer, responses={201: OperatorSerializer})
    def create(self, request: Request) -> Response:
        serializer = OperatorCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        parent = in_scope_or_error(self.get_queryset(), data.pop("parent"), "parent", "node")
        node = services.operator_create(parent=parent, kind=data.pop("role", None), actor=self.actor(), **data)
        return Response(OperatorSerializer(node).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=OperatorUpdateSerializer, responses=OperatorSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        node = cast(Operator, self.get_object())
        serializer = OperatorUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = services.operator_update(operator=node, actor=self.actor(), **serializer.validated_data)
        return Response(OperatorSerializer(node).data)

    @extend_schema(request=OperatorUpdateSerializer, responses=OperatorSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        services.operator_delete(operator=cast(Operator, self.get_object()), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=OperatorSuspendSerializer, responses=OperatorSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request: Request, pk: str) -> Response:
        serializer = OperatorSuspendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = services.operator_suspend(operator=cast(Operator, self.get_object()), actor=self.actor(),
                                         suspend_customers=serializer.validated_data["suspend_customers"])
        return Response(OperatorSerializer(node).data)

    @extend_schema(request=None, responses=OperatorSerializer)
    @action(detail=True, methods=["post"])
    def reactivate(self, request: Request, pk: str) -> Response:
        node = services.operator_reactivate(operator=cast(Operator, self.get_object()), actor=self.actor())
        return Response(OperatorSerializer(node).data)

    @extend_schema(request=OperatorMoveSerializer, responses=OperatorSerializer)
    @action(detail=True, methods=["post"])
    def move(self, request: Request, pk: str) -> Response:
        """Move this node and its whole subtree under another parent (ISP admins only)."""
        serializer = OperatorMoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        node = cast(Operator, self.get_object())
        parent = in_scope_or_error(self.get_queryset(), serializer.validated_data["parent"], "parent", "node")
        node = services.operator_move(operator=node, new_parent=parent, actor=self.actor())
        return Response(OperatorSerializer(node).data)

    @extend_schema(responses=OperatorTreeSerializer(many=True))
    @action(detail=False, methods=["get"])
    def tree(self, request: Request) -> Response:
        """The caller's part of the tree, nested (roots: its own node and any granted nodes)."""
        nodes = list(self.get_queryset().values("id", "parent_id", "name", "kind", "status"))
        by_id: dict[int, dict[str, Any]] = {n["id"]: {"id": n["id"], "name": n["name"], "role": n["kind"], "status": n["status"],
                           "children": []} for n in nodes}
        roots: list[dict[str, Any]] = []
        for n in nodes:  # ordered by path: parents come first
            parent = by_id.get(n["parent_id"])
            (parent["children"] if parent else roots).append(by_id[n["id"]])
        return Response(roots)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        return _audit_page(self, "operator", cast(Operator, self.get_object()).pk)


class UserViewSet(ScopedViewSet):
    """Staff and reseller logins attached to nodes in the caller's scope."""

    serializer_class = UserSerializer
    # Changing or removing a login is creating one of its role there (authority.login_role_grantable).
    acts = {"list": Act.LOGIN_VIEW, "retrieve": Act.LOGIN_VIEW, "create": Act.LOGIN_CREATE,
            "update": Act.LOGIN_CREATE, "destroy": Act.LOGIN_CREATE}

    def get_queryset(self) -> QuerySet[User]:
        return users_in_scope(user=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(UserSerializer(self.get_object()).data)

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request: Request) -> Response:
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        node = in_scope_or_error(operators_in_scope(user=request.user), data.pop("operator"), "operator", "node")
        user = services.user_create(operator=node, actor=self.actor(), **data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        target = cast(User, self.get_object())
        serializer = UserUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_update(user=target, actor=self.actor(), **serializer.validated_data)
        return Response(UserSerializer(user).data)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        services.user_delete(user=cast(User, self.get_object()), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


class PackageViewSet(ScopedViewSet):
    """Master packages: all of them for the ISP's staff, the assigned ones for a reseller."""

    serializer_class = PackageSerializer
    acts = {"list": Act.PACKAGE_VIEW, "retrieve": Act.PACKAGE_VIEW, "audit": Act.AUDIT_VIEW,
            "create": Act.PACKAGE_EDIT, "update": Act.PACKAGE_EDIT, "destroy": Act.PACKAGE_EDIT,
            "retire": Act.PACKAGE_EDIT, "assign": Act.PACKAGE_ASSIGN}

    def get_queryset(self) -> QuerySet[Package]:
        return packages_for(user=self.request.user).order_by("name")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(PackageSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(PackageSerializer(self.get_object()).data)

    @extend_schema(request=PackageSerializer, responses={201: PackageSerializer})
    def create(self, request: Request) -> Response:
        serializer = PackageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        package = package_services.package_create(actor=self.actor(), **serializer.validated_data)
        return Response(PackageSerializer(package).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PackageSerializer, responses=PackageSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        package = cast(Package, self.get_object())
        serializer = PackageSerializer(package, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        package = package_services.package_update(package=package, actor=self.actor(), **serializer.validated_data)
        return Response(PackageSerializer(package).data)

    @extend_schema(request=PackageSerializer, responses=PackageSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        package_services.package_delete(package=cast(Package, self.get_object()), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=PackageSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request: Request, pk: str) -> Response:
        package = package_services.package_retire(package=cast(Package, self.get_object()), actor=self.actor())
        return Response(PackageSerializer(package).data)

    @extend_schema(request=AssignSerializer, responses={201: AssignmentSerializer})
    @action(detail=True, methods=["post"])
    def assign(self, request: Request, pk: str) -> Response:
        """Offer this package at a node below yours for a price (never below that node's cost)."""
        serializer = AssignSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = assignment_write(self, cast(Package, self.get_object()), serializer.validated_data["operator"],
                               serializer.validated_data["price"])
        return Response(AssignmentSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=AuditEventSerializer(many=True))
    @action(detail=True, methods=["get"])
    def audit(self, request: Request, pk: str) -> Response:
        return _audit_page(self, "package", cast(Package, self.get_object()).pk)


def assignment_write(view: ScopedViewSet, package: Package, operator_id: int, price: Any) -> PackageAssignment:
    """Assign/re-price at a node in the caller's scope (the service decides: below its own, or its own offer)."""
    node = in_scope_or_error(operators_in_scope(user=view.request.user), operator_id, "operator", "node")
    return package_services.package_assign(package=package, operator=node, price=price, actor=view.actor())


class PackageAssignmentViewSet(ScopedViewSet):
    """Packages offered at nodes in the caller's scope, with each node's price."""

    serializer_class = AssignmentSerializer
    acts = {"list": Act.FINANCE_VIEW, "retrieve": Act.FINANCE_VIEW, "create": Act.PACKAGE_ASSIGN,
            "update": Act.PACKAGE_ASSIGN, "destroy": Act.PACKAGE_ASSIGN}

    def get_queryset(self) -> QuerySet[PackageAssignment]:
        return assignments_in_scope(user=self.request.user)

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(AssignmentSerializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(AssignmentSerializer(self.get_object()).data)

    @extend_schema(request=AssignmentCreateSerializer, responses={201: AssignmentSerializer})
    def create(self, request: Request) -> Response:
        serializer = AssignmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        package = in_scope_or_error(packages_for(user=request.user), data["package"], "package", "package")
        row = assignment_write(self, package, data["operator"], data["price"])
        return Response(AssignmentSerializer(row).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AssignmentPriceSerializer, responses=AssignmentSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        row = cast(PackageAssignment, self.get_object())
        serializer = AssignmentPriceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row = assignment_write(self, row.package, row.operator_id, serializer.validated_data["price"])
        return Response(AssignmentSerializer(row).data)

    @extend_schema(request=AssignmentPriceSerializer, responses=AssignmentSerializer)
    def update(self, request: Request, pk: str) -> Response:
        return self.partial_update(request, pk)

    def destroy(self, request: Request, pk: str) -> Response:
        row = cast(PackageAssignment, self.get_object())
        package_services.assignment_delete(assignment=row, actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

