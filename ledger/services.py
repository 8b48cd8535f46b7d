"""Money writes: customer payments with their commission split, refunds, settlements, manual entries.

Every service runs in one durable transaction (``money_atomic``): the payment, every leg of its split
and the idempotency claim commit together or not at all.

Every service takes the acting login (``actor``: a User, a ``hierarchy.audit.Actor``, or ``SYSTEM`` for
verified webhooks and scheduled jobs) and checks the authority table (hierarchy/authority.py) before it
writes anything. Money enters only through someone who holds it: a payment by bank or gateway is recorded by
the ISP's money roles (or the gateway's verified webhook, as the system); cash taken by a login is recorded
against the login's own node (below the ISP: the node's ``cash_held``, its liability to the ISP).

A payment's steps, in order (``payment_record``): the billing probe statements go in the posting's round
trip; after the posting, a paid self-recharge is bought (ledger.vouchers), then what is left is allocated
to open invoices (ledger.billing) — all in the payment's transaction. A refund releases the payment's
invoice allocations in the reversal's transaction. Those steps live in ledger/payment_steps.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import Operator, Subscriber
from ledger.attachments import attachments_discard, attachments_link, attachments_store
from ledger.chains import chain_cached
from ledger.commission import Split, commission_split
from ledger.journal import (
    AccountRef,
    Leg,
    accounts_lock,
    customer_account,
    entry_post,
    isp_account,
    ledger_currency,
    money_atomic,
    node_account,
    posting_arrays,
    statement_fetchone,
    statements_fetchone,
)
from ledger.models import (
    AccountKind,
    EntryKind,
    JournalEntry,
    Payment,
    PaymentMethod,
    Settlement,
    SettlementDirection,
)
from ledger.pricing import customer_price


@dataclass(frozen=True)
class PaymentProbe:
    """Work another app does inside every payment's transaction, at no extra round trip: ``statements``
    (each with the customer id as its only parameter: lock the customer, look for what the payment should
    settle) are sent in the same pipeline as the posting, before it; after the posting, ``then`` gets the
    payment and the last statement's row (ledger/payment_steps.py calls it)."""

    statements: tuple[str, ...]
    then: Callable[[Payment, tuple[Any, ...] | None], None]


PAYMENT_ACTS = {PaymentMethod.CASH: Act.PAYMENT_CASH, PaymentMethod.BANK: Act.PAYMENT_BANK,
                PaymentMethod.STRIPE: Act.PAYMENT_GATEWAY}


def actor_id_of(actor: Any) -> int | None:
    """The login behind ``actor`` (a User or an ``Actor``), recorded on every entry; None for the system."""
    user = actor if actor is None or hasattr(actor, "role") else getattr(actor, "user", None)
    return getattr(user, "pk", None) if user is not None else None


class IdempotencyConflict(Exception):
    """The same idempotency key was used with a different payload."""


class AlreadyReversed(Exception):
    """The entry (payment) was already reversed (refunded)."""


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def money_account_for(*, method: str, collector: Operator | None) -> AccountRef:
    if method == PaymentMethod.BANK:
        return isp_account(AccountKind.BANK)
    if method == PaymentMethod.STRIPE:
        return isp_account(AccountKind.STRIPE_CLEARING)
    if collector is None or collector.depth == 0:
        return isp_account(AccountKind.CASH)
    # Cash a reseller collected is the ISP's money in the reseller's hands until it is settled.
    return node_account(AccountKind.CASH_HELD, collector.pk)


class _Replay(Exception):
    pass


class StaleChain(Exception):
    """The owner's prices/shares changed under every attempt to split a payment (practically never)."""


STALE_CHAIN_ATTEMPTS = 3


def payment_legs(*, money: AccountRef, customer_id: int, amount: int, split: Split) -> list[Leg]:
    """A payment settles the customer's receivable (what its invoices and purchases charged; below zero it
    is credit for future ones) and pays each node of the chain its commission, an expense of the ISP.
    What the ISP keeps is its revenue from the sale minus these commissions."""
    legs = [Leg(money, amount), Leg(customer_account(customer_id), -amount)]
    commissions = [Leg(node_account(AccountKind.COMMISSION_PAYABLE, node_id), -share) for node_id, share in split.nodes]
    total = -sum(leg.amount for leg in commissions)
    if total:
        legs += [Leg(isp_account(AccountKind.COMMISSION_EXPENSE), total), *commissions]
    return legs


def payment_collector(*, actor: Any, method: str, collector: Operator | None) -> Operator | None:
    """Whose cash it is: a login's own node (the ISP's till for its root's logins, else the node's
    ``cash_held``); only the system (imports, tests) names another collector. Bank and gateway money
    reaches the ISP directly (no collector)."""
    if method != PaymentMethod.CASH:
        return None
    if authority.is_system(actor):
        return collector
    own = authority.user_node(user=getattr(actor, "user", actor))
    if own is None or (collector is not None and collector.pk != own.pk):
        raise PermissionDenied("Cash is recorded against your own node.")
    return own


def payment_record(
    *,
    customer: Subscriber,
    amount: int,
    method: str,
    idempotency_key: str,
    actor: Any,
    collector: Operator | None = None,
    external_reference: str = "",
) -> tuple[Payment, bool]:
    """Record a payment of ``amount`` minor units and split it up the customer's chain.

    ``actor`` must hold the method's act (cash: PAYMENT_CASH; bank: PAYMENT_BANK; stripe: PAYMENT_GATEWAY)
    and reach the customer's owner; a login's cash is collected at its own node (``payment_collector``).
    Returns (payment, created). The key is claimed by the unique index on ``ledger_payment`` in the same
    transaction, so concurrent retries post once; a replay with another payload raises
    IdempotencyConflict."""
    if method not in PaymentMethod.values:
        raise ValidationError({"method": "Choose cash, bank or stripe."})
    authority.authorize(actor, PAYMENT_ACTS[PaymentMethod(method)], node=customer.owner)
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be positive."})
    collector = payment_collector(actor=actor, method=method, collector=collector)
    actor_id = actor_id_of(actor)
    digest = payload_hash({"customer": customer.pk, "amount": amount, "method": method,
                           "collector": collector.pk if collector else None})

    currency = ledger_currency()
    reason = f"Payment by {customer.username} ({method})"
    money = money_account_for(method=method, collector=collector)

    def work() -> Payment:
        # The split uses a cached chain; ledger_payment_post posts only if the chain's fingerprint is still
        # the database's, else (prices or shares changed meanwhile) the chain is read again.
        # Step 1 (billing): its probe statements go in the first attempt's round trip, before the posting.
        probe = payment_steps.payment_probe()
        probe_rows: list[tuple[Any, ...] | None] = []
        for attempt in range(STALE_CHAIN_ATTEMPTS):
            cached = chain_cached(owner_id=customer.owner_id, package_id=customer.package_id, refresh=attempt > 0)
            split = commission_split(gross=amount, chain=cached.commission_chain,
                                     customer_price=customer_price(customer=customer, chain=cached.chain))
            legs = payment_legs(money=money, customer_id=customer.pk, amount=amount, split=split)
            ids, debits, credits = posting_arrays(legs, accounts_lock(leg.account for leg in legs))
            post = (
                "SELECT payment_id, entry_id, created, outcome FROM ledger_payment_post("
                "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::bigint[], %s::bigint[], %s::bigint[])",
                [cached.fingerprint, customer.owner_id, customer.package_id, actor_id, reason,
                 external_reference[:128], customer.pk, amount, currency, method,
                 collector.pk if collector else None, idempotency_key, digest, ids, debits, credits],
            )
            if attempt == 0:
                *probe_rows, posted = statements_fetchone([*((sql, [customer.pk]) for sql in probe.statements), post])
                if posted is None:
                    raise AssertionError("ledger_payment_post returned no row")
                payment_id, entry_id, created, outcome = posted
            else:
                payment_id, entry_id, created, outcome = statement_fetchone(*post)
            if outcome == "stale":
                continue
            if outcome == "replay":
                raise _Replay
            payment = Payment(pk=payment_id, customer=customer, amount=amount, currency=currency, method=method,
                              collector=collector, idempotency_key=idempotency_key, payload_hash=digest,
                              entry_id=entry_id, created=created)
            # Steps 2 and 3 (vouchers: a paid self-recharge; billing: allocate to invoices), same transaction.
            payment_steps.payment_posted(payment, probe_row=probe_rows[-1] if probe_rows else None)
            return payment
        raise StaleChain(f"The prices of {customer.username}'s chain kept changing; try again.")

    try:
        return money_atomic(work), True
    except _Replay:
        existing = Payment.objects.get(idempotency_key=idempotency_key)
        if existing.payload_hash != digest:
            raise IdempotencyConflict(idempotency_key) from None
        return existing, False


def entry_reverse(
    *, entry: JournalEntry, kind: str, reason: str, actor_id: int | None = None, external_reference: str = "",
    redirect: dict[str, AccountRef] | None = None, then: Callable[[JournalEntry], None] | None = None,
) -> JournalEntry:
    """Post the mirror image of ``entry``, linked to it. The unique ``reversal_of`` makes a second
    reversal fail in the database (AlreadyReversed). ``redirect`` maps an account code to another account
    for the mirrored leg (e.g. revenue → the refunds contra account). ``then`` runs in the same transaction,
    after the reversal is posted."""
    redirect = redirect or {}

    def work() -> JournalEntry:
        reversal = JournalEntry.objects.create(kind=kind, reason=reason, actor_id=actor_id, reversal_of=entry,
                                               external_reference=external_reference[:128],
                                               customer_id=entry.customer_id, node_id=entry.node_id,
                                               package_id=entry.package_id)
        legs = []
        for code, kind_, owner_id, customer_id, debit, credit in entry.postings.values_list(
            "account__code", "account__kind", "account__owner_id", "account__customer_id", "debit", "credit"
        ):
            ref = redirect.get(code, AccountRef(code=code, kind=kind_, owner_id=owner_id, customer_id=customer_id))
            legs.append(Leg(ref, credit - debit))
        posted = entry_post(kind=kind, reason=reason, legs=legs, entry=reversal)
        if then is not None:
            then(posted)
        return posted

    try:
        return money_atomic(work)
    except IntegrityError as exc:
        if "reversal_of" in str(exc) or "ledger_journalentry_reversal_of_id_key" in str(exc):
            raise AlreadyReversed(entry.pk) from exc
        raise


def payment_refund(*, payment: Payment, actor: Any, reason: str = "", chargeback: bool = False) -> JournalEntry:
    """Reverse the payment and its whole split: the money goes back, the customer's receivable is charged
    again and the commissions are taken back. (Cancelling what was sold is a credit note, not a refund.)
    Billing releases the payment's allocations in the same transaction (ledger/payment_steps.py)."""
    authority.authorize(actor, Act.REFUND, node=payment.customer.owner)
    label = "Chargeback" if chargeback else "Refund"
    return entry_reverse(
        entry=payment.entry, kind=EntryKind.REFUND, actor_id=actor_id_of(actor),
        reason=f"{label} of payment #{payment.pk}" + (f": {reason}" if reason else ""),
        then=lambda reversal: payment_steps.payment_reversed(payment, reversal),
    )


def settlement_record(
    *, node: Operator, amount: int, direction: str, actor: Any, method: str = PaymentMethod.CASH, reason: str = "",
) -> Settlement:
    """Money changing hands between the ISP and a node:
    node_pays  — the node hands over cash it collected (cash/bank ← cash held by the node);
    node_dues  — a postpaid node pays what its activations cost (cash/bank ← owed by the node);
    isp_pays   — the ISP pays out the node's commission (commission payable ← cash/bank);
    netting    — the node keeps its commission out of the cash it holds."""
    authority.authorize(actor, Act.SETTLEMENT, node=node)
    actor_id = actor_id_of(actor)
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be positive."})
    if node.depth == 0:
        raise ValidationError({"node": "The ISP does not settle with itself."})
    if direction not in SettlementDirection.values:
        raise ValidationError({"direction": "Unknown settlement direction."})
    if method not in (PaymentMethod.CASH, PaymentMethod.BANK):
        raise ValidationError({"method": "Settle in cash or by bank transfer."})
    money = isp_account(AccountKind.CASH if method == PaymentMethod.CASH else AccountKind.BANK)
    held = node_account(AccountKind.CASH_HELD, node.pk)
    commission = node_account(AccountKind.COMMISSION_PAYABLE, node.pk)
    debit, credit = {
        SettlementDirection.NODE_PAYS: (money, held),
        SettlementDirection.NODE_DUES: (money, node_account(AccountKind.NODE_RECEIVABLE, node.pk)),
        SettlementDirection.ISP_PAYS: (commission, money),
        SettlementDirection.NETTING: (commission, held),
    }[SettlementDirection(direction)]

    def work() -> Settlement:
        entry = entry_post(kind=EntryKind.SETTLEMENT, actor_id=actor_id, node_id=node.pk,
                           reason=reason or f"Settlement with {node.name} ({direction})",
                           legs=[Leg(debit, amount), Leg(credit, -amount)])
        return Settlement.objects.create(node=node, direction=direction, method=method, amount=amount, entry=entry)

    return money_atomic(work)


MANUAL_KINDS = {AccountKind.CASH, AccountKind.BANK, AccountKind.EXPENSES, AccountKind.OTHER_INCOME,
                AccountKind.TAX_PAYABLE, AccountKind.LATE_FEE_INCOME}


def manual_entry_record(*, lines: list[tuple[str, int]], reason: str, actor: Any,
                        external_reference: str = "", attachments: Sequence[UploadedFile] = ()) -> JournalEntry:
    """An accountant's entry on the ISP's own accounts (expenses, other income…): (kind, effect) lines,
    effect positive = debit, with optional supporting files (ledger/attachments.py). An unbalanced entry is
    refused here and, regardless, by the database."""
    authority.authorize(actor, Act.MANUAL_ENTRY)
    actor_id = actor_id_of(actor)
    if not reason.strip():
        raise ValidationError({"reason": "Say what the entry is for."})
    if sum(effect for _, effect in lines) != 0 or len(lines) < 2:
        raise ValidationError({"lines": "Debits and credits must be equal (at least two lines)."})
    refs = []
    for kind, effect in lines:
        if kind not in {k.value for k in MANUAL_KINDS} or effect == 0:
            raise ValidationError({"lines": f"“{kind}” cannot be used in a manual entry (or a zero line)."})
        refs.append(Leg(isp_account(AccountKind(kind)), effect))
    files = attachments_store(uploads=attachments)

    def work() -> JournalEntry:
        entry = entry_post(kind=EntryKind.MANUAL, reason=reason, legs=refs, actor_id=actor_id,
                           external_reference=external_reference)
        attachments_link(entry=entry, files=files, actor_id=actor_id)
        return entry

    try:
        return money_atomic(work)
    except BaseException:
        attachments_discard(files=files)
        raise


def entry_attachments_add(*, entry: JournalEntry, uploads: Sequence[UploadedFile], actor: Any) -> None:
    """More supporting files for a manual entry (a receipt that arrived later); the entry itself is unchanged."""
    authority.authorize(actor, Act.MANUAL_ENTRY)
    actor_id = actor_id_of(actor)
    if entry.kind != EntryKind.MANUAL:
        raise ValidationError({"entry": "Files are attached to manual entries only."})
    if not uploads:
        raise ValidationError({"attachments": "Send at least one file."})
    files = attachments_store(uploads=uploads)
    try:
        with transaction.atomic():
            attachments_link(entry=entry, files=files, actor_id=actor_id)
    except BaseException:
        attachments_discard(files=files)
        raise


def customer_accounts_ensure(*, customer: Subscriber) -> None:
    """Optional eager creation of a customer's receivable (accounts are otherwise created on first use)."""
    money_atomic(lambda: accounts_lock([customer_account(customer.pk)]))


# The payment's steps in billing and vouchers (ledger/payment_steps.py) import this module; it is imported
# last, once every name above exists, whichever of them Python loads first.
from ledger import payment_steps  # noqa: E402
