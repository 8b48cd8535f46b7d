"""Property-based: random trees, shares, prices and sequences of payments, refunds, top-ups and activations.

After every step: the trial balance is zero and cached balances equal the postings (ledger_check), every
entry balances (deferred triggers fired), no prepaid wallet is below zero, and
Σ receivable credits = Σ payments - Σ refunds; Σ commissions payable = the ISP's commission expense."""

from __future__ import annotations

import contextlib
import itertools
from decimal import Decimal

import pytest
from django.db.models import Sum
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hierarchy.audit import SYSTEM
from hierarchy.models import Package
from hierarchy.services import operator_root
from ledger.checks import ledger_check
from ledger.journal import CreditLimitExceeded
from ledger.models import Account, AccountBalance, AccountKind, Posting, account_balance
from ledger.services import payment_record, payment_refund
from ledger.wallets import (
    InsufficientFunds,
    node_owed,
    subscriber_activate,
    wallet_balance,
    wallet_topup,
)
from tests.ledger.factories import assign_down, check_deferred_now, customer, node

pytestmark = pytest.mark.django_db

_packages = itertools.count(1)
shares = st.decimals(min_value=0, max_value=100, places=2)
money = st.integers(min_value=1, max_value=50_000)


def _build(data):
    root = operator_root()
    package = Package.objects.create(name=f"prop-{next(_packages)}", type="pppoe", download_kbps=1, upload_kbps=1,
                                     price=Decimal(data.draw(money, "master")) / 100)
    nodes = [root]
    for _ in range(data.draw(st.integers(1, 5), "nodes")):
        parent = data.draw(st.sampled_from([n for n in nodes if n.depth < 3]), "parent")
        child = node(parent, share=str(data.draw(shares, "share")), prepaid=data.draw(st.booleans(), "prepaid"),
                     credit=str(Decimal(data.draw(st.integers(0, 100_000), "credit")) / 100))
        parent_price = (package.price if parent.depth == 0 else
                        parent.package_assignments.get(package=package).price)
        markup = Decimal(data.draw(st.integers(0, 5_000), "markup")) / 100
        mode = data.draw(st.sampled_from(["share", "price_difference"]), "mode")
        assign_down(package, [child], [str(parent_price + markup)], mode=mode)
        nodes.append(child)
    customers = [customer(data.draw(st.sampled_from(nodes), "owner"), package)
                 for _ in range(data.draw(st.integers(1, 3), "customers"))]
    return nodes, customers


def _sum_effect(entry_ids: list[int], kinds: list[str]) -> int:
    totals = Posting.objects.filter(entry_id__in=entry_ids, account__kind__in=kinds).aggregate(
        d=Sum("debit"), c=Sum("credit"))
    return (totals["c"] or 0) - (totals["d"] or 0)


def _assert_books(entry_ids: list[int], paid: int, refunded: int) -> None:
    check_deferred_now()
    report = ledger_check()
    assert report.ok, report.lines()
    assert not AccountBalance.objects.filter(account__kind=AccountKind.WALLET, balance__gt=0).exists()
    # No postpaid node owes more than its credit limit.
    for account in Account.objects.with_balance().filter(kind=AccountKind.NODE_RECEIVABLE).select_related("owner"):
        assert account.owner is not None and account_balance(account) <= account.owner.credit_limit * 100, account.code
    # Payments (net of refunds) settle the customers' receivables, and every commission owed to a node is
    # the ISP's commission expense.
    assert _sum_effect(entry_ids, [AccountKind.RECEIVABLE]) == paid - refunded
    commissions = _sum_effect(entry_ids, [AccountKind.COMMISSION_PAYABLE])
    assert commissions == -_sum_effect(entry_ids, [AccountKind.COMMISSION_EXPENSE])
    assert 0 <= commissions <= paid - refunded


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_trees_and_operations_keep_the_books(alpha, data):
    with schema_context(alpha.schema):
        nodes, customers = _build(data)
        resellers = [n for n in nodes if n.depth > 0]
        payments = []
        entry_ids: list[int] = []
        paid = refunded = 0
        for step in range(data.draw(st.integers(1, 10), "steps")):
            op = data.draw(st.sampled_from(["pay", "refund", "topup", "activate"]), "op")
            if op == "pay":
                amount = data.draw(money, "amount")
                method = data.draw(st.sampled_from(["cash", "bank", "stripe"]), "method")
                collector = data.draw(st.sampled_from(nodes), "collector")
                payment, _ = payment_record(actor=SYSTEM, customer=data.draw(st.sampled_from(customers), "customer"),
                                            amount=amount,
                                            method=method, idempotency_key=f"prop-{next(_packages)}-{step}",
                                            collector=collector)
                payments.append(payment)
                entry_ids.append(payment.entry_id)
                paid += amount
            elif op == "refund" and payments:
                payment = data.draw(st.sampled_from(payments), "refund_of")
                if not hasattr(payment.entry, "reversed_by"):
                    entry_ids.append(payment_refund(actor=SYSTEM, payment=payment).pk)
                    refunded += payment.amount
                    payment.entry.refresh_from_db()
            elif op == "topup":
                target = data.draw(st.sampled_from(resellers), "target")
                if target.billing_mode == "prepaid":
                    method = "bank" if target.depth == 1 else data.draw(st.sampled_from(["bank", "parent_wallet"]))
                    with contextlib.suppress(InsufficientFunds):
                        wallet_topup(actor=SYSTEM, node=target, amount=data.draw(money, "topup"), method=method)
            elif op == "activate":
                subscriber = data.draw(st.sampled_from(customers), "activate")
                before = wallet_balance(node=subscriber.owner), node_owed(node=subscriber.owner)
                try:
                    subscriber_activate(actor=SYSTEM, subscriber=subscriber)
                except (InsufficientFunds, CreditLimitExceeded):  # a prepaid wallet's floor, a postpaid's limit
                    assert (wallet_balance(node=subscriber.owner), node_owed(node=subscriber.owner)) == before
            _assert_books(entry_ids, paid, refunded)
