"""The whole Stripe path against localstripe: PaymentIntents created and confirmed through the Stripe
library, localstripe sending signed webhooks to a live web server (gunicorn on the test database), each
succeeded PaymentIntent posted once."""

from __future__ import annotations

import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
import stripe
from django_tenants.utils import schema_context

from config.run import web_command
from ledger.models import Payment, StripeEvent, WalletTopup
from ledger.stripe_gateway import _client, customer_payment_intent, wallet_topup_intent
from tests.ledger.test_concurrency import _run
from tests.support import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
WEBHOOK_SECRET = "whsec_localstripe_test"


@pytest.fixture(scope="module")
def stack(django_db_setup) -> Iterator[dict[str, object]]:
    schema = _run("stripe-setup", "stripe-local", WEBHOOK_SECRET)
    stripe_port, web_port = processes.free_port(), processes.free_port()
    env = processes.child_env()
    fake = subprocess.Popen([processes.python(), "-m", "localstripe", "--port", str(stripe_port), "--from-scratch"],
                            cwd=processes.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    web = subprocess.Popen(web_command(web_port, workers=1), cwd=processes.BASE_DIR, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        processes.wait_for_port(stripe_port, fake)
        processes.wait_for_port(web_port, web)
        form = urllib.parse.urlencode({"url": f"http://127.0.0.1:{web_port}/stripe/webhook/stripe-local/",
                                       "secret": WEBHOOK_SECRET}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{stripe_port}/_config/webhooks/backhaul", form, timeout=10)
        yield {"schema": schema, "api": f"http://127.0.0.1:{stripe_port}"}
    finally:
        processes.stop(web)
        processes.stop(fake)
        _run("drop", schema)


def _card() -> str:
    method = _client().v1.payment_methods.create(params={
        "type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}})
    return str(method.id)


def _wait_for(check, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError("localstripe's webhook was not posted in time")


def test_payment_and_topup_through_localstripe(stack, settings):
    settings.STRIPE_API_BASE = stack["api"]
    with schema_context(str(stack["schema"])):
        from hierarchy.models import Operator, Subscriber

        customer = Subscriber.objects.select_related("owner", "package").filter(username="conc-0").get()
        intent = customer_payment_intent(customer=customer, amount=12_000, confirm_with=_card())
        assert intent["status"] == "succeeded" and intent["client_secret"].startswith(intent["id"])
        _wait_for(lambda: Payment.objects.filter(idempotency_key=f"stripe:{intent['id']}").exists())
        payment = Payment.objects.get(idempotency_key=f"stripe:{intent['id']}")
        assert payment.amount == 12_000 and payment.method == "stripe"
        assert StripeEvent.objects.filter(type="payment_intent.succeeded", status="processed").count() == 1

        reseller = Operator.objects.get(name="R")
        topup = wallet_topup_intent(node=reseller, amount=3_000, confirm_with=_card())
        _wait_for(lambda: WalletTopup.objects.filter(idempotency_key=f"stripe:{topup['id']}").exists())

        with pytest.raises(stripe.StripeError):
            customer_payment_intent(customer=customer, amount=-5)
        assert Payment.objects.filter(method="stripe").count() == 1
