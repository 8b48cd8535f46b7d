"""The set-based monthly run of one ISP: every plain period invoice due on a day, with its line, journal
entry and postings, in a few INSERT ... SELECT statements and one money transaction.

It repeats the rules of the one-by-one path in SQL (``amounts.line_amounts`` without promo, the price of
``ledger.pricing.customer_price``, the tax rate of ``documents.tax_rate_for``, the period of
``amounts.period_to_invoice``, the legs of ``documents.invoice_legs``); tests/billing/test_bulk.py checks
both paths give the same invoices, lines and postings. Customers it does not handle — a pending promo, a
credit to apply, a zero total, a package not offered by their owner, a postpaid customer with a package
change recorded in or after its period (its invoice splits per package segment) — are left to the one-by-one path
(``services.invoice_issue_for_period``), which ``monthly_run`` calls for them afterwards.

Ids are drawn from the sequences up front so each invoice, its line, its entry and its postings can be
inserted by separate statements that refer to each other; the numbers are taken from the counter row
(locked until commit) in one UPDATE: gapless, in customer-id order. Lines go in just before their invoices
(foreign keys are checked at commit; migration 0003), so invoices are inserted already issued.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connection

from ledger.billing.amounts import add_months
from ledger.billing.documents import INVOICE_SERIES, billing_settings
from ledger.journal import accounts_lock, isp_account, ledger_currency, money_atomic
from ledger.models import AccountKind
from tenants.db import schema_current
from tenants.models import Tenant

CANDIDATES = """
CREATE TEMP TABLE billing_bulk ON COMMIT DROP AS
WITH due AS (
    SELECT s.id AS customer_id, s.owner_id, s.package_id, s.username, p.name AS package_name, f.start_date, f.terms,
           CASE WHEN f.terms = 'prepaid' THEN %(prepaid_start)s::date ELSE %(postpaid_start)s::date END AS period_start,
           CASE WHEN f.terms = 'prepaid' THEN %(prepaid_end)s::date ELSE %(postpaid_end)s::date END AS period_end,
           (COALESCE(s.special_price, CASE WHEN o.depth = 0 THEN p.price ELSE a.price END) * 100)::bigint AS price,
           (f.discount_percent * 100)::bigint AS discount_bp,
           (COALESCE(t.rate, CASE WHEN p.tax_class = 'exempt' THEN 0 ELSE %(tenant_rate)s END) * 100)::bigint AS tax_bp,
           COALESCE(t.rate, CASE WHEN p.tax_class = 'exempt' THEN 0 ELSE %(tenant_rate)s END) AS tax_rate
      FROM billing_billingprofile f
      JOIN hierarchy_subscriber s ON s.id = f.customer_id
      JOIN hierarchy_operator o ON o.id = s.owner_id
      JOIN hierarchy_package p ON p.id = s.package_id
      LEFT JOIN hierarchy_packageassignment a ON a.operator_id = s.owner_id AND a.package_id = s.package_id
      LEFT JOIN billing_packagetax t ON t.package_id = p.id
     WHERE f.model = 'monthly' AND s.status <> 'disabled'
       AND (CASE WHEN %(calendar_month)s THEN 1 ELSE s.billing_day END) = %(anchor)s
), priced AS (
    SELECT due.*, price AS amount, (price * discount_bp + 5000) / 10000 AS discount FROM due
     WHERE price IS NOT NULL
), taxed AS (
    SELECT priced.*, ((amount - discount) * tax_bp + 5000) / 10000 AS tax FROM priced
)
SELECT taxed.*, amount - discount + tax AS total,
       nextval(%(invoice_seq)s::regclass) AS invoice_id,
       nextval(%(entry_seq)s::regclass) AS entry_id,
       row_number() OVER (ORDER BY customer_id) AS rn
  FROM taxed
 WHERE amount - discount + tax > 0
   AND period_start >= start_date
   AND NOT EXISTS (SELECT 1 FROM billing_invoice i WHERE i.customer_id = taxed.customer_id AND i.kind = 'regular'
                   AND i.period_start = taxed.period_start AND i.status <> 'void')
   AND NOT EXISTS (SELECT 1 FROM billing_promoredemption r WHERE r.customer_id = taxed.customer_id
                   AND r.invoice_id IS NULL)
   AND NOT EXISTS (SELECT 1 FROM ledger_payment pm WHERE pm.customer_id = taxed.customer_id
                   AND pm.amount > (SELECT coalesce(sum(x.amount), 0) FROM billing_paymentallocation x
                                     WHERE x.payment_id = pm.id)
                   AND NOT EXISTS (SELECT 1 FROM ledger_journalentry r WHERE r.reversal_of_id = pm.entry_id))
   AND NOT EXISTS (SELECT 1 FROM billing_creditnote c WHERE c.customer_id = taxed.customer_id
                   AND c.total > (SELECT coalesce(sum(x.amount), 0) FROM billing_paymentallocation x
                                   WHERE x.credit_note_id = c.id))
   AND NOT (terms = 'postpaid' AND EXISTS (SELECT 1 FROM billing_packagechange pc
                                            WHERE pc.customer_id = taxed.customer_id
                                              AND pc.effective >= taxed.period_start))
ORDER BY customer_id
"""

STATEMENTS = [
    # Receivable accounts, created the first time (as accounts_lock does one by one).
    """INSERT INTO ledger_account (code, kind, customer_id, currency)
       SELECT 'receivable:c' || customer_id, 'receivable', customer_id, %(currency)s FROM billing_bulk
       ON CONFLICT (code) DO NOTHING""",
    """INSERT INTO ledger_journalentry (id, kind, created, reason, external_reference, customer_id, node_id,
                                        package_id)
       SELECT entry_id, 'invoice', now(),
              left('Invoice to ' || username || ' (regular, ' || to_char(period_start, 'YYYY-MM-DD') || '..'
                   || to_char(period_end, 'YYYY-MM-DD') || ')', 255), '', customer_id, owner_id, package_id
         FROM billing_bulk ORDER BY rn""",
    # One statement for every posting (the balance trigger runs once, per statement).
    """INSERT INTO ledger_posting (entry_id, account_id, currency, debit, credit)
       SELECT b.entry_id, acc.id, %(currency)s, leg.debit, leg.credit
         FROM billing_bulk b
        CROSS JOIN LATERAL (VALUES ('receivable:c' || b.customer_id, b.total, 0::bigint),
                                   (%(revenue)s, 0::bigint, b.amount - b.discount),
                                   (%(tax)s, 0::bigint, b.tax)) AS leg (code, debit, credit)
         JOIN ledger_account acc ON acc.code = leg.code
        WHERE leg.debit > 0 OR leg.credit > 0
        ORDER BY b.rn""",
    """INSERT INTO billing_invoiceline (invoice_id, description, package_id, period_start, period_end, quantity,
                                        unit_price, amount, discount, tax_rate, tax, total, income)
       SELECT invoice_id, left(package_name || ' ' || to_char(period_start, 'DD Mon YYYY') || ' - '
                               || to_char(period_end, 'DD Mon YYYY'), 255),
              package_id, period_start, period_end, 1, price, amount, discount, tax_rate, tax, total, 'sales_revenue'
         FROM billing_bulk ORDER BY rn""",
    # The invoices, already issued: numbered in customer-id order from the counter taken above.
    """INSERT INTO billing_invoice (id, number, sequence, customer_id, owner_id, kind, status, period_start,
                                    period_end, issue_date, due_date, currency, subtotal, discount, tax, total,
                                    amount_paid, amount_credited, entry_id, created)
       SELECT invoice_id, %(prefix)s || lpad((%(first)s + rn - 1)::text, greatest(6, length((%(first)s + rn - 1)::text)), '0'),
              %(first)s + rn - 1, customer_id, owner_id, 'regular', 'open', period_start, period_end, %(today)s,
              %(due)s, %(currency)s, amount, discount, tax, total, 0, 0, entry_id, now()
         FROM billing_bulk ORDER BY rn""",
]


def bulk_params(*, on: datetime.date) -> dict[str, Any] | None:
    """The parameters of the statements for a run on ``on`` (None: nobody is due that day)."""
    settings = billing_settings()
    anchor = 1 if settings.calendar_month else on.day
    if on.day != anchor:
        return None
    rate = Tenant.objects.filter(schema_name=schema_current()).values_list("tax_rate", flat=True).first() or 0
    params: dict[str, Any] = {
        "prepaid_start": on, "prepaid_end": add_months(on, 1) - datetime.timedelta(days=1),
        "postpaid_start": add_months(on, -1), "postpaid_end": on - datetime.timedelta(days=1),
        "tenant_rate": rate, "calendar_month": settings.calendar_month, "anchor": anchor,
        "currency": ledger_currency(), "today": on, "due": on + datetime.timedelta(days=settings.invoice_due_days),
        "revenue": AccountKind.SALES_REVENUE.value, "tax": AccountKind.TAX_PAYABLE.value,
        "prefix": settings.number_prefix, "series": INVOICE_SERIES,
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('billing_invoice', 'id'),"
                       " pg_get_serial_sequence('ledger_journalentry', 'id')")
        params["invoice_seq"], params["entry_seq"] = cursor.fetchone()
    return params


def invoices_issue_bulk(*, on: datetime.date) -> int:
    """Issue the plain period invoices due on ``on`` (customers whose billing day, or the 1st with
    calendar months, is ``on``'s day). Idempotent. Returns how many were issued."""
    found = bulk_params(on=on)
    if found is None:
        return 0
    params = found

    def work() -> int:
        accounts_lock([isp_account(AccountKind.SALES_REVENUE), isp_account(AccountKind.TAX_PAYABLE)])
        with connection.cursor() as cursor:
            cursor.execute(CANDIDATES, params)
            count = cursor.rowcount
            if count <= 0:
                cursor.execute("DROP TABLE billing_bulk")
                return 0
            # The numbers first (the counter row stays locked until commit): gapless, in customer-id order.
            cursor.execute("INSERT INTO billing_documentcounter (series, last) VALUES (%(series)s, 0) "
                           "ON CONFLICT (series) DO NOTHING", params)
            cursor.execute("UPDATE billing_documentcounter SET last = last + %(count)s WHERE series = %(series)s "
                           "RETURNING last", {**params, "count": count})
            first = int(cursor.fetchone()[0]) - count + 1
            for statement in STATEMENTS:
                cursor.execute(statement, {**params, "first": first})
            cursor.execute("DROP TABLE billing_bulk")
        return count

    return money_atomic(work)


LEFTOVERS = """
SELECT s.id FROM billing_billingprofile f JOIN hierarchy_subscriber s ON s.id = f.customer_id
 WHERE f.model = 'monthly' AND s.status <> 'disabled'
   AND (CASE WHEN %(calendar_month)s THEN 1 ELSE s.billing_day END) = %(anchor)s
   AND f.start_date <= CASE WHEN f.terms = 'prepaid' THEN %(prepaid_start)s::date ELSE %(postpaid_start)s::date END
   AND NOT EXISTS (SELECT 1 FROM billing_invoice i WHERE i.customer_id = s.id AND i.kind = 'regular'
                   AND i.status <> 'void' AND i.period_start =
                   CASE WHEN f.terms = 'prepaid' THEN %(prepaid_start)s::date ELSE %(postpaid_start)s::date END)
 ORDER BY s.id
"""


def customers_not_invoiced(*, on: datetime.date) -> list[int]:
    """Customers due on ``on`` still without their period invoice (after the bulk pass: the special cases)."""
    settings = billing_settings()
    anchor = 1 if settings.calendar_month else on.day
    if on.day != anchor:
        return []
    with connection.cursor() as cursor:
        cursor.execute(LEFTOVERS, {"calendar_month": settings.calendar_month, "anchor": anchor,
                                   "prepaid_start": on, "postpaid_start": add_months(on, -1)})
        return [pk for (pk,) in cursor.fetchall()]
