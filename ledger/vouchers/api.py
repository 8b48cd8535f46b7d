"""REST endpoints for vouchers and recharges (thin: parse, call one service or selector, render).
Outside the caller's scope an object does not exist (404); a role that may not act gets 403 (the services
ask hierarchy.authority); a reference outside scope is a 400 with the field named."""

from __future__ import annotations

from typing import cast

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.api_base import actor_of
from hierarchy.authority import Act
from hierarchy.models import Operator, Package, Subscriber
from hierarchy.selectors import packages_for
from ledger.api import Conflict
from ledger.pricing import to_minor
from ledger.services import IdempotencyConflict
from ledger.vouchers import selectors
from ledger.vouchers.limits import TooManyAttempts, pin_attempt
from ledger.vouchers.models import Channel, Recharge
from ledger.vouchers.pdf import batch_sheet
from ledger.vouchers.recharge import recharge_purchase
from ledger.vouchers.self_recharge import (
    self_recharge_buy,
    self_recharge_intent,
    self_recharge_package,
    self_recharge_quote,
    stripe_connected,
)
from ledger.vouchers.serializers import (
    AssignRequestSerializer,
    BatchRequestSerializer,
    BatchSerializer,
    RechargeRequestSerializer,
    RechargeSerializer,
    RedeemRequestSerializer,
    RedemptionSerializer,
    SelfRechargeIntentSerializer,
    SelfRechargeQuoteSerializer,
    SelfRechargeRequestSerializer,
    VoucherSerializer,
)
from ledger.vouchers.services import (
    VoucherRejected,
    batch_create,
    stock_assign,
    voucher_redeem,
    voucher_sell,
    voucher_void,
)


class BatchListCreate(APIView):
    @extend_schema(responses=BatchSerializer(many=True))
    def get(self, request: Request) -> Response:
        batches = selectors.batches_in_scope(user=request.user).order_by("-id")[:500]
        return Response(BatchSerializer(selectors.with_stock_counts(batches), many=True).data)

    @extend_schema(request=BatchRequestSerializer, responses={201: BatchSerializer})
    def post(self, request: Request) -> Response:
        user = request.user
        authority.authorize(user, Act.VOUCHER_BATCH_CREATE)
        data = BatchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        package = packages_for(user=user).filter(pk=values["package"]).first()
        if package is None:
            raise exceptions.ValidationError({"package": ["No such package offered in your part of the tree."]})
        owner = authority.user_node(user=user)
        if "owner" in values:
            owner = authority.restrict(Operator.objects.all(), user, Act.VOUCHER_BATCH_CREATE).filter(
                pk=values["owner"]).first()
            if owner is None:
                raise exceptions.ValidationError({"owner": ["No such node in your part of the tree."]})
        assert owner is not None
        batch = batch_create(package=package, quantity=values["quantity"], unit=values["unit"],
                             face_price=to_minor(values["face_price"]), count=values["count"], owner=owner,
                             commission_percent=values["commission_percent"], redeem_unsold=values["redeem_unsold"],
                             note=values["note"], valid_until=values["valid_until"], actor=actor_of(request))
        return Response(BatchSerializer(selectors.with_stock_counts([batch])[0]).data, status=status.HTTP_201_CREATED)


class BatchDetail(APIView):
    @extend_schema(responses=BatchSerializer)
    def get(self, request: Request, pk: int) -> Response:
        batch = get_object_or_404(selectors.batches_in_scope(user=request.user), pk=pk)
        return Response(BatchSerializer(selectors.with_stock_counts([batch])[0]).data)


class BatchPdf(APIView):
    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY)},
                   description="The printable sheet of the batch's cards still in stock or sold (not redeemed "
                               "or void). A card distributor gets its own stock only.")
    def get(self, request: Request, pk: int) -> HttpResponse:
        user = cast(User, request.user)
        # The sheet shows PINs: who may print the batch (a card distributor: its own stock).
        act = Act.VOUCHER_SELL if user.role == Role.CARD_DISTRIBUTOR else Act.VOUCHER_BATCH_CREATE
        batch = get_object_or_404(selectors.batches_in_scope(user=user), pk=pk)
        authority.authorize(user, act, node=None if user.role == Role.CARD_DISTRIBUTOR else batch.owner)
        vouchers = (selectors.vouchers_in_scope(user=user, act=act).filter(batch=batch, status__in=["new", "sold"])
                    .order_by("number"))
        tenant = request.tenant  # type: ignore[attr-defined]
        body = batch_sheet(batch=batch, vouchers=vouchers, isp_name=tenant.name, brand_color=tenant.brand_color,
                           currency=tenant.currency)
        response = HttpResponse(body, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="vouchers-{batch.pk}.pdf"'
        return response


class BatchAssign(APIView):
    @extend_schema(request=AssignRequestSerializer, responses={200: VoucherSerializer(many=True)})
    def post(self, request: Request, pk: int) -> Response:
        user = request.user
        batch = get_object_or_404(selectors.batches_in_scope(user=user), pk=pk)
        authority.authorize(user, Act.VOUCHER_ASSIGN, node=batch.owner)
        data = AssignRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        distributor = User.objects.filter(pk=data.validated_data["distributor"]).first()
        if distributor is None:
            raise exceptions.ValidationError({"distributor": ["No such login."]})
        ids = stock_assign(batch=batch, distributor=distributor, count=data.validated_data["count"],
                           actor=actor_of(request))
        vouchers = selectors.vouchers_in_scope(user=user).filter(pk__in=ids).order_by("number")
        return Response(VoucherSerializer(vouchers, many=True).data)


class VoucherList(APIView):
    @extend_schema(responses=VoucherSerializer(many=True), parameters=[
        OpenApiParameter("batch", int), OpenApiParameter("status", str), OpenApiParameter("distributor", int)])
    def get(self, request: Request) -> Response:
        vouchers = selectors.vouchers_in_scope(user=request.user)
        for field in ("batch", "status", "distributor"):
            if value := request.query_params.get(field):
                if field != "status" and not value.isdigit():
                    raise exceptions.ValidationError({field: ["Give an id."]})
                vouchers = vouchers.filter(**{field: value})
        return Response(VoucherSerializer(vouchers.order_by("batch_id", "number")[:1000], many=True).data)


class VoucherSell(APIView):
    @extend_schema(request=None, responses={200: VoucherSerializer})
    def post(self, request: Request, pk: int) -> Response:
        voucher = get_object_or_404(selectors.vouchers_in_scope(user=request.user), pk=pk)
        return Response(VoucherSerializer(voucher_sell(voucher=voucher, actor=actor_of(request))).data)


class VoucherVoid(APIView):
    @extend_schema(request=None, responses={200: VoucherSerializer})
    def post(self, request: Request, pk: int) -> Response:
        voucher = get_object_or_404(selectors.vouchers_in_scope(user=request.user), pk=pk)
        return Response(VoucherSerializer(voucher_void(voucher=voucher, actor=actor_of(request))).data)


class VoucherRedeem(APIView):
    @extend_schema(request=RedeemRequestSerializer, responses={200: RedemptionSerializer},
                   description="Redeem a PIN for yourself (customer login) or a customer in your scope (staff). "
                               "5 wrong PINs per 15 minutes per address and per customer, then 429.")
    def post(self, request: Request) -> Response:
        user = cast(User, request.user)
        data = RedeemRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if user.role == Role.CUSTOMER:  # the signed-in customer itself, whatever it names
            customer = Subscriber.objects.select_related("owner", "package").filter(user_id=user.pk).first()
            if customer is None:
                raise exceptions.PermissionDenied("Your login has no customer account.")
        else:
            if "customer" not in data.validated_data:
                raise exceptions.ValidationError({"customer": ["Say which customer redeems the voucher."]})
            # Staff apply a card for a customer they may recharge.
            customer = (authority.restrict(Subscriber.objects.select_related("owner", "package"), user, Act.RECHARGE)
                        .filter(pk=data.validated_data["customer"]).first())
            if customer is None:
                raise exceptions.ValidationError({"customer": ["No such customer in your scope."]})
        address, who = request.META.get("REMOTE_ADDR"), f"customer:{customer.pk}"
        try:
            with pin_attempt(address=address, who=who) as wrong:
                try:
                    result = voucher_redeem(pin=data.validated_data["pin"], customer=customer,
                                            actor=actor_of(request), channel=Channel.API)
                except VoucherRejected:
                    wrong[0] = True
                    raise
        except TooManyAttempts as exc:
            raise exceptions.Throttled(wait=exc.retry_after, detail=str(exc)) from None
        body = {"voucher": result.voucher, "recharge": result.recharge, "expires_at": result.customer.expires_at}
        return Response(RedemptionSerializer(body).data)


class RechargeListCreate(APIView):
    @extend_schema(responses=RechargeSerializer(many=True), parameters=[OpenApiParameter("customer", int)])
    def get(self, request: Request) -> Response:
        recharges = selectors.recharges_in_scope(user=request.user)
        if (customer := request.query_params.get("customer")) and customer.isdigit():
            recharges = recharges.filter(customer_id=int(customer))
        return Response(RechargeSerializer(recharges.order_by("-id")[:500], many=True).data)

    @extend_schema(request=RechargeRequestSerializer, responses={201: RechargeSerializer, 200: RechargeSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", location="header", required=True)])
    def post(self, request: Request) -> Response:
        user = request.user
        authority.authorize(user, Act.RECHARGE)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 150:
            raise exceptions.ValidationError({"Idempotency-Key": ["Send an Idempotency-Key header (1-150 chars)."]})
        data = RechargeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        customer = (authority.restrict(Subscriber.objects.select_related("owner", "package"), user, Act.RECHARGE)
                    .filter(pk=values["customer"]).first())
        if customer is None:
            raise exceptions.ValidationError({"customer": ["No such customer in your scope."]})
        package: Package | None = customer.package
        if "package" in values:
            package = packages_for(user=user).filter(pk=values["package"]).first()
            if package is None:
                raise exceptions.ValidationError({"package": ["No such package offered in your part of the tree."]})
        assert package is not None
        try:
            recharge, created = recharge_purchase(customer=customer, package=package, quantity=values["quantity"],
                                                  unit=values["unit"], actor=actor_of(request),
                                                  idempotency_key=f"api:{key}")
        except IdempotencyConflict as exc:
            raise Conflict("This Idempotency-Key was already used with a different recharge.") from exc
        recharge = Recharge.objects.get(pk=recharge.pk)
        return Response(RechargeSerializer(recharge).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _self_customer(user: User) -> Subscriber:
    """The signed-in customer's own account: nobody else can be named here (staff included)."""
    customer = (Subscriber.objects.select_related("owner", "package").filter(user_id=user.pk).first()
                if user.role == Role.CUSTOMER else None)
    if customer is None:
        raise exceptions.ValidationError({"customer": ["Only a customer login can recharge itself."]})
    return customer


class SelfRecharge(APIView):
    """A customer recharges itself: preview (GET) and purchase (POST, from credit or by card)."""

    @extend_schema(responses={200: SelfRechargeQuoteSerializer}, parameters=[
        OpenApiParameter("package", int, description="Default: your current package."),
        OpenApiParameter("quantity", int, required=True), OpenApiParameter("unit", str, required=True)],
        description="The price of N days/hours of a package for the signed-in customer, and its credit.")
    def get(self, request: Request) -> Response:
        customer = _self_customer(cast(User, request.user))
        data = SelfRechargeRequestSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        package = self_recharge_package(customer=customer, package_id=values.get("package"))
        quote = self_recharge_quote(customer=customer, package=package, quantity=values["quantity"],
                                    unit=values["unit"])
        return Response(SelfRechargeQuoteSerializer({**quote.__dict__, "covered": quote.covered,
                                                     "stripe": stripe_connected()}).data)

    @extend_schema(request=SelfRechargeRequestSerializer,
                   responses={201: RechargeSerializer, 200: RechargeSerializer, 202: SelfRechargeIntentSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", location="header", required=True)],
                   description="pay=credit (default): bought at once from your credit (400 if it does not cover the "
                               "price; nothing changes). pay=stripe: 202 with a PaymentIntent for the price; the "
                               "recharge is bought when Stripe reports the payment succeeded.")
    def post(self, request: Request) -> Response:
        customer = _self_customer(cast(User, request.user))
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 150:
            raise exceptions.ValidationError({"Idempotency-Key": ["Send an Idempotency-Key header (1-150 chars)."]})
        data = SelfRechargeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        package = self_recharge_package(customer=customer, package_id=values.get("package"))
        if values["pay"] == "stripe":
            intent = self_recharge_intent(customer=customer, package=package, quantity=values["quantity"],
                                          unit=values["unit"], idempotency_key=f"api:{key}")
            return Response(SelfRechargeIntentSerializer({"payment_intent": intent["id"], **intent}).data,
                            status=status.HTTP_202_ACCEPTED)
        try:
            recharge, created = self_recharge_buy(customer=customer, package=package, quantity=values["quantity"],
                                                  unit=values["unit"], idempotency_key=f"api:{key}",
                                                  actor=actor_of(request), channel=Channel.API)
        except IdempotencyConflict as exc:
            raise Conflict("This Idempotency-Key was already used with a different recharge.") from exc
        return Response(RechargeSerializer(Recharge.objects.get(pk=recharge.pk)).data,
                        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)
