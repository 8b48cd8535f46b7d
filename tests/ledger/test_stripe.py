"""Stripe webhook: verified signatures, every event recorded once, each payment posted once; keys encrypted."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from ledger.models import Payment, StripeEvent, WalletTopup
from ledger.stripe_gateway import stripe_account_connect
from tests.conftest import host_client

pytestmark = pytest.mark.django_db
SECRET = "whsec_test_secret_for_alpha"


def _signed(payload: bytes, secret: str = SECRET) -> str:
    stamp = int(time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={signature}"


def _event(event_id: str, intent: str, metadata: dict[str, str], amount: int = 5_000) -> bytes:
    return json.dumps({
        "id": event_id, "object": "event", "type": "payment_intent.succeeded", "api_version": "2024-06-20",
        "data": {"object": {"id": intent, "object": "payment_intent", "amount": amount,
                            "amount_received": amount, "currency": "usd", "metadata": metadata}},
    }).encode()


def _post(isp, payload: bytes, signature: str):
    return host_client(isp.host).post("/api/v1/stripe/webhook/", payload, content_type="application/json",
                                      HTTP_STRIPE_SIGNATURE=signature)


@pytest.fixture
def connected(alpha):
    with schema_context(alpha.schema):
        stripe_account_connect(publishable_key="pk_test_alpha", secret_key="sk_test_alpha_secret",
                               webhook_secret=SECRET)
    return alpha


def test_keys_are_encrypted_at_rest(connected):
    with schema_context(connected.schema), connection.cursor() as cursor:
        cursor.execute("SELECT secret_key_encrypted || webhook_secret_encrypted FROM ledger_stripeaccount")
        stored = cursor.fetchone()[0]
    assert "sk_test_alpha_secret" not in stored and SECRET not in stored


def test_bad_signature_is_refused_and_posts_nothing(connected):
    payload = _event("evt_bad", "pi_bad", {"kind": "payment", "customer": str(connected.customer.pk)})
    assert _post(connected, payload, _signed(payload, "whsec_wrong")).status_code == 400
    assert _post(connected, payload, "garbage").status_code == 400
    tampered = payload.replace(b"5000", b"9000")
    assert _post(connected, tampered, _signed(payload)).status_code == 400
    with schema_context(connected.schema):
        assert not Payment.objects.exists() and not StripeEvent.objects.exists()


def test_the_same_event_100_times_is_one_payment(connected):
    payload = _event("evt_once", "pi_once", {"kind": "payment", "customer": str(connected.customer.pk)})
    for _ in range(100):
        response = _post(connected, payload, _signed(payload))
        assert response.status_code == 200 and response.json()["status"] == "processed"
    # Another event for the same PaymentIntent (Stripe may send several) posts nothing either.
    again = _event("evt_other", "pi_once", {"kind": "payment", "customer": str(connected.customer.pk)})
    assert _post(connected, again, _signed(again)).status_code == 200
    with schema_context(connected.schema):
        payment = Payment.objects.get()
        assert payment.method == "stripe" and payment.amount == 5_000 and payment.idempotency_key == "stripe:pi_once"
        assert StripeEvent.objects.count() == 2


def test_wallet_topup_by_stripe(connected):
    payload = _event("evt_topup", "pi_topup", {"kind": "topup", "node": str(connected.reseller.pk)}, amount=7_500)
    assert _post(connected, payload, _signed(payload)).json()["status"] == "processed"
    assert _post(connected, payload, _signed(payload)).status_code == 200
    with schema_context(connected.schema):
        assert WalletTopup.objects.get().amount == 7_500


def test_unknown_event_type_is_recorded_as_ignored(connected):
    payload = json.dumps({"id": "evt_x", "object": "event", "type": "customer.created",
                          "data": {"object": {"id": "cus_1"}}}).encode()
    assert _post(connected, payload, _signed(payload)).json()["status"] == "ignored"


def test_other_isp_secret_does_not_work(connected, beta):
    with schema_context(beta.schema):
        stripe_account_connect(publishable_key="pk_test_beta", secret_key="sk_test_beta",
                               webhook_secret="whsec_beta_secret")
    payload = _event("evt_cross", "pi_cross", {"kind": "payment", "customer": str(connected.customer.pk)})
    assert _post(beta, payload, _signed(payload)).status_code == 400


def test_refund_event_reverses_the_payment_once(connected):
    payload = _event("evt_paid", "pi_refund", {"kind": "payment", "customer": str(connected.customer.pk)})
    _post(connected, payload, _signed(payload))
    for event_id, kind in (("evt_refund", "charge.refunded"), ("evt_dispute", "charge.dispute.created")):
        refund = json.dumps({"id": event_id, "object": "event", "type": kind,
                             "data": {"object": {"id": "ch_1", "payment_intent": "pi_refund"}}}).encode()
        assert _post(connected, refund, _signed(refund)).json()["status"] == "processed"
    with schema_context(connected.schema):
        payment = Payment.objects.get(idempotency_key="stripe:pi_refund")
        assert payment.entry.reversed_by.kind == "refund"


def test_platform_host_webhook_address_per_isp(connected):
    payload = _event("evt_platform", "pi_platform", {"kind": "payment", "customer": str(connected.customer.pk)})
    client = host_client("localhost")
    response = client.post(f"/stripe/webhook/{connected.tenant.slug}/", payload, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=_signed(payload))
    assert response.status_code == 200 and response.json()["status"] == "processed"
    assert client.post("/stripe/webhook/nobody/", payload, content_type="application/json",
                       HTTP_STRIPE_SIGNATURE=_signed(payload)).status_code == 404
    with schema_context(connected.schema):
        assert Payment.objects.filter(idempotency_key="stripe:pi_platform").count() == 1
