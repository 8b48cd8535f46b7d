"""Billing actions: the period invoice of one customer, the monthly run of an ISP, late fees, voids and
credit notes on invoices. Each runs in its own money transaction (``money_atomic``).
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError

from hierarchy import authority
from hierarchy.audit import AuditAction, audit_record
from hierarchy.authority import Act
from hierarchy.models import Package, Subscriber, SubscriberStatus
from ledger.billing.amounts import Segment, line_amounts, percent_of, period_segments, period_to_invoice
from ledger.billing.bounds import actor_id, as_actor, reason_required
from ledger.billing.documents import (
    LineSpec,
    billing_settings,
    credit_note_issue,
    credit_split,
    invoice_income,
    invoice_issue,
    invoice_void_locked,
    tax_rate_for,
    tenant_today,
)
from ledger.billing.models import (
    BillingModel,
    BillingProfile,
    CreditNote,
    IncomeKind,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    LateFee,
    PackageChange,
    PaymentTerms,
)
from ledger.billing.payments import OPEN_STATUSES, credits_apply, customer_lock
from ledger.billing.promos import promo_pending
from ledger.journal import money_atomic
from ledger.pricing import chain_for, customer_price

logger = logging.getLogger(__name__)
LATE_FEE_TAX = Decimal("0")  # a late fee is a penalty, not a supply: no tax on it


def customer_package_price(*, customer: Subscriber, package: Package | None = None) -> int:
    """What the customer pays per period for ``package`` (default its own): its special price, else its
    owner's price for the package (ledger.pricing)."""
    package = package or customer.package
    return customer_price(customer=customer, chain=chain_for(owner=customer.owner, package=package))


def anchor_day(*, profile: BillingProfile, customer: Subscriber, calendar_month: bool) -> int:
    return 1 if calendar_month else customer.billing_day


def invoice_issue_for_period(
    *, customer: Subscriber, period_start: datetime.date | None = None, on: datetime.date | None = None,
    actor_id: int | None = None,
) -> Invoice | None:
    """Issue the customer's period invoice (idempotent: None if the period is already invoiced or the
    customer is not on monthly billing). Without ``period_start``, the period due ``on`` (default today)
    per its terms: prepaid in advance, postpaid in arrears. Applies a pending promo and the customer's
    credit (advance payments) to it."""
    today = on or tenant_today()

    def work() -> Invoice | None:
        locked = customer_lock(customer.pk)
        profile = BillingProfile.objects.filter(customer_id=locked.pk).first()
        if profile is None or profile.model != BillingModel.MONTHLY:
            return None
        settings = billing_settings()
        day = anchor_day(profile=profile, customer=locked, calendar_month=settings.calendar_month)
        prepaid = profile.terms == PaymentTerms.PREPAID
        if period_start is None:
            start, end = period_to_invoice(anchor_day=day, on=today, prepaid=prepaid)
        else:
            start, end = period_to_invoice(anchor_day=day, on=period_start, prepaid=True)
        if start < profile.start_date or Invoice.objects.filter(
                customer_id=locked.pk, kind=InvoiceKind.REGULAR, period_start=start).exclude(
                status=InvoiceStatus.VOID).exists():
            return None
        return _period_invoice(customer=locked, profile=profile, period=(start, end), today=today, actor_id=actor_id)

    try:
        return money_atomic(work)
    except IntegrityError as exc:
        if "invoice_one_per_period" in str(exc):  # a concurrent run issued it first
            return None
        raise


def period_line(*, customer: Subscriber, profile: BillingProfile, period: tuple[datetime.date, datetime.date],
                promo: object = None) -> LineSpec:
    price = customer_package_price(customer=customer)
    rate = tax_rate_for(customer.package)
    amounts = line_amounts(unit_price=price, tax_rate=rate, discount_percent=profile.discount_percent,
                           promo=promo)  # type: ignore[arg-type]
    return LineSpec(description=f"{customer.package.name} {period[0]:%d %b %Y} - {period[1]:%d %b %Y}",
                    unit_price=price, amounts=amounts, tax_rate=rate, package=customer.package, period=period)


def postpaid_segments(*, customer: Subscriber, profile: BillingProfile, period: tuple[datetime.date, datetime.date],
                      proposed: tuple[datetime.date, Package, int] | None = None) -> list[Segment] | None:
    """The segments a postpaid customer's arrears invoice for ``period`` bills, from the package changes
    recorded from the period's first day on (plus ``proposed``: (day, package, price), a change not yet
    recorded — the preview). None when no change touches the period (a plain whole-period line)."""
    changes = [(c.effective, c.new_package, c.new_price, c.old_package, c.old_price) for c in
               PackageChange.objects.filter(customer_id=customer.pk, effective__gte=period[0])
               .select_related("old_package", "new_package").order_by("effective", "id")]
    if proposed is not None:
        price = customer_package_price(customer=customer)
        changes.append((proposed[0], proposed[1], proposed[2], customer.package, price))
        changes.sort(key=lambda change: change[0])  # stable: recorded ones keep their order
    if not changes:
        return None
    # The package in force on the first day: the one the first later change moved away from.
    first = changes[0]
    initial_price = first[4] if first[4] is not None else customer_package_price(customer=customer, package=first[3])
    return period_segments(
        period_start=period[0], period_end=period[1], discount_percent=profile.discount_percent,
        initial=(first[3].pk, initial_price, tax_rate_for(first[3])),
        changes=[(day, new.pk, price if price is not None else customer_package_price(customer=customer, package=new),
                  tax_rate_for(new)) for day, new, price, _old, _old_price in changes])


def _segment_lines(*, segments: list[Segment], packages: dict[int, Package]) -> list[LineSpec]:
    return [LineSpec(description=f"{packages[s.package_id].name} {s.start:%d %b %Y} - {s.end:%d %b %Y} "
                                 f"({s.days}/{s.days_in_period} days)",
                     unit_price=s.unit_price, amounts=s.amounts, tax_rate=s.tax_rate, package=packages[s.package_id],
                     period=(s.start, s.end), quantity=Fraction(s.days, s.days_in_period)) for s in segments]


def _period_invoice(*, customer: Subscriber, profile: BillingProfile, period: tuple[datetime.date, datetime.date],
                    today: datetime.date, actor_id: int | None) -> Invoice:
    if profile.terms == PaymentTerms.POSTPAID:
        segments = postpaid_segments(customer=customer, profile=profile, period=period)
        if segments is not None:
            # Split at recorded package changes: no promo on a split invoice (it stays pending for the next one).
            packages = Package.objects.in_bulk([s.package_id for s in segments])
            invoice = invoice_issue(customer=customer, kind=InvoiceKind.REGULAR, period=period,
                                    lines=_segment_lines(segments=segments, packages=packages), issue_date=today,
                                    actor_id=actor_id)
            credits_apply(customer=customer)
            invoice.refresh_from_db()
            return invoice
    pending = promo_pending(customer_id=customer.pk)
    line = period_line(customer=customer, profile=profile, period=period, promo=pending[1] if pending else None)
    invoice = invoice_issue(customer=customer, kind=InvoiceKind.REGULAR, period=period, lines=[line],
                            issue_date=today, actor_id=actor_id)
    if pending is not None:
        redemption = pending[0]
        redemption.invoice = invoice
        redemption.save(update_fields=["invoice"])
    credits_apply(customer=customer)
    invoice.refresh_from_db()
    return invoice


@dataclass
class RunResult:
    issued: int = 0
    skipped: int = 0
    failed: int = 0


def monthly_run(*, on: datetime.date | None = None, catch_up_days: int = 3) -> RunResult:
    """Issue every period invoice due on ``on`` (default today) and the ``catch_up_days`` before it (a
    missed beat is caught up): the plain ones set-based (``bulk.py``), the special cases (promo, credit,
    zero total) one by one. Idempotent."""
    from ledger.billing.bulk import customers_not_invoiced, invoices_issue_bulk

    today = on or tenant_today()
    result = RunResult()
    for back in range(catch_up_days, -1, -1):
        day = today - datetime.timedelta(days=back)
        try:
            result.issued += invoices_issue_bulk(on=day)
        except IntegrityError:
            # A one-by-one issue raced the bulk pass on a customer: the one-by-one path below covers all.
            logger.warning("bulk invoice pass for %s gave way to the one-by-one path", day)
        for customer in Subscriber.objects.filter(pk__in=customers_not_invoiced(on=day)).select_related(
                "owner", "package").order_by("id"):
            try:
                invoice = invoice_issue_for_period(customer=customer, on=day)
            except ValidationError:
                logger.exception("invoice for %s not issued", customer.username)
                result.failed += 1
                continue
            if invoice is None:
                result.skipped += 1
            else:
                result.issued += 1
    return result


def late_fee_amount(*, outstanding: int) -> int:
    settings = billing_settings()
    return settings.late_fee_fixed + percent_of(outstanding, settings.late_fee_percent)


def late_fees_apply(*, on: datetime.date | None = None) -> int:
    """Bill a late fee on every invoice still unpaid ``grace_days`` after its due date, once per invoice
    (UNIQUE late fee per invoice; a second run finds it and moves on). Suspends the customer when the ISP
    says so. Returns how many fees were posted."""
    today = on or tenant_today()
    settings = billing_settings()
    limit = today - datetime.timedelta(days=settings.grace_days)
    candidates = list(Invoice.objects.filter(status__in=OPEN_STATUSES, due_date__lt=limit, late_fee__isnull=True)
                      .exclude(kind=InvoiceKind.LATE_FEE).values_list("pk", "customer_id"))
    posted = 0
    for invoice_id, customer_id in candidates:
        try:
            if money_atomic(functools.partial(_late_fee, invoice_id=invoice_id, customer_id=customer_id, today=today)):
                posted += 1
        except IntegrityError as exc:
            if "late_fee" not in str(exc):
                raise
    return posted


def _late_fee(*, invoice_id: int, customer_id: int, today: datetime.date) -> bool:
    customer = customer_lock(customer_id)
    invoice = Invoice.objects.select_for_update().get(pk=invoice_id)
    if invoice.status not in OPEN_STATUSES or LateFee.objects.filter(invoice=invoice).exists():
        return False
    settings = billing_settings()
    fee = late_fee_amount(outstanding=invoice.outstanding)
    posted = False
    if fee > 0:
        line = LineSpec(description=f"Late fee on {invoice.number}", unit_price=fee,
                        amounts=line_amounts(unit_price=fee, tax_rate=LATE_FEE_TAX), tax_rate=LATE_FEE_TAX,
                        income=IncomeKind.LATE_FEE)
        fee_invoice = invoice_issue(customer=customer, kind=InvoiceKind.LATE_FEE, period=(today, today),
                                    lines=[line], issue_date=today)
        LateFee.objects.create(invoice=invoice, fee_invoice=fee_invoice, amount=fee)
        credits_apply(customer=customer)
        posted = True
    if settings.suspend_overdue and customer.status == SubscriberStatus.ACTIVE:
        from hierarchy.audit import SYSTEM
        from hierarchy.subscribers import subscriber_suspend

        subscriber_suspend(subscriber=customer, actor=SYSTEM)
        BillingProfile.objects.filter(customer_id=customer.pk).update(suspended_for_nonpayment=True)
    return posted


def _audit(*, actor: Any, obj: Any, object_type: str, action: str, reason: str, changes: dict[str, Any]) -> None:
    audit_record(actor=as_actor(actor), obj=obj, object_type=object_type, action=action,
                 changes={**changes, "reason": reason})


def invoice_void(*, invoice: Invoice, reason: str, actor: Any) -> Invoice:
    """Void an unpaid invoice (the ISP's admin or accountant, with a reason; audited in the same
    transaction). A reseller or manager gets PermissionDenied and nothing changes."""
    customer = Subscriber.objects.select_related("owner").get(pk=invoice.customer_id)
    authority.authorize(actor, Act.INVOICE_VOID, node=customer.owner)
    why = reason_required(reason)

    def work() -> Invoice:
        customer_lock(invoice.customer_id)
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        before = locked.status
        voided = invoice_void_locked(invoice=locked, reason=why, actor_id=actor_id(actor))
        _audit(actor=actor, obj=voided, object_type="invoice", action=AuditAction.STATUS, reason=why,
               changes={"status": [before, voided.status]})
        return voided

    return money_atomic(work)


def invoice_credit(*, invoice: Invoice, amount: int, reason: str, actor: Any) -> CreditNote:
    """A credit note of ``amount`` (tax included) on an issued invoice; applied to it first, the rest of
    the customer's credit to its other open invoices. The ISP's admin or accountant only, with a reason;
    all credit notes on one invoice together cancel at most ``max_discount_percent`` of it (a larger
    correction is a void). Audited in the same transaction."""
    customer = Subscriber.objects.select_related("owner").get(pk=invoice.customer_id)
    authority.authorize(actor, Act.CREDIT_NOTE, node=customer.owner)
    why = reason_required(reason)
    if amount <= 0:
        raise ValidationError({"amount": "The amount must be positive."})

    def work() -> CreditNote:
        customer = customer_lock(invoice.customer_id)
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise ValidationError({"invoice": f"{locked} is {locked.status}: nothing to credit."})
        credited = sum(CreditNote.objects.filter(invoice=locked).values_list("total", flat=True))
        if amount > locked.total - credited:
            raise ValidationError({"amount": f"At most {(locked.total - credited) / 100:.2f} can still be credited "
                                             f"on {locked}."})
        bound = billing_settings().max_discount_percent
        allowed = percent_of(locked.total, bound)
        if credited + amount > allowed:
            raise ValidationError({"amount": f"Credit notes may cancel at most {bound} % of {locked} "
                                             f"({allowed / 100:.2f}); void the invoice instead."})
        net, tax = credit_split(invoice=locked, total=amount)
        note = credit_note_issue(customer=customer, invoice=locked, net=net, tax=tax, reason=why,
                                 actor_id=actor_id(actor), income=invoice_income(locked))
        _audit(actor=actor, obj=locked, object_type="invoice", action=AuditAction.UPDATE, reason=why,
               changes={"amount_credited": [credited, credited + amount], "credit_note": [None, note.number]})
        credits_apply(customer=customer, first=[locked.pk])
        return note

    return money_atomic(work)
