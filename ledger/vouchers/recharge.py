"""Daily / short prepaid recharge: N days or hours of a package added to a customer.

Validity runs from max(now, current expiry) — ``now`` cut to the whole minute, so expiries are exact
to the minute and a chain of recharges adds up exactly. The customer becomes active again (RADIUS
follows the status and ``expires_at``: its views accept it from the next Access-Request).

Money (reseller/staff recharge, ``source=reseller``), generalising ``ledger.wallets.activation_legs``
by the fraction f = purchased hours / package validity hours:
- the owner pays ``round_half_up(cost x f)`` from its prepaid wallet (or owes it, if postpaid);
- each ancestor earns ``floor((price - cost) x f)``; the ISP's sales revenue is the rest.
So node amounts are rounded down and every rounding remainder goes to the ISP (as in every split of
this ledger); the entry balances by construction. With f = 1 this is exactly an activation.
A customer of the ISP itself is charged the pro-rata price on its receivable (accrual:
Dr receivable:c<id> / Cr sales_revenue); its payment (ledger.services.payment_record) settles it.
A reseller's customer pays its reseller, off the ISP's books: its receivable is not touched.
A voucher recharge (``source=voucher``) posts no wallet charge: the voucher's money was collected at
its sale; its redemption entry is posted by ledger.vouchers.services.

Too little in the wallet → InsufficientFunds and nothing changes. The wallet row is locked before its
balance is read and the database CHECK backs it, so concurrent recharges never overdraw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from hierarchy import authority
from hierarchy.audit import Actor, AuditAction, audit_record
from hierarchy.authority import Act
from hierarchy.models import BillingMode, Package, Subscriber, SubscriberStatus
from hierarchy.subscribers import subscriber_check_sale, subscriber_update
from ledger.journal import (
    Leg,
    LockedAccount,
    accounts_lock,
    customer_account,
    entry_post,
    isp_account,
    money_atomic,
    node_account,
)
from ledger.models import AccountKind, EntryKind, JournalEntry
from ledger.pricing import Chain, chain_for, customer_price
from ledger.services import IdempotencyConflict, payload_hash
from ledger.vouchers.models import Channel, Recharge, RechargeSource, Unit, Voucher
from ledger.wallets import payer_funds_ensure

MAX_QUANTITY = {Unit.DAYS: 366, Unit.HOURS: 24 * 366}


def package_hours(package: Package) -> int:
    return package.validity_days * 24 + package.validity_hours


def quantity_hours(*, quantity: int, unit: str) -> int:
    return quantity * 24 if unit == Unit.DAYS else quantity


def quantity_check(*, quantity: int, unit: str) -> None:
    if unit not in Unit.values:
        raise ValidationError({"unit": "Choose days or hours."})
    limit = MAX_QUANTITY[Unit(unit)]
    if not isinstance(quantity, int) or not 1 <= quantity <= limit:
        raise ValidationError({"quantity": f"Buy between 1 and {limit} {unit}."})


def pro_rata(amount: int, *, hours: int, period_hours: int, round_up_half: bool) -> int:
    """amount x hours / period_hours in integer arithmetic: half-up, or floor."""
    if round_up_half:
        return (2 * amount * hours + period_hours) // (2 * period_hours)
    return amount * hours // period_hours


def recharge_price(*, customer: Subscriber, package: Package, hours: int, chain: Chain | None = None) -> int:
    """What ``hours`` of ``package`` cost the customer: its price for the package (its special price on
    its current package, else its owner's price) x hours / package validity hours, half up to the cent."""
    chain = chain or chain_for(owner=customer.owner, package=package)
    price_full = customer_price(customer=customer, chain=chain) if customer.package_id == package.pk \
        else chain.prices.get(customer.owner_id, chain.master_price)
    return pro_rata(price_full, hours=hours, period_hours=package_hours(package), round_up_half=True)


@dataclass(frozen=True)
class RechargeQuote:
    legs: list[Leg]
    cost: int  # what the owner pays (0 for the ISP's own customers)
    price: int  # what the customer pays its owner, pro rata


def recharge_legs(*, customer: Subscriber, package: Package, hours: int, chain: Chain | None = None) -> RechargeQuote:
    owner = customer.owner
    chain = chain or chain_for(owner=owner, package=package)
    period = package_hours(package)
    price = recharge_price(customer=customer, package=package, hours=hours, chain=chain)
    if owner.depth == 0:
        # The ISP's own customer owes the ISP the price (accrual): its payment settles the receivable.
        legs = [Leg(customer_account(customer.pk), price), Leg(isp_account(AccountKind.SALES_REVENUE), -price)]
        return RechargeQuote(legs=legs if price else [], cost=0, price=price)
    cost = pro_rata(chain.cost(owner), hours=hours, period_hours=period, round_up_half=True)
    payer = AccountKind.WALLET if owner.billing_mode == BillingMode.PREPAID else AccountKind.NODE_RECEIVABLE
    legs = [Leg(node_account(payer, owner.pk), cost)]
    earned = 0
    for node in chain.nodes:
        if node.pk != owner.pk:
            margin = pro_rata(chain.prices[node.pk] - chain.cost(node), hours=hours, period_hours=period,
                              round_up_half=False)
            legs.append(Leg(node_account(AccountKind.COMMISSION_PAYABLE, node.pk), -margin))
            earned += margin
    legs.insert(1, Leg(isp_account(AccountKind.SALES_REVENUE), -(cost - earned)))
    return RechargeQuote(legs=legs, cost=cost, price=price)


def _period_start(expires_at: datetime | None) -> datetime:
    now = timezone.now().replace(second=0, microsecond=0)
    return max(now, expires_at) if expires_at else now


def subscriber_lock(*, customer_id: int) -> Subscriber:
    # Only the subscriber row, FOR NO KEY UPDATE (as subscriber_activate): payments' FK checks must not wait.
    return (Subscriber.objects.select_for_update(of=("self",), no_key=True)
            .select_related("owner", "package").get(pk=customer_id))


def recharge_apply(
    *, customer: Subscriber, package: Package, quantity: int, unit: str, source: str, actor: Actor,
    channel: str = Channel.API, voucher: Voucher | None = None, idempotency_key: str | None = None,
    digest: str = "", entry: JournalEntry | None = None, price: int | None = None,
) -> Recharge:
    """The recharge itself; runs inside the caller's money transaction with ``customer`` locked
    (subscriber_lock). Reseller recharges post their wallet entry here."""
    if customer.status == SubscriberStatus.DISABLED or customer.suspended_by_id is not None:
        why = "disabled" if customer.status == SubscriberStatus.DISABLED else "suspended with its reseller"
        raise ValidationError({"customer": f"{customer.username} is {why}; a recharge cannot reactivate it."})
    if package.pk != customer.package_id:
        # A package change re-rates the customer: the hierarchy service checks the sale, audits it and
        # sends the CoA after commit.
        customer = subscriber_update(subscriber=customer, package=package, actor=actor)
        customer = Subscriber.objects.select_related("owner", "package").get(pk=customer.pk)
    else:
        subscriber_check_sale(package=package, owner=customer.owner)
    hours = quantity_hours(quantity=quantity, unit=unit)
    quote = recharge_legs(customer=customer, package=package, hours=hours)
    if source == RechargeSource.RESELLER and quote.legs:
        payer = quote.legs[0].account.code
        node_pays = customer.owner.depth > 0  # from its prepaid wallet, or on its postpaid credit
        locked: dict[str, LockedAccount] = accounts_lock((leg.account for leg in quote.legs),
                                                         lock=[payer] if node_pays else [])
        if node_pays:
            payer_funds_ensure(locked=locked, code=payer, needed=quote.cost, node=customer.owner)
        entry = entry_post(kind=EntryKind.RECHARGE, legs=quote.legs, locked=locked, actor_id=_actor_id(actor),
                           customer_id=customer.pk, node_id=customer.owner_id, package_id=package.pk,
                           reason=f"Recharge of {customer.username}: {quantity} {unit} of {package.name}")
    start = _period_start(customer.expires_at)
    end = start + (timedelta(days=quantity) if unit == Unit.DAYS else timedelta(hours=quantity))
    before = {"status": customer.status, "expires_at": customer.expires_at}
    customer.expires_at = end
    if customer.status in (SubscriberStatus.EXPIRED, SubscriberStatus.SUSPENDED):
        customer.status = SubscriberStatus.ACTIVE
    customer.save(update_fields=["expires_at", "status", "updated"])
    audit_record(actor=actor, obj=customer, object_type="customer", action=AuditAction.UPDATE,
                 changes={"expires_at": [_iso(before["expires_at"]), _iso(end)],
                          **({"status": [before["status"], customer.status]}
                             if before["status"] != customer.status else {})})
    return Recharge.objects.create(
        customer=customer, package=package, owner=customer.owner, quantity=quantity, unit=unit,
        period_start=start, period_end=end, price=quote.price if price is None else price,
        cost=quote.cost if source == RechargeSource.RESELLER and quote.legs else 0, source=source,
        channel=channel, voucher=voucher, actor_id=_actor_id(actor), entry=entry,
        idempotency_key=idempotency_key, payload_hash=digest,
    )


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _actor_id(actor: Actor) -> int | None:
    user = actor.user
    return int(user.pk) if user is not None and getattr(user, "is_authenticated", False) else None


class _Replay(Exception):
    pass


def recharge_purchase(
    *, customer: Subscriber, package: Package, quantity: int, unit: str, actor: Actor,
    idempotency_key: str | None = None, channel: str = Channel.API,
) -> tuple[Recharge, bool]:
    """A reseller (or the ISP's staff) buys ``quantity`` days/hours of ``package`` for ``customer``:
    ``Act.RECHARGE`` by a login whose scope reaches the customer (checked before anything is written).

    Returns (recharge, created). With an idempotency key, a replay returns the first recharge and the
    same key with another payload raises IdempotencyConflict (the unique key is claimed in the same
    transaction as the posting)."""
    authority.authorize(actor, Act.RECHARGE, node=customer.owner)
    quantity_check(quantity=quantity, unit=unit)
    digest = payload_hash({"customer": customer.pk, "package": package.pk, "quantity": quantity, "unit": unit})

    def work() -> Recharge:
        locked = subscriber_lock(customer_id=customer.pk)
        # Looked up after the customer's lock: a concurrent request with the same key and customer has
        # committed by now (READ COMMITTED: this statement sees it). Another customer under the same key is
        # caught by the unique index at insert.
        if idempotency_key is not None and Recharge.objects.filter(idempotency_key=idempotency_key).exists():
            raise _Replay
        return recharge_apply(customer=locked, package=package, quantity=quantity, unit=unit,
                              source=RechargeSource.RESELLER, actor=actor, channel=channel,
                              idempotency_key=idempotency_key, digest=digest)

    try:
        return money_atomic(work), True
    except (IntegrityError, _Replay) as exc:
        if idempotency_key is None or (isinstance(exc, IntegrityError) and "idempotency_key" not in str(exc)):
            raise
        existing = Recharge.objects.get(idempotency_key=idempotency_key)
        if existing.payload_hash != digest:
            raise IdempotencyConflict(idempotency_key) from exc
        return existing, False
