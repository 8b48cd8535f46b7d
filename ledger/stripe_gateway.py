"""Stripe for one ISP: its own keys, PaymentIntents for customer payments and wallet top-ups, and the
signed webhook that posts each succeeded PaymentIntent exactly once (idempotency key ``stripe:<pi id>``,
and every event recorded once by its unique id). An event whose handling fails is stored as failed and
answered 5xx, so Stripe retries it, and the ``ledger.stripe_events_retry_all`` beat task retries it too."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone

from config.crypto import secret_decrypt, secret_encrypt
from hierarchy.audit import SYSTEM
from hierarchy.models import Operator, Subscriber
from ledger.journal import ledger_currency
from ledger.models import Payment, StripeAccount, StripeEvent, StripeEventStatus
from ledger.services import AlreadyReversed, payment_record, payment_refund
from ledger.wallets import wallet_topup

logger = logging.getLogger(__name__)


class BadSignature(Exception):
    """The webhook payload is not signed with this ISP's webhook secret."""


def stripe_account_connect(*, publishable_key: str, secret_key: str, webhook_secret: str) -> StripeAccount:
    if not (publishable_key.startswith("pk_") and secret_key.startswith("sk_") and webhook_secret.startswith("whsec_")):
        raise ValidationError({"keys": "Expected pk_…, sk_… and whsec_… keys from the Stripe dashboard."})
    account, _ = StripeAccount.objects.update_or_create(singleton=True, defaults={
        "publishable_key": publishable_key, "secret_key_encrypted": secret_encrypt(secret_key),
        "webhook_secret_encrypted": secret_encrypt(webhook_secret)})
    return account


def _account() -> StripeAccount:
    account = StripeAccount.objects.first()
    if account is None:
        raise ValidationError({"stripe": "This ISP has not connected Stripe."})
    return account


def _client() -> stripe.StripeClient:
    base = getattr(settings, "STRIPE_API_BASE", "") or None
    options: dict[str, Any] = {"base_addresses": {"api": base}} if base else {}
    return stripe.StripeClient(secret_decrypt(_account().secret_key_encrypted), **options)


def payment_intent_create(*, amount: int, metadata: dict[str, str], confirm_with: str = "") -> dict[str, Any]:
    """A PaymentIntent in the ISP's currency; ``confirm_with`` a payment method id to confirm at once."""
    params: dict[str, Any] = {"amount": amount, "currency": ledger_currency().lower(), "metadata": metadata}
    if confirm_with:
        params.update(payment_method=confirm_with, confirm=True)
    intent = _client().v1.payment_intents.create(params=params)  # type: ignore[arg-type]
    return {"id": intent.id, "client_secret": intent.client_secret, "status": intent.status}


def customer_payment_intent(*, customer: Subscriber, amount: int, confirm_with: str = "") -> dict[str, Any]:
    return payment_intent_create(amount=amount, confirm_with=confirm_with,
                                 metadata={"kind": "payment", "customer": str(customer.pk)})


def wallet_topup_intent(*, node: Operator, amount: int, confirm_with: str = "") -> dict[str, Any]:
    return payment_intent_create(amount=amount, confirm_with=confirm_with,
                                 metadata={"kind": "topup", "node": str(node.pk)})


# --- events --------------------------------------------------------------------------------------------

# What a succeeded PaymentIntent buys, by its metadata ``kind``: (payment intent id, amount, metadata) → the
# payment posted (or None). Filled by the module that owns each kind (ledger's own below; the vouchers app
# registers ``self_recharge`` in its ready()), so this module imports none of them.
PaymentKindHandler = Callable[..., Payment | None]  # (*, payment_intent: str, amount: int, metadata: dict)
payment_kind_handlers: dict[str, PaymentKindHandler] = {}

STALE_CLAIM = datetime.timedelta(minutes=5)  # an attempt still "processing" after this died: retry it
MAX_ATTEMPTS = 20


def payment_kind_register(kind: str, handler: PaymentKindHandler) -> None:
    payment_kind_handlers[kind] = handler


def stripe_webhook_receive(*, payload: bytes, signature: str) -> StripeEvent:
    """Verify, record (once per event id, at the database: a UNIQUE event id) and handle a webhook event.
    A second delivery of a handled event changes nothing; a failed one is handled again. The caller
    answers 5xx when the returned event is ``failed``, so Stripe retries too."""
    secret = secret_decrypt(_account().webhook_secret_encrypted)
    try:
        event = stripe.Webhook.construct_event(payload.decode(), signature, secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise BadSignature(str(exc)) from exc
    record = stripe_event_record(event_id=event.id, type=event.type, payload=json.loads(payload),
                                 payload_hash=hashlib.sha256(payload).hexdigest())
    return stripe_event_process(event_pk=record.pk)


def stripe_event_record(*, event_id: str, type: str, payload: dict[str, Any], payload_hash: str) -> StripeEvent:
    """The stored event: inserted once, found on every later delivery."""
    StripeEvent.objects.bulk_create([StripeEvent(event_id=event_id, type=type, payload=payload,
                                                 payload_hash=payload_hash)], ignore_conflicts=True)
    return StripeEvent.objects.get(event_id=event_id)


def _claim(event_pk: int) -> bool:
    """Take the event for one attempt (one conditional UPDATE: two deliveries or a delivery and the retry
    task never handle it at once); False if it is handled, or being handled by a live attempt."""
    stale = timezone.now() - STALE_CLAIM
    return bool(StripeEvent.objects.filter(
        Q(status__in=[StripeEventStatus.RECEIVED, StripeEventStatus.FAILED])
        | Q(status=StripeEventStatus.PROCESSING, claimed__lt=stale), pk=event_pk,
    ).update(status=StripeEventStatus.PROCESSING, attempts=F("attempts") + 1, claimed=timezone.now()))


def stripe_event_process(*, event_pk: int) -> StripeEvent:
    """One attempt at a stored event, outside any transaction (each posting is its own money transaction,
    idempotent by ``stripe:<payment intent>``: an attempt that dies after posting and is retried posts
    nothing more). Records processed / ignored, or failed with the error."""
    if not _claim(event_pk):
        return StripeEvent.objects.get(pk=event_pk)
    record = StripeEvent.objects.get(pk=event_pk)
    try:
        payment, status = _handle(record.payload)
    except Exception as exc:  # recorded, answered 5xx; Stripe and the retry task try again
        logger.exception("Stripe event %s (%s) failed, attempt %d", record.event_id, record.type, record.attempts)
        StripeEvent.objects.filter(pk=event_pk).update(
            status=StripeEventStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], handled=timezone.now())
    else:
        StripeEvent.objects.filter(pk=event_pk).update(payment=payment, status=status, error="",
                                                       handled=timezone.now())
    return StripeEvent.objects.get(pk=event_pk)


def stripe_events_retry() -> dict[str, int]:
    """Handle again every failed event (and attempts that died mid-way), oldest first, up to
    ``MAX_ATTEMPTS`` each: the scheduled task's body, per ISP."""
    stale = timezone.now() - STALE_CLAIM
    pending = list(StripeEvent.objects.filter(
        Q(status=StripeEventStatus.FAILED) | Q(status=StripeEventStatus.RECEIVED, created__lt=stale)
        | Q(status=StripeEventStatus.PROCESSING, claimed__lt=stale), attempts__lt=MAX_ATTEMPTS,
    ).order_by("id").values_list("pk", flat=True))
    outcome = {"retried": 0, "failed": 0}
    for pk in pending:
        outcome["retried"] += 1
        if stripe_event_process(event_pk=pk).status == StripeEventStatus.FAILED:
            outcome["failed"] += 1
    return outcome


def _customer_payment(*, payment_intent: str, amount: int, metadata: dict[str, str]) -> Payment:
    customer = Subscriber.objects.select_related("owner", "package").get(pk=int(metadata["customer"]))
    payment, _ = payment_record(customer=customer, amount=amount, method="stripe", actor=SYSTEM,
                                idempotency_key=f"stripe:{payment_intent}", external_reference=payment_intent)
    return payment


def _wallet_topup(*, payment_intent: str, amount: int, metadata: dict[str, str]) -> None:
    node = Operator.objects.get(pk=int(metadata["node"]))
    wallet_topup(node=node, amount=amount, method="stripe", idempotency_key=f"stripe:{payment_intent}",
                 external_reference=payment_intent, actor=SYSTEM)


payment_kind_register("payment", _customer_payment)
payment_kind_register("topup", _wallet_topup)


def _handle(body: dict[str, Any]) -> tuple[Payment | None, str]:
    obj = body["data"]["object"]
    if body["type"] == "payment_intent.succeeded":
        metadata = obj.get("metadata") or {}
        amount = int(obj.get("amount_received") or obj["amount"])
        handler = payment_kind_handlers.get(str(metadata.get("kind", "")))
        if handler is not None:
            return handler(payment_intent=obj["id"], amount=amount, metadata=metadata), StripeEventStatus.PROCESSED
    if body["type"] in ("charge.refunded", "charge.dispute.created"):
        refunded = Payment.objects.filter(idempotency_key=f"stripe:{obj.get('payment_intent')}").first()
        if refunded is not None:
            with contextlib.suppress(AlreadyReversed):  # a refund and a dispute for one charge: reversed once
                payment_refund(payment=refunded, reason=f"Stripe {body['type']}", actor=SYSTEM,
                               chargeback=body["type"] == "charge.dispute.created")
            return refunded, StripeEventStatus.PROCESSED
    return None, StripeEventStatus.IGNORED
