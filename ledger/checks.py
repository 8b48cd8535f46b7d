"""Proof that the books hold: conservation per currency, cached balances equal to the postings,
every entry balanced. Used by ``manage.py ledger_check`` and the scheduled Celery task."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection


@dataclass
class LedgerReport:
    schema: str
    totals: dict[str, int] = field(default_factory=dict)  # currency → Σ balances (must be 0)
    drift: list[tuple[str, int, int]] = field(default_factory=list)  # (code, cached, from postings)
    unbalanced: list[int] = field(default_factory=list)  # entry ids

    @property
    def ok(self) -> bool:
        return not self.drift and not self.unbalanced and all(total == 0 for total in self.totals.values())

    def lines(self) -> list[str]:
        out = [f"{self.schema}: {'OK' if self.ok else 'PROBLEMS'}"]
        out += [f"  Σ balances {cur}: {total}" for cur, total in sorted(self.totals.items())]
        out += [f"  drift on {code}: cached {cached}, postings {actual}" for code, cached, actual in self.drift]
        out += [f"  unbalanced entry #{pk}" for pk in self.unbalanced]
        return out


def ledger_check(*, schema: str = "") -> LedgerReport:
    report = LedgerReport(schema=schema or str(getattr(connection, "schema_name", "")))
    with connection.cursor() as cursor:
        cursor.execute("SELECT a.currency, coalesce(sum(b.balance), 0) FROM ledger_account a "
                       "JOIN ledger_accountbalance b ON b.account_id = a.id GROUP BY a.currency")
        report.totals = {cur: int(total) for cur, total in cursor.fetchall()}
        cursor.execute(
            "SELECT a.code, coalesce(b.total, 0), coalesce(p.total, 0) FROM ledger_account a "
            "LEFT JOIN (SELECT account_id, sum(balance) AS total FROM ledger_accountbalance GROUP BY account_id) b "
            "ON b.account_id = a.id "
            "LEFT JOIN (SELECT account_id, sum(debit - credit) AS total FROM ledger_posting GROUP BY account_id) p "
            "ON p.account_id = a.id WHERE coalesce(b.total, 0) <> coalesce(p.total, 0) ORDER BY a.id"
        )
        report.drift = [(code, int(cached), int(actual)) for code, cached, actual in cursor.fetchall()]
        cursor.execute(
            "SELECT entry_id FROM ledger_posting GROUP BY entry_id, currency HAVING sum(debit) <> sum(credit) "
            "UNION SELECT e.id FROM ledger_journalentry e WHERE (SELECT count(*) FROM ledger_posting p "
            "WHERE p.entry_id = e.id) < 2 ORDER BY 1"
        )
        report.unbalanced = [int(pk) for (pk,) in cursor.fetchall()]
    return report
