"""What a customer payment does besides posting, in the order ``ledger.services.payment_record`` does it.

In the payment's transaction:

1. billing's probe (``ledger.billing.payments.ALLOCATION_PROBE``): lock the customer and look for an open
   invoice; its statements are sent in the same round trip as the posting, before it;
2. after the posting, vouchers buy a paid self-recharge (``ledger.vouchers.self_recharge``), first, so the
   recharge's invoice-free purchase takes what it was paid for;
3. billing allocates what is left (and any other credit) to the customer's open invoices.

A refund (``payment_refund``) releases the payment's invoice allocations in the reversal's transaction.

Both apps import ``ledger.services`` (their own payments go through ``payment_record``); ``ledger.services``
imports this module after its own names exist, and this module imports theirs as modules (their names are
read when a payment runs), so whichever of the three Python loads first, none sees another half-made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.billing import payments as billing_payments
from ledger.vouchers import self_recharge

if TYPE_CHECKING:
    from ledger.models import JournalEntry, Payment
    from ledger.services import PaymentProbe


def payment_probe() -> PaymentProbe:
    """Step 1: the statements sent with the posting (billing: lock the customer, any open invoice?)."""
    return billing_payments.ALLOCATION_PROBE


def payment_posted(payment: Payment, *, probe_row: tuple[Any, ...] | None) -> None:
    """Steps 2 and 3, inside the payment's transaction, after its entry and legs are inserted."""
    self_recharge.self_recharge_payment_hook(payment)  # 2. vouchers: buy the paid self-recharge, if any
    billing_payments.payment_allocate(payment, probe_row)  # 3. billing: allocate the rest to open invoices


def payment_reversed(payment: Payment, reversal: JournalEntry) -> None:
    """In a refund's (chargeback's) transaction, after the reversing entry: billing releases the payment's
    allocations to invoices."""
    billing_payments.payment_release_hook(payment, reversal)
