"""Prepaid wallets, postpaid credit: top-ups and the charge for activating/renewing a customer.

A wallet is what the ISP owes a prepaid node (a liability: its debit-minus-credit balance is <= 0, and
``-balance`` is what the node can spend). The wallet's account row is locked (in id order) before
its balance is read, and the database CHECK ``wallet_never_negative`` refuses any posting that would take
it below zero, so concurrent activations can never overspend.

A postpaid node pays for what it sells by owing it: its ``node_receivable`` grows. It may owe at most its
``credit_limit`` (set by its parent; default 0, so a postpaid node nobody gave credit sells nothing and earns
no commission on credit it never had). The same way: the receivable's account row is locked and the
services refuse with ``CreditLimitExceeded`` first; the database's CHECK ``node_receivable_within_credit``
on the balance row (its ``ceiling`` is the limit, kept by a trigger on the operator: migration 0008) refuses
any posting past the limit whoever writes it, and ``money_atomic`` reports that as the same error.

Top-ups: a deposit by cash, bank or Stripe is money reaching the ISP (``Act.WALLET_DEPOSIT``: the ISP's
admin or accountant, or the system for a verified Stripe webhook); ``parent_wallet`` moves money from the
parent's wallet (``Act.WALLET_TRANSFER``, by a login of the target's direct parent node).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError
from django.utils import timezone

from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import BillingMode, Operator, Subscriber, SubscriberStatus
from ledger.journal import (
    CreditLimitExceeded,
    Leg,
    LockedAccount,
    accounts_lock,
    entry_post,
    isp_account,
    money_atomic,
    node_account,
)
from ledger.models import AccountKind, EntryKind, JournalEntry, WalletTopup, code_balance
from ledger.pricing import chain_for, from_minor, to_minor
from ledger.services import IdempotencyConflict, actor_id_of, payload_hash

TOPUP_METHODS = ("cash", "bank", "stripe", "parent_wallet")


class InsufficientFunds(ValidationError):
    """The wallet holds less than the action costs; nothing was changed."""


def wallet_funds_ensure(*, locked: dict[str, LockedAccount], code: str, needed: int, who: str) -> None:
    available = -locked[code].balance
    if available < needed:
        raise InsufficientFunds({"amount": (
            f"{who}'s wallet holds {from_minor(available)}, less than the {from_minor(needed)} needed. "
            "Top up the wallet first; nothing was changed."
        )})


def credit_ensure(*, locked: dict[str, LockedAccount], code: str, needed: int, node: Operator) -> None:
    """The postpaid ``node`` may owe ``needed`` more (its receivable ``code`` locked in ``locked``)."""
    owed = locked[code].balance
    limit = to_minor(node.credit_limit)
    if owed + needed > limit:
        raise CreditLimitExceeded({"amount": (
            f"{node.name} may owe at most {from_minor(limit)}; this would make it owe {from_minor(owed + needed)}; "
            "nothing was changed."
        )})


def payer_funds_ensure(*, locked: dict[str, LockedAccount], code: str, needed: int, node: Operator) -> None:
    """``node`` can pay ``needed`` from account ``code`` (locked): its wallet if prepaid, its credit if not."""
    if node.billing_mode == BillingMode.PREPAID:
        wallet_funds_ensure(locked=locked, code=code, needed=needed, who=node.name)
    else:
        credit_ensure(locked=locked, code=code, needed=needed, node=node)


def node_owed(*, node: Operator) -> int:
    """What a postpaid node owes the ISP now (minor units)."""
    return code_balance(node_account(AccountKind.NODE_RECEIVABLE, node.pk).code)


def wallet_balance(*, node: Operator) -> int:
    return -code_balance(node_account(AccountKind.WALLET, node.pk).code)


def topup_authorize(*, actor: Any, node: Operator, method: str) -> None:
    """A deposit (cash, bank, Stripe) is money reaching the ISP: its admin or accountant only. A transfer from
    the parent's wallet: a login of the target's direct parent node (a card distributor moves none)."""
    if method != "parent_wallet":
        authority.authorize(actor, Act.WALLET_DEPOSIT, node=node)
        return
    authority.authorize(actor, Act.WALLET_TRANSFER, node=node, below=True)
    if authority.is_system(actor):
        return
    own = authority.user_node(user=getattr(actor, "user", actor))
    if own is None or node.parent_id != own.pk:
        raise PermissionDenied("Only a login of the node's parent pays its top-up from the parent's wallet.")


def wallet_topup(
    *, node: Operator, amount: int, method: str, actor: Any, idempotency_key: str | None = None,
    external_reference: str = "",
) -> tuple[WalletTopup, bool]:
    """Credit a prepaid node's wallet, paid by cash/bank/Stripe to the ISP or from its parent's wallet."""
    if method not in TOPUP_METHODS:
        raise ValidationError({"method": "Choose cash, bank, stripe or parent_wallet."})
    topup_authorize(actor=actor, node=node, method=method)
    actor_id = actor_id_of(actor)
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be positive."})
    if node.depth == 0:
        raise ValidationError({"node": "The ISP has no wallet of its own."})
    if node.billing_mode != BillingMode.PREPAID:
        raise ValidationError({"node": f"{node.name} is postpaid: it settles its balance, it has no wallet."})
    if method == "parent_wallet" and node.parent is not None and node.parent.depth == 0:
        raise ValidationError({"method": "A reseller directly under the ISP is topped up by cash, bank or Stripe."})
    key = idempotency_key or f"topup:{uuid.uuid4()}"
    digest = payload_hash({"node": node.pk, "amount": amount, "method": method})
    wallet = node_account(AccountKind.WALLET, node.pk)
    source = {
        "cash": isp_account(AccountKind.CASH), "bank": isp_account(AccountKind.BANK),
        "stripe": isp_account(AccountKind.STRIPE_CLEARING),
    }.get(method) or node_account(AccountKind.WALLET, int(node.parent_id or 0))

    def work() -> WalletTopup:
        locked = accounts_lock([wallet, source], lock=[wallet.code, source.code] if method == "parent_wallet"
                               else [wallet.code])
        if method == "parent_wallet" and node.parent is not None:
            wallet_funds_ensure(locked=locked, code=source.code, needed=amount, who=node.parent.name)
        entry = entry_post(kind=EntryKind.TOPUP, node_id=node.pk, actor_id=actor_id,
                           reason=f"Wallet top-up of {node.name} ({method})",
                           legs=[Leg(source, amount), Leg(wallet, -amount)], locked=locked,
                           external_reference=external_reference)
        return WalletTopup.objects.create(node=node, amount=amount, method=method, idempotency_key=key,
                                          payload_hash=digest, entry=entry)

    try:
        return money_atomic(work), True
    except IntegrityError as exc:
        if "idempotency_key" not in str(exc):
            raise
        existing = WalletTopup.objects.get(idempotency_key=key)
        if existing.payload_hash != digest:
            raise IdempotencyConflict(key) from exc
        return existing, False


def activation_legs(*, subscriber: Subscriber) -> tuple[list[Leg], int]:
    """Owner pays its cost (wallet if prepaid, owed if postpaid); each ancestor earns price - cost; the ISP
    the master price. The credits telescope to exactly the owner's cost."""
    owner = subscriber.owner
    chain = chain_for(owner=owner, package=subscriber.package)
    if owner.depth == 0:
        return [], 0
    cost = chain.cost(owner)
    payer_kind = AccountKind.WALLET if owner.billing_mode == BillingMode.PREPAID else AccountKind.NODE_RECEIVABLE
    legs = [Leg(node_account(payer_kind, owner.pk), cost), Leg(isp_account(AccountKind.SALES_REVENUE), -chain.master_price)]
    for node in chain.nodes:
        if node.pk != owner.pk:
            legs.append(Leg(node_account(AccountKind.COMMISSION_PAYABLE, node.pk),
                            -(chain.prices[node.pk] - chain.cost(node))))
    return legs, cost


def subscriber_activate(*, subscriber: Subscriber, actor: Any) -> JournalEntry | None:
    """Activate or renew a customer for one validity period, charging its owner's cost (``Act.RECHARGE``).

    With too little in a prepaid wallet (InsufficientFunds) or past a postpaid owner's credit limit
    (CreditLimitExceeded), nothing changes (no posting, no renewal)."""
    authority.authorize(actor, Act.RECHARGE, node=subscriber.owner)
    actor_id = actor_id_of(actor)

    def work() -> JournalEntry | None:
        # Lock only the subscriber row (not the joined operator/package rows), and with FOR NO KEY UPDATE:
        # concurrent payments take FOR KEY SHARE on it for their foreign key at commit and must not wait.
        locked_sub = (Subscriber.objects.select_for_update(of=("self",), no_key=True)
                      .select_related("owner", "package")
                      .get(pk=subscriber.pk))
        legs, cost = activation_legs(subscriber=locked_sub)
        entry = None
        if legs:
            locked = accounts_lock((leg.account for leg in legs), lock=[legs[0].account.code])
            payer_funds_ensure(locked=locked, code=legs[0].account.code, needed=cost, node=locked_sub.owner)
            entry = entry_post(kind=EntryKind.ACTIVATION, legs=legs, locked=locked, actor_id=actor_id,
                               customer_id=locked_sub.pk, node_id=locked_sub.owner_id,
                               package_id=locked_sub.package_id,
                               reason=f"Activation of {locked_sub.username} ({locked_sub.package.name})")
        package = locked_sub.package
        now = timezone.now()
        start = max(now, locked_sub.expires_at) if locked_sub.expires_at else now
        locked_sub.expires_at = start + timedelta(days=package.validity_days, hours=package.validity_hours)
        locked_sub.status = SubscriberStatus.ACTIVE
        locked_sub.save(update_fields=["expires_at", "status", "updated"])
        return entry

    return money_atomic(work)
