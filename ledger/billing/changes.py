"""Mid-cycle package changes with proration, and switching a customer between monthly and daily billing.

Proration (``amounts.proration``): the period invoice covering the change day is credited for the unused
days (change day included) of what its package line billed after discount, by a credit note on that
invoice; the new package is charged for the same days by a proration invoice. ``package_change_preview``
computes exactly what ``package_change_confirm`` posts, without writing anything.

Postpaid monthly customers are invoiced in arrears, so a change posts no document: it is recorded
(``PackageChange`` with the old and new price) and the arrears invoice of the period splits into one line
per package segment (``services.postpaid_segments``, the same ``line_amounts`` day fraction as the prepaid
charge). Their preview returns those segments (``ChangeQuote.segments``) for the period running on the day.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django.core.exceptions import ValidationError

from hierarchy import authority
from hierarchy.audit import AuditAction, audit_record, diff, snapshot
from hierarchy.authority import Act
from hierarchy.models import Package, Subscriber
from hierarchy.subscribers import subscriber_check_sale, subscriber_update
from ledger.billing.amounts import Proration, Segment, period_containing, proration
from ledger.billing.bounds import actor_id, as_actor, percent_within, reason_required
from ledger.billing.documents import (
    LineSpec,
    billing_settings,
    credit_note_issue,
    credit_split,
    invoice_income,
    invoice_issue,
    invoice_void_locked,
    tax_rate_for,
)
from ledger.billing.documents import tenant_today as _today
from ledger.billing.models import (
    BillingModel,
    BillingProfile,
    CreditNote,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    PackageChange,
    PaymentTerms,
)
from ledger.billing.payments import OPEN_STATUSES, credits_apply, customer_lock
from ledger.billing.services import anchor_day, customer_package_price, postpaid_segments
from ledger.journal import money_atomic


@dataclass(frozen=True)
class ChangeQuote:
    customer_id: int
    old_package_id: int
    new_package_id: int
    on: datetime.date
    invoice_id: int | None  # the period invoice credited (None: nothing to prorate)
    period: tuple[datetime.date, datetime.date] | None
    new_price: int
    new_tax_rate: object
    amounts: Proration | None
    segments: tuple[Segment, ...] = ()  # postpaid: what the period's arrears invoice will bill, per package

    @property
    def postpaid(self) -> bool:
        return bool(self.segments)


def _covering_invoice(customer_id: int, on: datetime.date) -> Invoice | None:
    return (Invoice.objects.filter(customer_id=customer_id, kind=InvoiceKind.REGULAR, period_start__lte=on,
                                   period_end__gte=on).exclude(status=InvoiceStatus.VOID)
            .prefetch_related("lines").order_by("-period_start").first())


def _quote(*, customer: Subscriber, package: Package, on: datetime.date) -> ChangeQuote:
    if package.pk == customer.package_id:
        raise ValidationError({"package": f"{customer.username} is already on {package.name}."})
    subscriber_check_sale(package=package, owner=customer.owner)
    invoice = _covering_invoice(customer.pk, on)
    profile = BillingProfile.objects.filter(customer_id=customer.pk).first()
    new_price = customer_package_price(customer=customer, package=package)
    new_rate = tax_rate_for(package)
    if (profile is not None and profile.terms == PaymentTerms.POSTPAID
            and profile.model == BillingModel.MONTHLY):
        return _postpaid_quote(customer=customer, profile=profile, package=package, on=on, new_price=new_price,
                               new_rate=new_rate)
    if invoice is None or profile is None:
        return ChangeQuote(customer_id=customer.pk, old_package_id=customer.package_id, new_package_id=package.pk,
                           on=on, invoice_id=None, period=None, new_price=new_price, new_tax_rate=new_rate,
                           amounts=None)
    package_lines = [line for line in invoice.lines.all() if line.package_id is not None]
    old_net = sum(line.amount - line.discount for line in package_lines)
    old_rate = package_lines[0].tax_rate if package_lines else new_rate
    amounts = proration(period_start=invoice.period_start, period_end=invoice.period_end, on=on, old_net=old_net,
                        old_tax_rate=old_rate, new_price=new_price, new_tax_rate=new_rate,
                        discount_percent=profile.discount_percent)
    return ChangeQuote(customer_id=customer.pk, old_package_id=customer.package_id, new_package_id=package.pk, on=on,
                       invoice_id=invoice.pk, period=(invoice.period_start, invoice.period_end), new_price=new_price,
                       new_tax_rate=new_rate, amounts=amounts)


def _postpaid_quote(*, customer: Subscriber, profile: BillingProfile, package: Package, on: datetime.date,
                    new_price: int, new_rate: object) -> ChangeQuote:
    latest = (PackageChange.objects.filter(customer_id=customer.pk).order_by("-effective")
              .values_list("effective", flat=True).first())
    if latest is not None and on < latest:
        raise ValidationError({"on": f"{customer.username} already changed package on {latest:%Y-%m-%d}; "
                                     "a change cannot go before it."})
    day = anchor_day(profile=profile, customer=customer, calendar_month=billing_settings().calendar_month)
    period = period_containing(anchor_day=day, on=on)
    segments = postpaid_segments(customer=customer, profile=profile, period=period,
                                 proposed=(on, package, new_price)) or []
    return ChangeQuote(customer_id=customer.pk, old_package_id=customer.package_id, new_package_id=package.pk, on=on,
                       invoice_id=None, period=period, new_price=new_price, new_tax_rate=new_rate, amounts=None,
                       segments=tuple(segments))


def package_change_preview(*, customer: Subscriber, package: Package, on: datetime.date | None = None) -> ChangeQuote:
    """The exact amounts a change on ``on`` (default today) would post; writes nothing."""
    return _quote(customer=customer, package=package, on=on or _today())


def package_change_confirm(*, customer: Subscriber, package: Package, actor: Any,
                           on: datetime.date | None = None) -> PackageChange:
    """Post the proration (credit note on the covering invoice, proration invoice for the new package),
    apply the customer's credit, and change the package through the hierarchy service (which sends the
    CoA after commit) — all in one money transaction. ``Act.PACKAGE_CHANGE`` on the customer's node."""
    owner = customer.owner
    authority.authorize(actor, Act.PACKAGE_CHANGE, node=owner)
    day = on or _today()
    by = actor_id(actor)

    def work() -> PackageChange:
        locked = customer_lock(customer.pk)
        quote = _quote(customer=locked, package=package, on=day)
        old_package = locked.package
        note: CreditNote | None = None
        invoice: Invoice | None = None
        if quote.amounts is not None and quote.period is not None and quote.invoice_id is not None:
            covered = Invoice.objects.select_for_update().get(pk=quote.invoice_id)
            amounts = quote.amounts
            if amounts.credit_total > 0:
                note = credit_note_issue(
                    customer=locked, invoice=covered, net=amounts.credit_net, tax=amounts.credit_tax, actor_id=by,
                    reason=f"Unused {amounts.days_remaining}/{amounts.days_in_period} days of {old_package.name}")
            if amounts.charge.total > 0:
                line = LineSpec(
                    description=f"{package.name} {day:%d %b} - {quote.period[1]:%d %b %Y} "
                                f"({amounts.days_remaining}/{amounts.days_in_period} days)",
                    unit_price=quote.new_price, amounts=amounts.charge, tax_rate=quote.new_tax_rate,  # type: ignore[arg-type]
                    package=package, period=(day, quote.period[1]),
                    quantity=Fraction(amounts.days_remaining, amounts.days_in_period))
                invoice = invoice_issue(customer=locked, kind=InvoiceKind.PRORATION, period=(day, quote.period[1]),
                                        lines=[line], issue_date=day, actor_id=by)
        change = PackageChange.objects.create(
            customer=locked, old_package=old_package, new_package=package, effective=day, credit_note=note,
            invoice=invoice, actor_id=by, old_price=customer_package_price(customer=locked),
            new_price=quote.new_price)
        credits_apply(customer=locked, first=[quote.invoice_id] if quote.invoice_id else [])
        subscriber_update(subscriber=locked, package=package, actor=as_actor(actor))
        return change

    return money_atomic(work)


def billing_model_switch(*, customer: Subscriber, model: str, open_invoices: str | None, reason: str, actor: Any,
                         on: datetime.date | None = None) -> BillingProfile:
    """Move a customer to monthly or daily billing. Its open invoices are handled as the caller says:
    ``void`` (unpaid ones voided with a reversing entry; partly paid ones credited for what is still due)
    or ``keep`` (they stay payable). With open invoices and no choice: refused. Releasing invoices is the
    ISP's money: its admin or accountant only (``Act.BILLING_MODEL_SET``), with a reason, audited in the
    same transaction."""
    authority.authorize(actor, Act.BILLING_MODEL_SET, node=customer.owner)
    why = reason_required(reason)
    if model not in BillingModel.values:
        raise ValidationError({"model": "Choose monthly or daily."})
    if open_invoices not in (None, "void", "keep"):
        raise ValidationError({"open_invoices": "Choose void or keep."})
    day = on or _today()
    by = actor_id(actor)

    def work() -> BillingProfile:
        locked = customer_lock(customer.pk)
        pending = list(Invoice.objects.select_for_update().filter(customer=locked, status__in=OPEN_STATUSES)
                       .order_by("sequence"))
        if pending and open_invoices is None:
            raise ValidationError({"open_invoices": f"{locked.username} has {len(pending)} open invoice(s): "
                                                    "choose void or keep."})
        released: list[str] = []
        if open_invoices == "void":
            for invoice in pending:
                if invoice.amount_paid or invoice.amount_credited:
                    net, tax = credit_split(invoice=invoice, total=invoice.outstanding)
                    credit_note_issue(customer=locked, invoice=invoice, net=net, tax=tax, actor_id=by,
                                      income=invoice_income(invoice),
                                      reason=f"Cancelled on the switch to {model} billing: {why}")
                else:
                    invoice_void_locked(invoice=invoice, reason=f"switch to {model} billing: {why}", actor_id=by)
                released.append(str(invoice))
            credits_apply(customer=locked, first=[inv.pk for inv in pending], extend_validity=False)
        profile, _ = BillingProfile.objects.get_or_create(customer=locked, defaults={"start_date": day})
        before = snapshot(profile, ["model", "start_date"])
        if profile.model != model:
            profile.model = model
            if model == BillingModel.MONTHLY:
                profile.start_date = day
            profile.save(update_fields=["model", "start_date", "updated"])
        audit_record(actor=as_actor(actor), obj=locked, object_type="billing_profile", action=AuditAction.UPDATE,
                     changes={**diff(before, snapshot(profile, ["model", "start_date"])),
                              "released_invoices": released, "reason": why})
        return profile

    return money_atomic(work)


PROFILE_FIELDS = ("terms", "discount_percent", "start_date")


def billing_profile_update(*, customer: Subscriber, reason: str, actor: Any, **fields: Any) -> BillingProfile:
    """Change a customer's terms, standing discount or billing start. A discount is ``Act.DISCOUNT_SET``
    (at most the ISP's ``max_discount_percent``); terms and start date decide which periods are invoiced,
    so they are ``Act.BILLING_MODEL_SET``: the ISP's admin or accountant, with a reason, audited (before
    and after) in the same transaction."""
    unknown = set(fields) - set(PROFILE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in sorted(unknown)})
    if "discount_percent" in fields:
        authority.authorize(actor, Act.DISCOUNT_SET, node=customer.owner)
    if set(fields) - {"discount_percent"}:
        authority.authorize(actor, Act.BILLING_MODEL_SET, node=customer.owner)
    why = reason_required(reason)
    if "discount_percent" in fields:
        discount = Decimal(fields["discount_percent"])
        if not Decimal(0) <= discount <= Decimal(100):
            raise ValidationError({"discount_percent": "A discount is a percent from 0 to 100."})
        percent_within(discount, billing_settings().max_discount_percent, field="discount_percent",
                       what="A standing discount")
    if "terms" in fields and fields["terms"] not in PaymentTerms.values:
        raise ValidationError({"terms": "Choose prepaid or postpaid."})

    def work() -> BillingProfile:
        locked = customer_lock(customer.pk)
        profile, _ = BillingProfile.objects.select_for_update().get_or_create(
            customer=locked, defaults={"start_date": _today()})
        before = snapshot(profile, list(PROFILE_FIELDS))
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.save()
        profile.refresh_from_db()
        audit_record(actor=as_actor(actor), obj=locked, object_type="billing_profile", action=AuditAction.UPDATE,
                     changes={**diff(before, snapshot(profile, list(PROFILE_FIELDS))), "reason": why})
        return profile

    return money_atomic(work)
