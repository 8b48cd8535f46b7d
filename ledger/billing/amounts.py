"""The arithmetic of billing, in integer minor units (pure: no database).

One rule for every path (the one-by-one services and the set-based SQL of ``bulk.py``, which repeats it
and is tested against it): a percentage of an amount is ``(amount * basis points + 5000) // 10000``
(half up, for amounts >= 0); a line's discount is the customer's standing discount percent of its amount,
then the promo (percent of what is left, or a fixed amount capped by what is left); tax is the line's rate
of the amount after discount. Proration charges ``price * days / days in period``, rounded half up.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor


def basis_points(percent: Decimal) -> int:
    """12.5 % → 1250 (percents carry at most two decimals)."""
    return int(Decimal(percent) * 100)


def percent_of(amount: int, percent: Decimal) -> int:
    if amount < 0:
        raise ValueError("percent_of works on amounts >= 0")
    return (amount * basis_points(percent) + 5000) // 10000


def round_half_up(value: Fraction) -> int:
    return floor(value + Fraction(1, 2))


@dataclass(frozen=True)
class Promo:
    percent: Decimal | None = None
    amount: int | None = None


@dataclass(frozen=True)
class LineAmounts:
    amount: int
    discount: int
    tax: int

    @property
    def total(self) -> int:
        return self.amount - self.discount + self.tax


def line_amounts(*, unit_price: int, tax_rate: Decimal, quantity: Fraction = Fraction(1),
                 discount_percent: Decimal = Decimal("0"), promo: Promo | None = None) -> LineAmounts:
    amount = round_half_up(unit_price * quantity)
    discount = percent_of(amount, discount_percent)
    if promo is not None:
        left = amount - discount
        discount += min(left, percent_of(left, promo.percent) if promo.percent is not None else int(promo.amount or 0))
    return LineAmounts(amount=amount, discount=discount, tax=percent_of(amount - discount, tax_rate))


def add_months(day: date, months: int) -> date:
    """Same day of month ``months`` later (clamped to the month's last day)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_containing(*, anchor_day: int, on: date) -> tuple[date, date]:
    """The billing period [start, end] (end inclusive) running on ``on`` for a customer billed on
    ``anchor_day`` (1-28) of each month."""
    start = date(on.year, on.month, anchor_day)
    if start > on:
        start = add_months(start, -1)
    return start, add_months(start, 1) - timedelta(days=1)


def period_to_invoice(*, anchor_day: int, on: date, prepaid: bool) -> tuple[date, date]:
    """Prepaid customers are invoiced for the period running on ``on`` (in advance); postpaid ones for the
    last period that ended before it (in arrears)."""
    start, end = period_containing(anchor_day=anchor_day, on=on)
    if prepaid:
        return start, end
    return add_months(start, -1), start - timedelta(days=1)


@dataclass(frozen=True)
class Proration:
    days_in_period: int
    days_remaining: int
    credit_net: int  # unused part of the old package (after discount), before tax
    credit_tax: int
    charge: LineAmounts  # the new package for the remaining days

    @property
    def credit_total(self) -> int:
        return self.credit_net + self.credit_tax

    @property
    def net_total(self) -> int:
        """What the customer owes because of the change (negative: what it gets back)."""
        return self.charge.total - self.credit_total


def proration(*, period_start: date, period_end: date, on: date, old_net: int, old_tax_rate: Decimal,
              new_price: int, new_tax_rate: Decimal, discount_percent: Decimal) -> Proration:
    """Credit the unused days (``on`` .. end, inclusive) of what the old package's line billed after its
    discount, and charge the new package's price for the same days with the customer's discount."""
    if not period_start <= on <= period_end:
        raise ValueError("the change must fall inside the period")
    days = (period_end - period_start).days + 1
    remaining = (period_end - on).days + 1
    fraction = Fraction(remaining, days)
    credit_net = round_half_up(old_net * fraction)
    charge = line_amounts(unit_price=new_price, quantity=fraction, tax_rate=new_tax_rate,
                          discount_percent=discount_percent)
    return Proration(days_in_period=days, days_remaining=remaining, credit_net=credit_net,
                     credit_tax=percent_of(credit_net, old_tax_rate), charge=charge)


@dataclass(frozen=True)
class Segment:
    """A part of a postpaid period billed at one package: ``start`` .. ``end`` inclusive."""

    package_id: int
    start: date
    end: date
    days: int
    days_in_period: int
    unit_price: int
    tax_rate: Decimal
    amounts: LineAmounts


def period_segments(*, period_start: date, period_end: date, initial: tuple[int, int, Decimal],
                    changes: list[tuple[date, int, int, Decimal]], discount_percent: Decimal) -> list[Segment]:
    """Split a period billed in arrears at the package changes inside it. ``initial`` is (package id, price,
    tax rate) in force on ``period_start``; each change is (effective day, new package id, new price, new tax
    rate), in order, the new package billed from its effective day on (a change on the first day replaces
    ``initial``). Each segment is charged as the prepaid
    proration charges the new package (``line_amounts`` with quantity days / days in period, rounded half up
    per segment, then the discount and tax per segment), so the segments can differ from a whole-period line
    by a cent of rounding. Segments of zero days (two changes on one day) are left out."""
    days_in_period = (period_end - period_start).days + 1
    points = [(period_start, *initial)] + [c for c in changes if period_start <= c[0] <= period_end]
    segments = []
    for index, (start, package_id, price, rate) in enumerate(points):
        end = points[index + 1][0] - timedelta(days=1) if index + 1 < len(points) else period_end
        days = (end - start).days + 1
        if days <= 0:
            continue
        segments.append(Segment(
            package_id=package_id, start=start, end=end, days=days, days_in_period=days_in_period, unit_price=price,
            tax_rate=rate, amounts=line_amounts(unit_price=price, quantity=Fraction(days, days_in_period),
                                                tax_rate=rate, discount_percent=discount_percent)))
    return segments
