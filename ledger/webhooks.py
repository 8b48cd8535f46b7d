"""The Stripe webhook endpoint of an ISP host: no login, the signature is the authentication."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ledger.stripe_gateway import BadSignature, stripe_webhook_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    if getattr(request, "tenant", None) is None or request.tenant.schema_name == "public":  # type: ignore[attr-defined]
        return JsonResponse({"detail": "Unknown ISP.", "code": "not_found"}, status=404)
    try:
        event = stripe_webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except BadSignature:
        return JsonResponse({"detail": "Invalid Stripe signature.", "code": "bad_signature"}, status=400)
    except ValidationError as exc:
        return JsonResponse({"detail": exc.messages[0], "code": "not_configured"}, status=400)
    return JsonResponse({"event": event.event_id, "status": event.status})
