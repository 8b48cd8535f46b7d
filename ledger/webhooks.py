"""Stripe webhook endpoints: no login, the signature (with the ISP's own webhook secret) is the
authentication. Two addresses reach the same handler: `/api/v1/stripe/webhook/` on the ISP's host, and
`/stripe/webhook/<slug>/` on the platform host (one URL per ISP to paste in its Stripe dashboard)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_tenants.utils import schema_context

from ledger.models import StripeEventStatus
from ledger.stripe_gateway import BadSignature, stripe_webhook_receive
from tenants.models import Tenant, TenantStatus


def _receive(request: HttpRequest) -> JsonResponse:
    try:
        event = stripe_webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except BadSignature:
        return JsonResponse({"detail": "Invalid Stripe signature.", "code": "bad_signature"}, status=400)
    except ValidationError as exc:
        return JsonResponse({"detail": exc.messages[0], "code": "not_configured"}, status=400)
    if event.status == StripeEventStatus.FAILED:
        # Handling failed: stored as failed (retried by the beat task) and answered 5xx so Stripe retries.
        return JsonResponse({"event": event.event_id, "status": event.status, "code": "handler_failed",
                             "detail": "The event could not be handled; it will be retried."}, status=500)
    return JsonResponse({"event": event.event_id, "status": event.status})


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if getattr(request, "tenant", None) is None or request.tenant.schema_name == "public":  # type: ignore[attr-defined]
        return JsonResponse({"detail": "Unknown ISP.", "code": "not_found"}, status=404)
    return _receive(request)


@csrf_exempt
@require_POST
def stripe_webhook_for_tenant(request: HttpRequest, slug: str) -> JsonResponse:
    tenant = Tenant.objects.filter(slug=slug, status=TenantStatus.ACTIVE).first()
    if tenant is None:
        return JsonResponse({"detail": "Unknown ISP.", "code": "not_found"}, status=404)
    with schema_context(tenant.schema_name):
        return _receive(request)
