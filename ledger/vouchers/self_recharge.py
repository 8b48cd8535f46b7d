"""Customer self-recharge: a signed-in customer buys N days or hours of a package its owner sells.

Price: ``recharge_price`` (ledger.vouchers.recharge) — its customer price for the package (its special
price on its current package) x bought hours / package validity hours, half up to the cent. The same
function quotes the preview and charges the purchase.

Accounting (accrual, like an invoice): the purchase is a sale on the customer's receivable,
Dr ``receivable:c<id>`` / Cr ``sales_revenue``, with the entry's customer/node/package dimensions. No
wallet is debited: the reseller did not buy it; its commission comes from the customer's payment split.
Validity and the ``Recharge`` row (``source=customer``) come from ``recharge_apply``.

Paying:
- from credit — when ``customer_credit`` (ledger.billing.payments: unapplied payments and credit notes,
  capped by what the receivable shows as credit beyond open invoices) covers the price, the purchase
  completes at once; otherwise InsufficientCredit and nothing changes;
- by card — a Stripe PaymentIntent for the price, metadata ``kind=self_recharge`` with the order. When
  the webhook reports it succeeded, ``payment_record`` posts the payment once (``stripe:<pi id>``) and,
  in its transaction (ledger/payment_steps.py, before the billing allocation), the recharge is bought
  from that payment. The recharge's idempotency key comes from the order, so a second delivery (or a
  second paid intent for the same order) buys nothing more: that money stays as the customer's credit.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from hierarchy.audit import SYSTEM, Actor
from hierarchy.models import Package, Subscriber
from hierarchy.selectors import packages_offered_by
from hierarchy.subscribers import subscriber_check_sale
from ledger.billing.payments import customer_credit
from ledger.journal import Leg, accounts_lock, customer_account, entry_post, isp_account, money_atomic
from ledger.models import AccountKind, EntryKind, JournalEntry, Payment, StripeAccount
from ledger.pricing import from_minor
from ledger.services import IdempotencyConflict, payload_hash, payment_record
from ledger.stripe_gateway import payment_intent_create
from ledger.vouchers.models import Channel, Recharge, RechargeSource
from ledger.vouchers.recharge import (
    _actor_id,
    quantity_check,
    quantity_hours,
    recharge_apply,
    recharge_price,
    subscriber_lock,
)

logger = logging.getLogger(__name__)

STRIPE_KIND = "self_recharge"


class InsufficientCredit(ValidationError):
    """The customer's credit does not cover the price; nothing was changed."""


@dataclass(frozen=True)
class SelfRechargeQuote:
    package: Package
    quantity: int
    unit: str
    price: int  # minor units
    credit: int  # the customer's available credit, minor units

    @property
    def covered(self) -> bool:
        return self.credit >= self.price


def self_recharge_packages(*, customer: Subscriber) -> QuerySet[Package]:
    """What the customer may buy: what its owner sells."""
    return packages_offered_by(operator=customer.owner).order_by("name")


def self_recharge_package(*, customer: Subscriber, package_id: int | None) -> Package:
    """The package to buy (default: the customer's current one), or a ValidationError naming it."""
    if package_id is None:
        package_id = customer.package_id
    package = self_recharge_packages(customer=customer).filter(pk=package_id).first()
    if package is None:
        raise ValidationError({"package": "No such package offered to you."})
    return package


def self_recharge_quote(*, customer: Subscriber, package: Package, quantity: int, unit: str) -> SelfRechargeQuote:
    quantity_check(quantity=quantity, unit=unit)
    subscriber_check_sale(package=package, owner=customer.owner)
    price = recharge_price(customer=customer, package=package, hours=quantity_hours(quantity=quantity, unit=unit))
    return SelfRechargeQuote(package=package, quantity=quantity, unit=unit, price=price,
                             credit=customer_credit(customer_id=customer.pk))


def _recharge_key(customer_id: int, key: str) -> str:
    return f"self:{customer_id}:{key}"


def _digest(customer_id: int, package: Package, quantity: int, unit: str) -> str:
    return payload_hash({"customer": customer_id, "package": package.pk, "quantity": quantity, "unit": unit,
                         "source": RechargeSource.CUSTOMER})


def _sale_post(*, customer: Subscriber, package: Package, price: int, quantity: int, unit: str,
               actor: Actor) -> JournalEntry | None:
    if price == 0:
        return None
    legs = [Leg(customer_account(customer.pk), price), Leg(isp_account(AccountKind.SALES_REVENUE), -price)]
    return entry_post(kind=EntryKind.RECHARGE, legs=legs, locked=accounts_lock(leg.account for leg in legs),
                      actor_id=_actor_id(actor), customer_id=customer.pk, node_id=customer.owner_id,
                      package_id=package.pk,
                      reason=f"Self-recharge by {customer.username}: {quantity} {unit} of {package.name}")


def _buy(*, customer: Subscriber, package: Package, quantity: int, unit: str, price: int, actor: Actor,
         channel: str, key: str, digest: str) -> Recharge:
    """Inside a money transaction with ``customer`` locked: the sale entry, then validity and the row."""
    entry = _sale_post(customer=customer, package=package, price=price, quantity=quantity, unit=unit, actor=actor)
    return recharge_apply(customer=customer, package=package, quantity=quantity, unit=unit,
                          source=RechargeSource.CUSTOMER, actor=actor, channel=channel,
                          idempotency_key=_recharge_key(customer.pk, key), digest=digest, entry=entry, price=price)


class _Replay(Exception):
    pass


def self_recharge_buy(
    *, customer: Subscriber, package: Package, quantity: int, unit: str, idempotency_key: str, actor: Actor,
    channel: str = Channel.API,
) -> tuple[Recharge, bool]:
    """Buy from the customer's credit. Returns (recharge, created); a replay of the key returns the first
    recharge, the key with another order raises IdempotencyConflict; too little credit → InsufficientCredit."""
    quantity_check(quantity=quantity, unit=unit)
    digest = _digest(customer.pk, package, quantity, unit)
    key = _recharge_key(customer.pk, idempotency_key)

    def work() -> Recharge:
        locked = subscriber_lock(customer_id=customer.pk)
        if Recharge.objects.filter(idempotency_key=key).exists():
            raise _Replay
        quote = self_recharge_quote(customer=locked, package=package, quantity=quantity, unit=unit)
        if not quote.covered:
            raise InsufficientCredit({"amount": (
                f"Your credit is {from_minor(quote.credit)}, less than the {from_minor(quote.price)} this costs. "
                "Pay by card or redeem a voucher; nothing was changed.")})
        return _buy(customer=locked, package=package, quantity=quantity, unit=unit, price=quote.price, actor=actor,
                    channel=channel, key=idempotency_key, digest=digest)

    try:
        return money_atomic(work), True
    except (IntegrityError, _Replay) as exc:
        if isinstance(exc, IntegrityError) and "idempotency_key" not in str(exc):
            raise
        existing = Recharge.objects.get(idempotency_key=key)
        if existing.payload_hash != digest:
            raise IdempotencyConflict(idempotency_key) from exc
        return existing, False


def stripe_connected() -> bool:
    return StripeAccount.objects.exists()


def self_recharge_intent(
    *, customer: Subscriber, package: Package, quantity: int, unit: str, idempotency_key: str,
    confirm_with: str = "",
) -> dict[str, Any]:
    """A Stripe PaymentIntent for the price; the webhook buys the recharge when it succeeds."""
    if not stripe_connected():
        raise ValidationError({"stripe": "Card payments are not available: this ISP has not connected Stripe."})
    quote = self_recharge_quote(customer=customer, package=package, quantity=quantity, unit=unit)
    if quote.price <= 0:
        raise ValidationError({"amount": "This recharge costs nothing; buy it from credit."})
    intent = payment_intent_create(amount=quote.price, confirm_with=confirm_with, metadata={
        "kind": STRIPE_KIND, "customer": str(customer.pk), "package": str(package.pk), "quantity": str(quantity),
        "unit": unit, "price": str(quote.price), "key": idempotency_key})
    return {**intent, "amount": quote.price}


@dataclass(frozen=True)
class _Order:
    payment_key: str
    customer_id: int
    package_id: int
    quantity: int
    unit: str
    price: int
    key: str


_paid_order: contextvars.ContextVar[_Order | None] = contextvars.ContextVar("self_recharge_order", default=None)


def self_recharge_paid(*, payment_intent: str, amount: int, metadata: dict[str, str]) -> Payment:
    """The webhook's handler for a succeeded ``self_recharge`` PaymentIntent (registered in
    ``ledger.stripe_gateway.payment_kind_handlers`` by this app's ready()): the payment posts once and, in
    the same transaction, buys the recharge (self_recharge_payment_hook)."""
    customer = Subscriber.objects.select_related("owner", "package").get(pk=int(metadata["customer"]))
    key = f"stripe:{payment_intent}"
    order = _Order(payment_key=key, customer_id=customer.pk, package_id=int(metadata["package"]),
                   quantity=int(metadata["quantity"]), unit=metadata["unit"], price=int(metadata["price"]),
                   key=metadata["key"])
    token = _paid_order.set(order if order.price == amount else None)
    try:
        payment, _ = payment_record(customer=customer, amount=amount, method="stripe", idempotency_key=key,
                                    actor=SYSTEM, external_reference=payment_intent)
    finally:
        _paid_order.reset(token)
    return payment


def self_recharge_payment_hook(payment: Payment) -> None:
    """Step 2 of a payment (ledger/payment_steps.py: runs in payment_record's transaction, before billing).
    Buys the paid order at the price paid; if it cannot be bought any more (the package was withdrawn, the
    customer disabled), the payment stays as the customer's credit."""
    order = _paid_order.get()
    if order is None or payment.idempotency_key != order.payment_key:
        return
    customer = subscriber_lock(customer_id=order.customer_id)
    if Recharge.objects.filter(idempotency_key=_recharge_key(customer.pk, order.key)).exists():
        return  # this order was bought already: the money is credit
    package = Package.objects.get(pk=order.package_id)
    try:
        with transaction.atomic():
            _buy(customer=customer, package=package, quantity=order.quantity, unit=order.unit, price=order.price,
                 actor=SYSTEM, channel=Channel.PORTAL, key=order.key,
                 digest=_digest(customer.pk, package, order.quantity, order.unit))
    except ValidationError as exc:
        logger.warning("self-recharge of customer %s not bought (%s); the payment stays as credit",
                       customer.pk, "; ".join(exc.messages))
