"""Issuing invoices and credit notes, and voiding invoices. Callers run these inside a money transaction
(``ledger.journal.money_atomic``): the document, its number and its journal entry commit together.

An invoice posts Dr the customer's receivable (total) / Cr sales revenue or late-fee income (net after
discount) / Cr tax payable (tax). A credit note posts the mirror image for its amount; a void posts the
exact reversal of the invoice's entry (``reversal_of``), keeping the invoice's number.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from hierarchy.models import Package, Subscriber
from ledger.billing.amounts import LineAmounts, round_half_up
from ledger.billing.models import (
    BillingSettings,
    CreditNote,
    IncomeKind,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from ledger.journal import AccountRef, Leg, customer_account, entry_post, isp_account, ledger_currency
from ledger.models import AccountKind, JournalEntry
from tenants.db import schema_current
from tenants.models import Tenant

INVOICE_SERIES = "invoice"
CREDIT_NOTE_SERIES = "credit_note"


def billing_settings() -> BillingSettings:
    found = BillingSettings.objects.first()
    if found is None:
        BillingSettings.objects.bulk_create([BillingSettings()], ignore_conflicts=True)
        found = BillingSettings.objects.get()
    return found


def tenant_timezone() -> ZoneInfo:
    name = Tenant.objects.filter(schema_name=schema_current()).values_list("timezone", flat=True).first()
    return ZoneInfo(name or "UTC")


def tenant_today() -> datetime.date:
    return timezone.now().astimezone(tenant_timezone()).date()


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of ``day`` in the ISP's time zone."""
    return datetime.datetime.combine(day, datetime.time(), tzinfo=tenant_timezone())


def tax_rate_for(package: Package) -> Decimal:
    """The package's own rate, else 0 for exempt packages, else the ISP's rate."""
    own = getattr(package, "billing_tax", None) if hasattr(package, "billing_tax") else None
    if own is not None:
        return Decimal(own.rate)
    if package.tax_class == "exempt":
        return Decimal("0")
    rate = Tenant.objects.filter(schema_name=schema_current()).values_list("tax_rate", flat=True).first()
    return Decimal(rate or 0)


def counter_take(series: str, count: int = 1) -> int:
    """Reserve ``count`` numbers of the series; returns the first. The counter row stays locked until the
    transaction ends, and a rollback gives the numbers back: no gaps."""
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO billing_documentcounter (series, last) VALUES (%s, 0) "
                       "ON CONFLICT (series) DO NOTHING", [series])
        cursor.execute("UPDATE billing_documentcounter SET last = last + %s WHERE series = %s RETURNING last",
                       [count, series])
        last = int(cursor.fetchone()[0])
    return last - count + 1


@dataclass(frozen=True)
class LineSpec:
    description: str
    unit_price: int
    amounts: LineAmounts
    tax_rate: Decimal
    quantity: Fraction = Fraction(1)
    package: Package | None = None
    period: tuple[datetime.date, datetime.date] | None = None
    income: str = IncomeKind.SALES


def invoice_legs(*, customer_id: int, lines: Sequence[LineSpec]) -> list[Leg]:
    income: dict[str, int] = {}
    for line in lines:
        income[line.income] = income.get(line.income, 0) + line.amounts.amount - line.amounts.discount
    tax = sum(line.amounts.tax for line in lines)
    total = sum(income.values()) + tax
    legs = [Leg(customer_account(customer_id), total), Leg(isp_account(AccountKind.TAX_PAYABLE), -tax)]
    legs += [Leg(isp_account(AccountKind(kind)), -amount) for kind, amount in sorted(income.items())]
    return legs


def invoice_issue(
    *, customer: Subscriber, kind: str, period: tuple[datetime.date, datetime.date], lines: Sequence[LineSpec],
    issue_date: datetime.date, actor_id: int | None = None,
) -> Invoice:
    """Write an invoice with its lines, number it and post its entry (inside a money transaction)."""
    settings = billing_settings()
    subtotal = sum(line.amounts.amount for line in lines)
    discount = sum(line.amounts.discount for line in lines)
    tax = sum(line.amounts.tax for line in lines)
    total = subtotal - discount + tax
    entry = None
    if total > 0:
        package_id = next((line.package.pk for line in lines if line.package is not None), None)
        entry = entry_post(kind="invoice", legs=invoice_legs(customer_id=customer.pk, lines=lines),
                           actor_id=actor_id, customer_id=customer.pk, node_id=customer.owner_id, package_id=package_id,
                           reason=f"Invoice to {customer.username} ({kind}, {period[0]:%Y-%m-%d}..{period[1]:%Y-%m-%d})")
    invoice = Invoice.objects.create(
        customer=customer, owner_id=customer.owner_id, kind=kind, status=InvoiceStatus.DRAFT,
        period_start=period[0], period_end=period[1], issue_date=issue_date,
        due_date=issue_date + datetime.timedelta(days=settings.invoice_due_days),
        currency=ledger_currency(), subtotal=subtotal, discount=discount, tax=tax, total=total, entry=entry,
    )
    InvoiceLine.objects.bulk_create([
        InvoiceLine(invoice=invoice, description=line.description[:255], package=line.package,
                    period_start=line.period[0] if line.period else None,
                    period_end=line.period[1] if line.period else None,
                    quantity=Decimal(line.quantity.numerator) / Decimal(line.quantity.denominator),
                    unit_price=line.unit_price, amount=line.amounts.amount, discount=line.amounts.discount,
                    tax_rate=line.tax_rate, tax=line.amounts.tax, total=line.amounts.total, income=line.income)
        for line in lines
    ])
    sequence = counter_take(INVOICE_SERIES)
    invoice.sequence = sequence
    invoice.number = f"{settings.number_prefix}{sequence:06d}"
    invoice.status = InvoiceStatus.OPEN
    # A zero invoice (fully discounted) is settled at once.
    Invoice.objects.filter(pk=invoice.pk).update(
        sequence=sequence, number=invoice.number,
        status=InvoiceStatus.OPEN if total > 0 else InvoiceStatus.PAID,
    )
    invoice.refresh_from_db()
    return invoice


def credit_note_issue(
    *, customer: Subscriber, invoice: Invoice | None, net: int, tax: int, reason: str, actor_id: int | None = None,
    income: str = IncomeKind.SALES,
) -> CreditNote:
    """Post a credit note (Dr income, Dr tax payable / Cr receivable). The database refuses credit notes
    on an invoice beyond its total. Applying it to invoices is ``payments.credits_apply``'s job."""
    if net < 0 or tax < 0 or net + tax <= 0:
        raise ValidationError({"amount": "A credit note is for a positive amount."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the customer is credited."})
    legs = [Leg(isp_account(AccountKind(income)), net), Leg(isp_account(AccountKind.TAX_PAYABLE), tax),
            Leg(customer_account(customer.pk), -(net + tax))]
    label = f" on {invoice.number}" if invoice is not None else ""
    package_id = invoice.lines.exclude(package=None).values_list("package_id", flat=True).first() if invoice else None
    entry = entry_post(kind="credit_note", legs=legs, actor_id=actor_id, customer_id=customer.pk,
                       node_id=invoice.owner_id if invoice else customer.owner_id, package_id=package_id,
                       reason=f"Credit note to {customer.username}{label}: {reason}")
    settings = billing_settings()
    sequence = counter_take(CREDIT_NOTE_SERIES)
    return CreditNote.objects.create(
        number=f"{settings.credit_note_prefix}{sequence:06d}", sequence=sequence, customer=customer, invoice=invoice,
        net=net, tax=tax, total=net + tax, income=income, reason=reason[:255], entry=entry, actor_id=actor_id,
    )


def credit_split(*, invoice: Invoice, total: int) -> tuple[int, int]:
    """(net, tax) of a credit of ``total`` on an invoice, tax in the invoice's proportion."""
    if invoice.total <= 0:
        return total, 0
    tax = round_half_up(Fraction(total * invoice.tax, invoice.total))
    return total - tax, tax


def invoice_income(invoice: Invoice) -> str:
    return IncomeKind.LATE_FEE if invoice.kind == InvoiceKind.LATE_FEE else IncomeKind.SALES


def invoice_void_locked(*, invoice: Invoice, reason: str, actor_id: int | None = None) -> Invoice:
    """Void an invoice nothing was paid or credited on: post the reversal of its entry (inside a money
    transaction; ``invoice`` must be locked by the caller). The number stays taken."""
    if invoice.status == InvoiceStatus.VOID:
        raise ValidationError({"status": f"{invoice} is already void."})
    if invoice.amount_paid or invoice.amount_credited:
        raise ValidationError({"status": f"{invoice} has payments or credits applied; issue a credit note for "
                                         "what is still due instead of voiding it."})
    reversal = None
    if invoice.entry_id is not None:
        original = JournalEntry.objects.get(pk=invoice.entry_id)
        legs = [Leg(AccountRef(code=code, kind=kind, owner_id=owner_id, customer_id=customer_id), credit - debit)
                for code, kind, owner_id, customer_id, debit, credit in original.postings.values_list(
                    "account__code", "account__kind", "account__owner_id", "account__customer_id", "debit", "credit")]
        reversal = entry_post(kind="reversal", legs=legs, actor_id=actor_id, reversal_of=original,
                              customer_id=original.customer_id, node_id=original.node_id,
                              package_id=original.package_id,
                              reason=f"Void of invoice {invoice}: {reason}"[:255])
    Invoice.objects.filter(pk=invoice.pk).update(status=InvoiceStatus.VOID, void_entry=reversal)
    invoice.refresh_from_db()
    return invoice
