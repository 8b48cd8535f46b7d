"""A customer's self-recharge paid by card, against localstripe: the PaymentIntent is confirmed through the
Stripe library, localstripe posts the signed webhook to a live web server (gunicorn on the test database),
the payment posts once and buys the recharge in the same transaction. The same event delivered again,
another event for the same PaymentIntent, and a second paid intent for the same order buy nothing more."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from django_tenants.utils import schema_context

from config.run import web_command
from ledger.models import Payment, StripeEvent
from tests.ledger.test_concurrency import _run
from tests.ledger.test_stripe_localstripe import _card, _wait_for
from tests.support import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
WEBHOOK_SECRET = "whsec_localstripe_self"


@pytest.fixture(scope="module")
def stack(django_db_setup) -> Iterator[dict[str, object]]:
    schema = _run("stripe-setup", "stripe-self", WEBHOOK_SECRET)
    stripe_port, web_port = processes.free_port(), processes.free_port()
    env = processes.child_env()
    fake = subprocess.Popen([processes.python(), "-m", "localstripe", "--port", str(stripe_port), "--from-scratch"],
                            cwd=processes.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    web = subprocess.Popen(web_command(web_port, workers=1), cwd=processes.BASE_DIR, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hook = f"http://127.0.0.1:{web_port}/stripe/webhook/stripe-self/"
    try:
        processes.wait_for_port(stripe_port, fake)
        processes.wait_for_port(web_port, web)
        form = urllib.parse.urlencode({"url": hook, "secret": WEBHOOK_SECRET}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{stripe_port}/_config/webhooks/backhaul", form, timeout=10)
        yield {"schema": schema, "api": f"http://127.0.0.1:{stripe_port}", "hook": hook}
    finally:
        processes.stop(web)
        processes.stop(fake)
        _run("drop", schema)


def _deliver(url: str, body: dict) -> int:
    """Post an event as Stripe does: ``Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.payload")``."""
    payload = json.dumps(body).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + payload, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "Stripe-Signature": f"t={stamp},v1={signature}"}
    request = urllib.request.Request(url, data=payload, method="POST", headers=headers)  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return int(response.status)


def test_self_recharge_paid_by_card_is_bought_once(stack, settings):
    settings.STRIPE_API_BASE = stack["api"]
    with schema_context(str(stack["schema"])):
        from hierarchy.models import Subscriber
        from ledger.checks import ledger_check
        from ledger.vouchers.models import Recharge
        from ledger.vouchers.self_recharge import self_recharge_intent, self_recharge_quote
        from tests.ledger.factories import balance

        customer = Subscriber.objects.select_related("owner", "package").get(username="conc-1")
        quote = self_recharge_quote(customer=customer, package=customer.package, quantity=2, unit="days")
        assert (quote.price, quote.covered) == (8_00, False)  # 120.00 x 48 / 720, no credit
        intent = self_recharge_intent(customer=customer, package=customer.package, quantity=2, unit="days",
                                      idempotency_key="order-1", confirm_with=_card())
        assert intent["status"] == "succeeded" and intent["amount"] == 8_00
        key = f"self:{customer.pk}:order-1"
        _wait_for(lambda: Recharge.objects.filter(idempotency_key=key).exists())
        recharge = Recharge.objects.get(idempotency_key=key)
        payment = Payment.objects.get(idempotency_key=f"stripe:{intent['id']}")
        assert (payment.amount, recharge.price, recharge.source, recharge.quantity) == (8_00, 8_00, "customer", 2)
        assert recharge.entry is not None and recharge.entry.customer_id == customer.pk
        customer.refresh_from_db()
        assert customer.expires_at == recharge.period_end
        assert (recharge.period_end - recharge.period_start).total_seconds() == 48 * 3600
        assert balance(f"receivable:c{customer.pk}") == 0  # paid 8.00, charged 8.00

        # Stripe delivers the same event again, then another event for the same PaymentIntent.
        event = StripeEvent.objects.get(type="payment_intent.succeeded")
        assert _deliver(str(stack["hook"]), event.payload) == 200
        assert _deliver(str(stack["hook"]), {**event.payload, "id": event.event_id + "_again"}) == 200
        assert StripeEvent.objects.filter(type="payment_intent.succeeded").count() == 2
        assert StripeEvent.objects.get(event_id=event.event_id + "_again").status == "processed"

        # A second intent for the same order paid as well (say, a second tab): its money stays as credit.
        second = self_recharge_intent(customer=customer, package=customer.package, quantity=2, unit="days",
                                      idempotency_key="order-1", confirm_with=_card())
        _wait_for(lambda: Payment.objects.filter(idempotency_key=f"stripe:{second['id']}").exists())
        assert Payment.objects.filter(customer=customer).count() == 2
        assert Recharge.objects.filter(customer=customer).count() == 1
        customer.refresh_from_db()
        assert customer.expires_at == recharge.period_end
        assert balance(f"receivable:c{customer.pk}") == -8_00
        assert self_recharge_quote(customer=customer, package=customer.package, quantity=2, unit="days").covered
        assert ledger_check().ok
