"""A Stripe event whose handling fails is answered 5xx (Stripe retries), stored as failed with its hash,
attempts and error, and posted exactly once by the scheduled retry; the same event twice posts once."""

from __future__ import annotations

import hashlib

import pytest
from django_tenants.utils import schema_context

from ledger import stripe_gateway
from ledger.checks import ledger_check
from ledger.models import JournalEntry, Payment, StripeEvent
from ledger.tasks import stripe_events_retry_all, stripe_events_retry_tenant
from tests.ledger.test_stripe import _event, _post, _signed, connected  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _broken(**_kwargs: object) -> None:
    raise RuntimeError("database hiccup while posting")


def test_a_failing_handler_answers_500_and_the_retry_posts_it_once(connected, monkeypatch):  # noqa: F811
    payload = _event("evt_fail", "pi_fail", {"kind": "payment", "customer": str(connected.customer.pk)})
    with monkeypatch.context() as patch:
        patch.setitem(stripe_gateway.payment_kind_handlers, "payment", _broken)
        first = _post(connected, payload, _signed(payload))
        assert first.status_code == 500 and first.json()["status"] == "failed"
        assert _post(connected, payload, _signed(payload)).status_code == 500  # Stripe's retry fails too
    with schema_context(connected.schema):
        event = StripeEvent.objects.get(event_id="evt_fail")
        assert (event.status, event.attempts, event.type) == ("failed", 2, "payment_intent.succeeded")
        assert "RuntimeError: database hiccup" in event.error
        assert event.payload_hash == hashlib.sha256(payload).hexdigest()
        assert not Payment.objects.exists()
        entries = JournalEntry.objects.count()
    # The beat task finds the ISP with a failed event and queues its retry, which posts it (the handler
    # works again).
    queued: list[str] = []
    monkeypatch.setattr(stripe_events_retry_tenant, "delay", queued.append)
    assert stripe_events_retry_all.apply().get() >= 1 and connected.schema in queued
    assert stripe_events_retry_tenant.apply(args=[connected.schema]).get() == {"retried": 1, "failed": 0}
    assert stripe_events_retry_tenant.apply(args=[connected.schema]).get() == {"retried": 0, "failed": 0}
    with schema_context(connected.schema):
        event.refresh_from_db()
        assert (event.status, event.attempts, event.error) == ("processed", 3, "")
        payment = Payment.objects.get()
        assert payment.idempotency_key == "stripe:pi_fail" and event.payment_id == payment.pk
        assert JournalEntry.objects.count() == entries + 1
        assert ledger_check().ok
    # Stripe delivers it once more after all: answered 200, nothing posted again.
    again = _post(connected, payload, _signed(payload))
    assert again.status_code == 200 and again.json()["status"] == "processed"
    with schema_context(connected.schema):
        assert Payment.objects.count() == 1 and StripeEvent.objects.get(event_id="evt_fail").attempts == 3


def test_the_same_event_twice_posts_once(connected):  # noqa: F811
    payload = _event("evt_twice", "pi_twice", {"kind": "payment", "customer": str(connected.customer.pk)})
    assert [_post(connected, payload, _signed(payload)).status_code for _ in range(2)] == [200, 200]
    with schema_context(connected.schema):
        assert Payment.objects.count() == 1 and StripeEvent.objects.get().attempts == 1


def test_an_attempt_that_died_mid_way_is_retried_without_posting_twice(connected):  # noqa: F811
    """The payment posted but the worker died before marking the event: the retry finds the payment by its
    PaymentIntent key and posts nothing more."""
    payload = _event("evt_died", "pi_died", {"kind": "payment", "customer": str(connected.customer.pk)})
    assert _post(connected, payload, _signed(payload)).status_code == 200
    with schema_context(connected.schema):
        StripeEvent.objects.filter(event_id="evt_died").update(
            status="processing", claimed=StripeEvent.objects.get().created - stripe_gateway.STALE_CLAIM * 2)
        assert stripe_gateway.stripe_events_retry() == {"retried": 1, "failed": 0}
        assert StripeEvent.objects.get().status == "processed" and Payment.objects.count() == 1
