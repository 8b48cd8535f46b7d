"""Stripe for one ISP: its own keys, PaymentIntents for customer payments and wallet top-ups, and the
signed webhook that posts each succeeded PaymentIntent exactly once (idempotency key ``stripe:<pi id>``,
and every event recorded once by its unique id)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.crypto import secret_decrypt, secret_encrypt
from hierarchy.audit import SYSTEM
from hierarchy.models import Operator, Subscriber
from ledger.journal import ledger_currency
from ledger.models import Payment, StripeAccount, StripeEvent, StripeEventStatus
from ledger.services import AlreadyReversed, payment_record, payment_refund
from ledger.wallets import wallet_topup


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


def stripe_webhook_receive(*, payload: bytes, signature: str) -> StripeEvent:
    """Verify, record (once per event id) and handle a webhook event."""
    secret = secret_decrypt(_account().webhook_secret_encrypted)
    try:
        event = stripe.Webhook.construct_event(payload.decode(), signature, secret)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise BadSignature(str(exc)) from exc
    body = json.loads(payload)
    try:
        with transaction.atomic():
            record = StripeEvent.objects.create(event_id=event.id, type=event.type, payload=body)
    except IntegrityError:
        record = StripeEvent.objects.get(event_id=event.id)
        if record.status != StripeEventStatus.FAILED:
            return record  # delivered again: already handled (or being handled)
    try:
        record.payment, record.status = _handle(body)
        record.error = ""
    except Exception as exc:  # recorded for the operator, Stripe retries
        record.status, record.error = StripeEventStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    record.handled = timezone.now()
    record.save(update_fields=["payment", "status", "error", "handled"])
    return record


def _handle(body: dict[str, Any]) -> tuple[Payment | None, str]:
    obj = body["data"]["object"]
    if body["type"] == "payment_intent.succeeded":
        metadata = obj.get("metadata") or {}
        amount = int(obj.get("amount_received") or obj["amount"])
        key = f"stripe:{obj['id']}"
        if metadata.get("kind") == "payment":
            customer = Subscriber.objects.select_related("owner", "package").get(pk=int(metadata["customer"]))
            payment, _ = payment_record(customer=customer, amount=amount, method="stripe", idempotency_key=key,
                                        actor=SYSTEM, external_reference=obj["id"])
            return payment, StripeEventStatus.PROCESSED
        if metadata.get("kind") == "self_recharge":  # a customer's recharge paid by card: bought with the payment
            from ledger.vouchers.self_recharge import self_recharge_paid

            return self_recharge_paid(payment_intent=obj["id"], amount=amount, metadata=metadata), \
                StripeEventStatus.PROCESSED
        if metadata.get("kind") == "topup":
            node = Operator.objects.get(pk=int(metadata["node"]))
            wallet_topup(node=node, amount=amount, method="stripe", idempotency_key=key, external_reference=obj["id"],
                         actor=SYSTEM)
            return None, StripeEventStatus.PROCESSED
    if body["type"] in ("charge.refunded", "charge.dispute.created"):
        refunded = Payment.objects.filter(idempotency_key=f"stripe:{obj.get('payment_intent')}").first()
        if refunded is not None:
            with contextlib.suppress(AlreadyReversed):  # a refund and a dispute for one charge: reversed once
                payment_refund(payment=refunded, reason=f"Stripe {body['type']}", actor=SYSTEM,
                               chargeback=body["type"] == "charge.dispute.created")
            return refunded, StripeEventStatus.PROCESSED
    return None, StripeEventStatus.IGNORED
