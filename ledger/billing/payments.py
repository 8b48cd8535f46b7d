"""Applying payments and credits to invoices.

A customer's *credits* are its payments (not refunded) and its credit notes, less what was already
allocated. A payment is allocated, inside its own transaction (``ledger/payment_steps.py``),
to the invoices the payer chose and then to the oldest open invoices; what is left is an advance payment,
applied to the next invoices when they are issued. The database caps every allocation (migration 0002):
never more than an invoice's total, nor more than a payment's or credit note's amount.

When an invoice becomes paid, the customer's validity extends to the end of the paid period (postpaid:
to the end of the period after it, as it is billed in arrears), and a customer suspended for nonpayment
with nothing overdue any more is reactivated.

A refund or chargeback of a payment (``ledger.services.payment_refund``, ``ledger/payment_steps.py``)
releases, in the reversal's transaction, every allocation of that payment (a negative row linked to it,
migration 0004): its invoices are partially paid or open again and its unallocated remainder is no credit
any more. Validity a refunded payment extended is not shortened: the invoice is open again, other credits
of the customer are applied to it, and if it is past due beyond the grace period the customer is
suspended for nonpayment right away (with ``suspend_overdue``), as the late-fee run would do.
"""

from __future__ import annotations

import contextvars
import datetime
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection

from hierarchy.models import Subscriber, SubscriberStatus
from ledger.billing.amounts import add_months
from ledger.billing.documents import billing_settings, day_start, tenant_today
from ledger.billing.models import (
    BillingProfile,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PaymentAllocation,
    PaymentTerms,
)
from ledger.journal import customer_account, money_atomic
from ledger.models import JournalEntry, Payment, code_balance
from ledger.services import PaymentProbe, payment_record

OPEN_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
_chosen_invoices: contextvars.ContextVar[tuple[int, ...]] = contextvars.ContextVar("billing_chosen", default=())


def customer_lock(customer_id: int) -> Subscriber:
    """Serialize billing work on one customer (FOR NO KEY UPDATE: payments' foreign-key checks don't wait)."""
    return (Subscriber.objects.select_for_update(of=("self",), no_key=True).select_related("owner", "package")
            .get(pk=customer_id))


def open_invoices(*, customer_id: int, first: Sequence[int] = ()) -> list[Invoice]:
    """The customer's open invoices: the chosen ones first (in the given order), then oldest first."""
    invoices = list(Invoice.objects.filter(customer_id=customer_id, status__in=OPEN_STATUSES)
                    .order_by("due_date", "sequence"))
    rank = {pk: index for index, pk in enumerate(first)}
    return sorted(invoices, key=lambda inv: (rank.get(inv.pk, len(rank)),))


def available_credits(*, customer_id: int) -> list[tuple[str, int, int]]:
    """(source kind 'payment'|'credit_note', id, amount left), oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM ("
            " SELECT 'payment' AS kind, p.id, p.amount - coalesce((SELECT sum(a.amount) FROM billing_paymentallocation a"
            "   WHERE a.payment_id = p.id), 0) AS left_over, p.created FROM ledger_payment p"
            "  WHERE p.customer_id = %s AND NOT EXISTS (SELECT 1 FROM ledger_journalentry r"
            "   WHERE r.reversal_of_id = p.entry_id)"
            " UNION ALL"
            " SELECT 'credit_note', c.id, c.total - coalesce((SELECT sum(a.amount) FROM billing_paymentallocation a"
            "   WHERE a.credit_note_id = c.id), 0), c.created FROM billing_creditnote c WHERE c.customer_id = %s"
            ") s WHERE left_over > 0 ORDER BY created, id",
            [customer_id, customer_id],
        )
        return [(kind, int(pk), int(left)) for kind, pk, left, _ in cursor.fetchall()]


def receivable_balance(*, customer_id: int) -> int:
    """Σ debit - credit of the customer's receivable (maintained by the ledger's posting trigger)."""
    return code_balance(customer_account(customer_id).code)


def customer_credit(*, customer_id: int) -> int:
    """Advance payments and credit notes not applied yet (never more than the receivable shows as credit
    beyond the open invoices)."""
    unapplied = sum(left for _, _, left in available_credits(customer_id=customer_id))
    outstanding = sum(inv.outstanding for inv in open_invoices(customer_id=customer_id))
    return max(0, min(unapplied, outstanding - receivable_balance(customer_id=customer_id)))


def _allocate(*, kind: str, source_id: int, amount: int, invoices: list[Invoice]) -> int:
    """Allocate up to ``amount`` of one source over ``invoices`` (refreshing their amounts); returns the rest."""
    for invoice in invoices:
        if amount <= 0:
            break
        due = invoice.outstanding
        if due <= 0:
            continue
        part = min(due, amount)
        PaymentAllocation.objects.create(invoice=invoice, amount=part, **{f"{kind}_id": source_id})
        invoice.refresh_from_db(fields=["amount_paid", "amount_credited", "status"])
        amount -= part
    return amount


def credits_apply(*, customer: Subscriber, first: Sequence[int] = (), extend_validity: bool = True) -> list[Invoice]:
    """Apply every available credit of the customer to its open invoices (inside a money transaction,
    the customer locked); then extend validity for the invoices that became paid. Returns those."""
    invoices = open_invoices(customer_id=customer.pk, first=first)
    if not invoices:
        return []
    # The receivable also carries charges that are not invoices (a recharge of the ISP's own customer):
    # what a payment settled there is no advance. The customer's real credit is what its open invoices ask
    # minus what its receivable says it owes.
    cap = sum(inv.outstanding for inv in invoices) - receivable_balance(customer_id=customer.pk)
    credits = available_credits(customer_id=customer.pk)
    # Credit notes first (they are tied to corrections), then payments, oldest first.
    credits.sort(key=lambda credit: credit[0] != "credit_note")
    for kind, pk, left in credits:
        if cap <= 0:
            break
        amount = min(left, cap)
        cap -= amount - _allocate(kind=kind, source_id=pk, amount=amount, invoices=invoices)
    paid = [inv for inv in invoices if inv.status == InvoiceStatus.PAID]
    if paid and extend_validity:
        invoices_paid_effects(customer=customer, invoices=paid)
    return paid


def invoices_paid_effects(*, customer: Subscriber, invoices: Sequence[Invoice]) -> None:
    """Validity to the end of the paid periods; reactivation of a customer suspended for nonpayment."""
    profile = BillingProfile.objects.filter(customer_id=customer.pk).first()
    postpaid = profile is not None and profile.terms == PaymentTerms.POSTPAID
    ends = [inv.period_end for inv in invoices if inv.kind != InvoiceKind.LATE_FEE]
    fields = []
    if ends:
        last = max(ends) + datetime.timedelta(days=1)
        until = day_start(add_months(last, 1) if postpaid else last)
        if customer.expires_at is None or customer.expires_at < until:
            customer.expires_at = until
            fields.append("expires_at")
            if customer.status == SubscriberStatus.EXPIRED:
                customer.status = SubscriberStatus.ACTIVE
                fields.append("status")
    if fields:
        customer.save(update_fields=[*fields, "updated"])
    if profile is not None and profile.suspended_for_nonpayment and not customer_overdue(customer_id=customer.pk):
        from hierarchy.audit import SYSTEM
        from hierarchy.subscribers import subscriber_reactivate

        BillingProfile.objects.filter(pk=profile.pk).update(suspended_for_nonpayment=False)
        if customer.status == SubscriberStatus.SUSPENDED:
            subscriber_reactivate(subscriber=customer, actor=SYSTEM)
            customer.refresh_from_db()


def customer_overdue(*, customer_id: int, today: datetime.date | None = None) -> bool:
    """Whether an invoice of the customer is still unpaid past its due date plus the grace period."""
    today = today or tenant_today()
    limit = today - datetime.timedelta(days=billing_settings().grace_days)
    return Invoice.objects.filter(customer_id=customer_id, status__in=OPEN_STATUSES, due_date__lt=limit).exists()


# Every payment passes here, so the common case (nothing open to pay) costs two plain statements, sent in the
# payment's own round trip (ledger.services.PaymentProbe): lock the customer (serialising with an invoice being
# issued for it) and, in a fresh snapshot taken after the lock, look for an open invoice.
_LOCK_CUSTOMER = "SELECT 1 FROM hierarchy_subscriber WHERE id = %s FOR NO KEY UPDATE"
_OPEN_INVOICE = ("SELECT EXISTS (SELECT 1 FROM billing_invoice WHERE customer_id = %s AND status IN ("
                 + ", ".join(f"'{status}'" for status in OPEN_STATUSES) + "))")


def payment_allocate(payment: Payment, open_invoice: tuple[Any, ...] | None) -> None:
    """Runs inside ``payment_record``'s transaction, the customer locked: allocate the payment (and any
    other credit) to the customer's open invoices, if the probe found one."""
    if not open_invoice or not open_invoice[0]:
        return
    customer = customer_lock(payment.customer_id)
    credits_apply(customer=customer, first=_chosen_invoices.get())


ALLOCATION_PROBE = PaymentProbe(statements=(_LOCK_CUSTOMER, _OPEN_INVOICE), then=payment_allocate)


def payment_release_hook(payment: Payment, reversal: JournalEntry) -> None:
    """Called by ``ledger/payment_steps.py``: runs inside the refund's transaction, after
    the reversing entry (the trigger admits a release only then). Releases the payment's allocations."""
    customer = customer_lock(payment.customer_id)
    released = list(PaymentAllocation.objects.filter(payment_id=payment.pk, releases__isnull=True,
                                                     release__isnull=True).order_by("id"))
    for allocation in released:
        PaymentAllocation.objects.create(invoice_id=allocation.invoice_id, payment_id=payment.pk,
                                         amount=-allocation.amount, releases=allocation)
    if not released:
        return
    credits_apply(customer=customer)
    settings = billing_settings()
    if (settings.suspend_overdue and customer.status == SubscriberStatus.ACTIVE
            and customer_overdue(customer_id=customer.pk)):
        from hierarchy.audit import SYSTEM
        from hierarchy.subscribers import subscriber_suspend

        subscriber_suspend(subscriber=customer, actor=SYSTEM)
        BillingProfile.objects.filter(customer_id=customer.pk).update(suspended_for_nonpayment=True)


@contextmanager
def invoices_chosen(invoice_ids: Sequence[int]) -> Iterator[None]:
    token = _chosen_invoices.set(tuple(invoice_ids))
    try:
        yield
    finally:
        _chosen_invoices.reset(token)


def invoice_pay(*, invoice: Invoice, amount: int, method: str, idempotency_key: str, actor: Any,
                external_reference: str = "") -> tuple[Payment, bool]:
    """A payment the payer directs at ``invoice`` (the rest goes to the oldest open invoices, then credit);
    ``payment_record`` checks the actor may record a payment by ``method`` for this customer."""
    customer = Subscriber.objects.select_related("owner", "package").get(pk=invoice.customer_id)
    with invoices_chosen([invoice.pk]):
        return payment_record(customer=customer, amount=amount, method=method, idempotency_key=idempotency_key,
                              actor=actor, external_reference=external_reference)


def customer_credits_apply(*, customer: Subscriber) -> list[Invoice]:
    """Standalone: apply a customer's credits now (its own money transaction)."""
    return money_atomic(lambda: credits_apply(customer=customer_lock(customer.pk)))
