"""REST endpoints for money (thin: parse, call one service or selector, render)."""

from __future__ import annotations

import json
from typing import Any, cast

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from hierarchy import authority
from hierarchy.api_base import reading
from hierarchy.authority import Act
from hierarchy.models import Operator, Subscriber
from ledger import selectors
from ledger.models import Account, EntryAttachment, JournalEntry, Payment, Settlement
from ledger.pricing import to_minor
from ledger.serializers import (
    AccountSerializer,
    AttachmentUploadSerializer,
    JournalEntrySerializer,
    ManualEntrySerializer,
    ManualEntryUploadSerializer,
    PaymentRequestSerializer,
    PaymentSerializer,
    RefundRequestSerializer,
    SettlementSerializer,
    TopupRequestSerializer,
)
from ledger.services import (
    PAYMENT_ACTS,
    AlreadyReversed,
    IdempotencyConflict,
    StaleChain,
    entry_attachments_add,
    manual_entry_record,
    payment_record,
    payment_refund,
    settlement_record,
)
from ledger.wallets import wallet_balance, wallet_topup


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _user(request: Request) -> User:
    return cast(User, request.user)


class PaymentListCreate(APIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    @extend_schema(responses=PaymentSerializer(many=True))
    def get(self, request: Request) -> Response:
        payments = selectors.payments_in_scope(user=_user(request))
        return Response(PaymentSerializer(payments[:500], many=True).data)

    @extend_schema(request=PaymentRequestSerializer, responses={201: PaymentSerializer, 200: PaymentSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", location="header", required=True)])
    def post(self, request: Request) -> Response:
        """A payment by ``method``: cash is recorded against the caller's own node (what it collected); bank and
        stripe only by the ISP's admin or accountant (the service checks hierarchy.authority)."""
        user = _user(request)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 150:
            raise exceptions.ValidationError({"Idempotency-Key": ["Send an Idempotency-Key header (1-150 chars)."]})
        data = PaymentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        method = data.validated_data["method"]
        authority.authorize(user, PAYMENT_ACTS[method])  # the role first: 403, whatever the customer
        customer = (authority.restrict(Subscriber.objects.all(), user, PAYMENT_ACTS[method])
                    .select_related("owner", "package").filter(pk=data.validated_data["customer"]).first())
        if customer is None:
            raise exceptions.ValidationError({"customer": ["No such customer in your scope."]})
        try:
            payment, created = payment_record(
                customer=customer, amount=to_minor(data.validated_data["amount"]), method=method,
                idempotency_key=f"api:{key}", actor=user, external_reference=data.validated_data["reference"],
            )
        except IdempotencyConflict as exc:
            raise Conflict("This Idempotency-Key was already used with a different payment.") from exc
        except StaleChain as exc:
            raise Conflict("The customer's prices changed while the payment was recorded; send it again.") from exc
        payment = Payment.objects.select_related("entry").get(pk=payment.pk)
        return Response(PaymentSerializer(payment).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class PaymentDetail(generics.RetrieveAPIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    serializer_class = PaymentSerializer

    def get_queryset(self) -> QuerySet[Payment]:
        return selectors.payments_in_scope(user=_user(self.request))


class PaymentRefund(APIView):
    @extend_schema(request=RefundRequestSerializer, responses={201: JournalEntrySerializer})
    def post(self, request: Request, pk: int) -> Response:
        user = _user(request)
        payment = get_object_or_404(selectors.payments_in_scope(user=user).select_related("customer__owner"), pk=pk)
        data = RefundRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            entry = payment_refund(payment=payment, actor=user, reason=data.validated_data["reason"],
                                   chargeback=data.validated_data["chargeback"])
        except AlreadyReversed as exc:
            raise Conflict("This payment was already refunded.") from exc
        entry = JournalEntry.objects.prefetch_related("postings__account").get(pk=entry.pk)
        return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class OperatorTopup(APIView):
    @extend_schema(request=TopupRequestSerializer, responses={201: dict})
    def post(self, request: Request, pk: int) -> Response:
        """A deposit (cash, bank: the ISP's admin or accountant; the default at the ISP) or a transfer from the
        caller's own wallet to its direct child (``parent_wallet``, the default below the ISP)."""
        user = _user(request)
        data = TopupRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        own = authority.user_node(user=user)
        at_isp = own is not None and own.depth == 0
        method = data.validated_data.get("method") or ("bank" if at_isp else "parent_wallet")
        act = Act.WALLET_TRANSFER if method == "parent_wallet" else Act.WALLET_DEPOSIT
        authority.authorize(user, act)  # the role first: 403
        others = Operator.objects.exclude(pk=own.pk) if own is not None else Operator.objects.all()
        target = get_object_or_404(authority.restrict(others, user, act), pk=pk)
        key = request.headers.get("Idempotency-Key", "").strip()
        try:
            topup, created = wallet_topup(node=target, amount=to_minor(data.validated_data["amount"]), method=method,
                                          actor=user, idempotency_key=f"api:{key}" if key else None)
        except IdempotencyConflict as exc:
            raise Conflict("This Idempotency-Key was already used with a different top-up.") from exc
        body = {"id": topup.pk, "operator": target.pk, "amount": str(data.validated_data["amount"]),
                "method": method, "entry": topup.entry_id,
                "wallet_balance": f"{wallet_balance(node=target) / 100:.2f}"}
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AccountList(generics.ListAPIView):
    permission_classes = reading(Act.FINANCE_VIEW)
    serializer_class = AccountSerializer

    def get_queryset(self) -> QuerySet[Account]:
        accounts = selectors.accounts_in_scope(user=_user(self.request))
        for field in ("kind", "owner", "customer"):
            if value := self.request.query_params.get(field):
                accounts = accounts.filter(**{field: value})
        return accounts


class JournalEntryList(generics.ListAPIView):
    permission_classes = reading(Act.FINANCE_VIEW)
    serializer_class = JournalEntrySerializer

    def get_queryset(self) -> QuerySet[JournalEntry]:
        return selectors.entries_in_scope(user=_user(self.request)).prefetch_related("attachments").order_by("-id")

    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": ManualEntrySerializer, "multipart/form-data": ManualEntryUploadSerializer},
        responses={201: JournalEntrySerializer},
    )
    def post(self, request: Request) -> Response:
        """A manual entry (expenses, other income…) by the ISP's admin or accountant. As multipart, ``lines``
        is a JSON string and ``attachments`` any number of PDF/PNG/JPEG/WebP files."""
        user = _user(request)
        authority.authorize(user, Act.MANUAL_ENTRY)  # before reading the upload
        body: Any = request.data if not isinstance(request.data, list) else {}
        payload = {key: body.get(key) for key in ("reason", "reference", "lines") if key in body}
        if isinstance(payload.get("lines"), str):
            try:
                payload["lines"] = json.loads(str(payload["lines"]))
            except ValueError as exc:
                raise exceptions.ValidationError({"lines": ["Send the lines as a JSON list."]}) from exc
        data = ManualEntrySerializer(data=payload)
        data.is_valid(raise_exception=True)
        lines = [(line["account"], to_minor(line["debit"]) if "debit" in line else -to_minor(line["credit"]))
                 for line in data.validated_data["lines"]]
        entry = manual_entry_record(lines=lines, reason=data.validated_data["reason"], actor=user,
                                    external_reference=data.validated_data["reference"],
                                    attachments=request.FILES.getlist("attachments"))
        entry = JournalEntry.objects.prefetch_related("postings__account", "attachments").get(pk=entry.pk)
        return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class EntryAttachmentCreate(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": AttachmentUploadSerializer}, responses={201: JournalEntrySerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Attach more files (``attachments``) to a manual entry."""
        user = _user(request)
        entry = get_object_or_404(selectors.entries_in_scope(user=user), pk=pk)
        entry_attachments_add(entry=entry, uploads=request.FILES.getlist("attachments"), actor=user)
        entry = JournalEntry.objects.prefetch_related("postings__account", "attachments").get(pk=entry.pk)
        return Response(JournalEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class EntryAttachmentDownload(APIView):
    permission_classes = reading(Act.FINANCE_VIEW)
    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int, attachment_id: int) -> FileResponse:
        """The file, to whoever may see the entry."""
        entry = get_object_or_404(selectors.entries_in_scope(user=_user(request)), pk=pk)
        attachment = get_object_or_404(EntryAttachment.objects.filter(entry=entry), pk=attachment_id)
        response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.name,
                                content_type=attachment.content_type)
        response["X-Content-Type-Options"] = "nosniff"
        return response


class JournalEntryDetail(generics.RetrieveAPIView):
    permission_classes = reading(Act.FINANCE_VIEW)
    serializer_class = JournalEntrySerializer

    def get_queryset(self) -> QuerySet[JournalEntry]:
        return selectors.entries_in_scope(user=_user(self.request)).prefetch_related("attachments")


class SettlementListCreate(generics.ListCreateAPIView):
    permission_classes = reading(Act.FINANCE_VIEW)
    serializer_class = SettlementSerializer

    def get_queryset(self) -> QuerySet[Settlement]:
        return selectors.settlements_in_scope(user=_user(self.request))

    def create(self, request: Request, *args: object, **kwargs: object) -> Response:
        user = _user(request)
        authority.authorize(user, Act.SETTLEMENT)  # the role first: 403
        data = SettlementSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settlement = settlement_record(
            node=data.validated_data["node"], amount=to_minor(data.validated_data["amount"]),
            direction=data.validated_data["direction"], method=data.validated_data["method"], actor=user,
        )
        return Response(SettlementSerializer(settlement).data, status=status.HTTP_201_CREATED)
