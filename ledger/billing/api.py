"""REST endpoints for billing (thin: parse, call one service or selector, render). Scope: the one gate,
``hierarchy.authority.restrict`` (invoices of the customers in the caller's part of the tree, a customer's
own); outside it → 404. What a role may do is ``hierarchy.authority``'s table, checked by each service
(void, credit notes, discounts, billing-model switches: the ISP's admin and accountant) → 403."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hierarchy import authority
from hierarchy.api_base import actor_of, reading
from hierarchy.authority import Act
from hierarchy.models import Operator, Package, Subscriber
from hierarchy.selectors import packages_for
from hierarchy.services import operator_root
from ledger.api import Conflict
from ledger.billing import selectors
from ledger.billing.changes import (
    ChangeQuote,
    billing_model_switch,
    billing_profile_update,
    package_change_confirm,
    package_change_preview,
)
from ledger.billing.documents import billing_settings, tenant_today
from ledger.billing.models import BillingProfile, CreditNote, Invoice, PromoCode
from ledger.billing.payments import customer_credit, invoice_pay
from ledger.billing.pdf import invoice_pdf
from ledger.billing.promos import promo_code_create, promo_code_delete, promo_code_update, promo_redeem
from ledger.billing.serializers import (
    AgingQuerySerializer,
    BillingProfileSerializer,
    BillingProfileWriteSerializer,
    BillingSettingsSerializer,
    CreditNoteRequestSerializer,
    CreditNoteSerializer,
    InvoiceFilterSerializer,
    InvoicePayRequestSerializer,
    InvoiceSerializer,
    ModelSwitchRequestSerializer,
    PackageChangeQuoteSerializer,
    PackageChangeRequestSerializer,
    PackageChangeResultSerializer,
    PromoCodeSerializer,
    PromoRedeemSerializer,
    VoidRequestSerializer,
)
from ledger.billing.services import invoice_credit, invoice_void
from ledger.pricing import from_minor
from ledger.reports import Report
from ledger.services import PAYMENT_ACTS, IdempotencyConflict


def _invoice(request: Request, pk: int) -> Invoice:
    return get_object_or_404(selectors.invoices_in_scope(user=request.user).select_related("customer__owner"), pk=pk)


def _customer(request: Request, pk: int) -> Subscriber:
    """A customer the caller may see (404 otherwise); what it may change there the services decide."""
    customers = authority.restrict(Subscriber.objects.select_related("owner", "package"), request.user,
                                   Act.CUSTOMER_VIEW)
    return get_object_or_404(customers, pk=pk)


def _writable_customer(request: Request, pk: int) -> Subscriber:
    customer = _customer(request, pk)
    authority.authorize(request.user, Act.PACKAGE_CHANGE, node=customer.owner)
    return customer


class InvoiceList(generics.ListAPIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    serializer_class = InvoiceSerializer

    @extend_schema(parameters=[InvoiceFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Invoice]:
        filters = InvoiceFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.invoice_list(user=self.request.user, today=tenant_today(), **filters.validated_data)


class InvoiceDetail(generics.RetrieveAPIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    serializer_class = InvoiceSerializer

    def get_queryset(self) -> QuerySet[Invoice]:
        return selectors.invoices_in_scope(user=self.request.user).prefetch_related("lines")


class InvoicePdf(APIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        invoice = _invoice(request, pk)
        response = HttpResponse(invoice_pdf(invoice=invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number or invoice.pk}.pdf"'
        return response


class InvoiceVoid(APIView):
    @extend_schema(request=VoidRequestSerializer, responses={200: InvoiceSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Void an unpaid invoice: the ISP's admin or accountant, with a reason (audited)."""
        invoice = _invoice(request, pk)
        authority.authorize(request.user, Act.INVOICE_VOID, node=invoice.customer.owner)
        data = VoidRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = invoice_void(invoice=invoice, reason=data.validated_data["reason"], actor=actor_of(request))
        return Response(InvoiceSerializer(Invoice.objects.prefetch_related("lines").get(pk=invoice.pk)).data)


class InvoiceCreditNoteCreate(APIView):
    @extend_schema(request=CreditNoteRequestSerializer, responses={201: CreditNoteSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """A credit note: the ISP's admin or accountant, with a reason, within the ISP's maximum (audited)."""
        invoice = _invoice(request, pk)
        authority.authorize(request.user, Act.CREDIT_NOTE, node=invoice.customer.owner)
        data = CreditNoteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        note = invoice_credit(invoice=invoice, amount=data.validated_data["amount"],
                              reason=data.validated_data["reason"], actor=actor_of(request))
        return Response(CreditNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class InvoicePay(APIView):
    @extend_schema(request=InvoicePayRequestSerializer, responses={201: InvoiceSerializer, 200: InvoiceSerializer},
                   parameters=[OpenApiParameter("Idempotency-Key", location="header", required=True)])
    def post(self, request: Request, pk: int) -> Response:
        """A payment directed at this invoice (any rest goes to the oldest open invoices, then credit)."""
        invoice = _invoice(request, pk)
        user = request.user
        authority.authorize(user, Act.INVOICE_PAY, node=invoice.customer.owner)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 150:
            raise exceptions.ValidationError({"Idempotency-Key": ["Send an Idempotency-Key header (1-150 chars)."]})
        data = InvoicePayRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        authority.authorize(user, PAYMENT_ACTS[data.validated_data["method"]], node=invoice.customer.owner)
        try:
            _, created = invoice_pay(invoice=invoice, amount=data.validated_data["amount"],
                                     method=data.validated_data["method"], idempotency_key=f"api:{key}",
                                     actor=user, external_reference=data.validated_data["reference"])
        except IdempotencyConflict as exc:
            raise Conflict("This Idempotency-Key was already used with a different payment.") from exc
        body = InvoiceSerializer(Invoice.objects.prefetch_related("lines").get(pk=invoice.pk)).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CreditNoteList(generics.ListAPIView):
    permission_classes = reading(Act.FINANCE_VIEW, own_rows=True)
    serializer_class = CreditNoteSerializer

    def get_queryset(self) -> QuerySet[CreditNote]:
        return selectors.credit_notes_in_scope(user=self.request.user)


def _quote_body(quote: ChangeQuote) -> dict[str, Any]:
    amounts = quote.amounts
    zero = {"net": 0, "discount": 0, "tax": 0, "total": 0}
    return {
        "customer": quote.customer_id, "old_package": quote.old_package_id, "new_package": quote.new_package_id,
        "effective": quote.on, "invoice": quote.invoice_id,
        "period_start": quote.period[0] if quote.period else None,
        "period_end": quote.period[1] if quote.period else None,
        "days_in_period": amounts.days_in_period if amounts else 0,
        "days_remaining": amounts.days_remaining if amounts else 0,
        "credit": {"net": amounts.credit_net, "discount": 0, "tax": amounts.credit_tax,
                   "total": amounts.credit_total} if amounts else zero,
        "charge": {"net": amounts.charge.amount, "discount": amounts.charge.discount, "tax": amounts.charge.tax,
                   "total": amounts.charge.total} if amounts else zero,
        "net_total": amounts.net_total if amounts else 0,
        "segments": [{"package": seg.package_id, "start": seg.start, "end": seg.end, "days": seg.days,
                      "days_in_period": seg.days_in_period, "net": seg.amounts.amount,
                      "discount": seg.amounts.discount, "tax": seg.amounts.tax, "total": seg.amounts.total}
                     for seg in quote.segments],
    }


def _package(request: Request) -> Package:
    data = PackageChangeRequestSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    package = packages_for(user=request.user).filter(pk=data.validated_data["package"]).first()
    if package is None:
        raise exceptions.ValidationError({"package": ["No such package offered in your part of the tree."]})
    return package


class PackageChangePreview(APIView):
    @extend_schema(request=PackageChangeRequestSerializer, responses={200: PackageChangeQuoteSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """The exact proration a package change today would post; nothing is written."""
        customer = _writable_customer(request, pk)
        quote = package_change_preview(customer=customer, package=_package(request))
        return Response(PackageChangeQuoteSerializer(_quote_body(quote)).data)


class PackageChangeConfirm(APIView):
    @extend_schema(request=PackageChangeRequestSerializer, responses={201: PackageChangeResultSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Post the proration and change the package (the CoA goes out after commit)."""
        customer = _writable_customer(request, pk)
        change = package_change_confirm(customer=customer, package=_package(request), actor=actor_of(request))
        body = {"id": change.pk, "customer": customer.pk, "package": change.new_package_id,
                "credit_note": change.credit_note,
                "invoice": Invoice.objects.prefetch_related("lines").get(pk=change.invoice_id)
                if change.invoice_id else None}
        return Response(PackageChangeResultSerializer(body).data, status=status.HTTP_201_CREATED)


def _profile_body(profile: BillingProfile) -> dict[str, Any]:
    data = BillingProfileSerializer(profile).data
    data["credit"] = str(from_minor(customer_credit(customer_id=profile.customer_id)))
    return data


class CustomerBillingProfile(APIView):
    @extend_schema(responses={200: BillingProfileSerializer})
    def get(self, request: Request, pk: int) -> Response:
        customer = _customer(request, pk)
        profile = get_object_or_404(BillingProfile, customer=customer)
        return Response(_profile_body(profile))

    @extend_schema(request=BillingProfileWriteSerializer, responses={200: BillingProfileSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        """Terms, standing discount and start date (the model changes through billing-model/): the ISP's
        admin or accountant, with a reason, a discount within the ISP's maximum (audited)."""
        customer = _customer(request, pk)
        data = BillingProfileWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        reason = fields.pop("reason")
        profile = billing_profile_update(customer=customer, reason=reason, actor=actor_of(request), **fields)
        return Response(_profile_body(profile))


class CustomerBillingModel(APIView):
    @extend_schema(request=ModelSwitchRequestSerializer, responses={200: BillingProfileSerializer})
    def post(self, request: Request, pk: int) -> Response:
        """Switch monthly ↔ daily; with open invoices, say what becomes of them (void or keep)."""
        customer = _customer(request, pk)
        data = ModelSwitchRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        profile = billing_model_switch(customer=customer, model=data.validated_data["model"],
                                       open_invoices=data.validated_data["open_invoices"],
                                       reason=data.validated_data["reason"], actor=actor_of(request))
        return Response(_profile_body(profile))


class PromoCodeListCreate(generics.ListAPIView):
    serializer_class = PromoCodeSerializer

    def get_queryset(self) -> QuerySet[PromoCode]:
        authority.authorize(self.request.user, Act.DISCOUNT_SET)
        return PromoCode.objects.all()

    @extend_schema(request=PromoCodeSerializer, responses={201: PromoCodeSerializer})
    def post(self, request: Request) -> Response:
        """A promo code grants discounts: the ISP's admin or accountant, with a reason (audited)."""
        data = PromoCodeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        promo = promo_code_create(**data.validated_data, actor=actor_of(request))
        return Response(PromoCodeSerializer(promo).data, status=status.HTTP_201_CREATED)


class PromoCodeDetail(APIView):
    @extend_schema(responses={200: PromoCodeSerializer})
    def get(self, request: Request, pk: int) -> Response:
        authority.authorize(request.user, Act.DISCOUNT_SET)
        return Response(PromoCodeSerializer(get_object_or_404(PromoCode, pk=pk)).data)

    @extend_schema(request=PromoCodeSerializer, responses={200: PromoCodeSerializer})
    def patch(self, request: Request, pk: int) -> Response:
        authority.authorize(request.user, Act.DISCOUNT_SET)
        promo = get_object_or_404(PromoCode, pk=pk)
        data = PromoCodeSerializer(promo, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        promo = promo_code_update(promo=promo, reason=fields.pop("reason", ""), actor=actor_of(request), **fields)
        return Response(PromoCodeSerializer(promo).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        authority.authorize(request.user, Act.DISCOUNT_SET)
        promo_code_delete(promo=get_object_or_404(PromoCode, pk=pk), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PromoCodeRedeem(APIView):
    @extend_schema(request=PromoRedeemSerializer, responses={201: OpenApiResponse(description="Redeemed")})
    def post(self, request: Request) -> Response:
        """Claim a promo code for a customer (staff in scope, or the customer itself)."""
        data = PromoRedeemSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        pk = data.validated_data["customer"]
        # A customer claims a code for itself; staff for a customer they may edit.
        customer = authority.restrict(Subscriber.objects.all(), user, Act.CUSTOMER_EDIT).filter(pk=pk).first()
        if customer is None:
            raise exceptions.ValidationError({"customer": ["No such customer in your scope."]})
        redemption = promo_redeem(code=data.validated_data["code"], customer=customer)
        return Response({"id": redemption.pk, "promo": redemption.promo_id, "customer": customer.pk},
                        status=status.HTTP_201_CREATED)


class BillingSettingsView(APIView):
    @extend_schema(responses={200: BillingSettingsSerializer})
    def get(self, request: Request) -> Response:
        authority.authorize(request.user, Act.FINANCE_VIEW, node=operator_root())  # the ISP's own books
        return Response(BillingSettingsSerializer(billing_settings()).data)

    @extend_schema(request=BillingSettingsSerializer, responses={200: BillingSettingsSerializer})
    def patch(self, request: Request) -> Response:
        """The ISP's billing settings, bounds on discounts and vouchers included: its admin only."""
        authority.authorize(request.user, Act.BILLING_SETTINGS_SET)
        data = BillingSettingsSerializer(billing_settings(), data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        data.save()
        return Response(data.data)


class ReceivablesAging(Report):
    @extend_schema(parameters=[AgingQuerySerializer, OpenApiParameter("format", enum=["json", "csv"])],
                   responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        """Open invoice amounts per customer by days past due: current, 1-30, 31-60, 61-90, over 90."""
        user = request.user
        authority.authorize(user, Act.FINANCE_VIEW)
        if authority.user_node(user=user) is None:
            raise exceptions.PermissionDenied("Your role has no receivables report.")
        query = AgingQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        owner_path = None
        if owner := query.validated_data.get("owner"):
            node = authority.restrict(Operator.objects.all(), user, Act.FINANCE_VIEW).filter(pk=owner).first()
            if node is None:
                raise exceptions.ValidationError({"owner": ["No such node in your part of the tree."]})
            owner_path = node.path
        on = query.validated_data.get("on") or tenant_today()
        rows = selectors.receivables_aging(user=user, on=on, owner_path=owner_path)
        totals = {bucket: sum(row[bucket] for row in rows) for bucket in (*selectors.AGING_BUCKETS, "total")}
        money = (*selectors.AGING_BUCKETS, "total")
        return Response({
            "on": on.isoformat(),
            "totals": {k: str(from_minor(v)) for k, v in totals.items()},
            "rows": [{k: (str(from_minor(v)) if k in money else v) for k, v in row.items()} for row in rows],
        })
