"""Payments, splits, refunds, settlements, wallets through the service layer (alpha personas)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import Subscriber
from ledger.checks import ledger_check
from ledger.models import JournalEntry, Payment
from ledger.services import (
    AlreadyReversed,
    IdempotencyConflict,
    payment_record,
    payment_refund,
    settlement_record,
)
from ledger.wallets import InsufficientFunds, subscriber_activate, wallet_balance, wallet_topup
from tests.ledger.factories import balance, check_deferred_now

pytestmark = pytest.mark.django_db


def test_payment_splits_up_the_chain(alpha):
    with schema_context(alpha.schema):
        payment, created = payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="bank",
                                          idempotency_key="t-split-1")
        check_deferred_now()
        assert created and payment.amount == 10_000
        assert balance("bank") == 10_000
        # The payment settles (here: pre-pays) the customer's receivable; the ISP owes 30 + 30 commission.
        assert balance(f"receivable:c{alpha.customer.pk}") == -10_000
        assert balance("commission_expense") == 6_000
        assert balance(f"commission_payable:{alpha.reseller.pk}") == -3_000
        assert balance(f"commission_payable:{alpha.sub_reseller.pk}") == -3_000
        assert ledger_check().ok


def test_replay_returns_the_same_payment_and_a_different_payload_conflicts(alpha):
    with schema_context(alpha.schema):
        first, _ = payment_record(actor=SYSTEM, customer=alpha.customer, amount=500, method="cash",
                                  idempotency_key="t-replay")
        again, created = payment_record(actor=SYSTEM, customer=alpha.customer, amount=500, method="cash",
                                        idempotency_key="t-replay")
        assert again.pk == first.pk and not created
        with pytest.raises(IdempotencyConflict):
            payment_record(actor=SYSTEM, customer=alpha.customer, amount=501, method="cash", idempotency_key="t-replay")
        assert Payment.objects.filter(idempotency_key="t-replay").count() == 1


def test_cash_collected_by_a_reseller_is_held_for_the_isp(alpha):
    with schema_context(alpha.schema):
        payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="cash", idempotency_key="t-cash",
                       collector=alpha.sub_reseller)
        held = f"cash_held:{alpha.sub_reseller.pk}"
        assert balance(held) == 10_000  # the sub-reseller owes the ISP the cash …
        assert balance(f"commission_payable:{alpha.sub_reseller.pk}") == -3_000  # … the ISP owes it 30
        settlement_record(actor=SYSTEM, node=alpha.sub_reseller, amount=3_000, direction="netting")
        settlement_record(actor=SYSTEM, node=alpha.sub_reseller, amount=7_000, direction="node_pays", method="cash")
        check_deferred_now()
        assert balance(held) == 0 and balance(f"commission_payable:{alpha.sub_reseller.pk}") == 0
        assert balance("cash") == 7_000


def test_refund_reverses_the_whole_split_once(alpha):
    with schema_context(alpha.schema):
        payment, _ = payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="bank",
                                    idempotency_key="t-refund")
        refund = payment_refund(actor=SYSTEM, payment=payment, reason="customer left")
        check_deferred_now()
        assert refund.reversal_of_id == payment.entry_id
        assert balance("bank") == 0
        assert balance(f"commission_payable:{alpha.reseller.pk}") == 0
        assert balance(f"receivable:c{alpha.customer.pk}") == 0 and balance("commission_expense") == 0
        with pytest.raises(AlreadyReversed):
            payment_refund(actor=SYSTEM, payment=payment)
        assert JournalEntry.objects.filter(reversal_of=payment.entry).count() == 1


def test_bad_amounts_are_refused(alpha):
    with schema_context(alpha.schema):
        for amount in (0, -5):
            with pytest.raises(ValidationError):
                payment_record(actor=SYSTEM, customer=alpha.customer, amount=amount, method="bank",
                               idempotency_key=f"bad{amount}")
        with pytest.raises(ValidationError):
            payment_record(actor=SYSTEM, customer=alpha.customer, amount=5, method="gold", idempotency_key="bad-method")
        assert not JournalEntry.objects.exists()


def test_activation_debits_the_wallet_by_the_owners_cost(alpha):
    with schema_context(alpha.schema):
        wallet_topup(actor=SYSTEM, node=alpha.reseller, amount=50_000, method="bank")
        wallet_topup(actor=SYSTEM, node=alpha.sub_reseller, amount=20_000, method="parent_wallet")
        assert wallet_balance(node=alpha.reseller) == 30_000 and wallet_balance(node=alpha.sub_reseller) == 20_000
        subscriber_activate(actor=SYSTEM, subscriber=alpha.customer)
        check_deferred_now()
        # The sub-reseller's cost is the reseller's price 110; the reseller earns 110 - 100; the ISP 100.
        assert wallet_balance(node=alpha.sub_reseller) == 20_000 - 11_000
        assert balance(f"commission_payable:{alpha.reseller.pk}") == -1_000
        assert balance("sales_revenue") == -10_000
        alpha.customer.refresh_from_db()
        assert alpha.customer.status == "active" and alpha.customer.expires_at is not None


def test_too_little_in_the_wallet_changes_nothing(alpha):
    with schema_context(alpha.schema):
        wallet_topup(actor=SYSTEM, node=alpha.reseller, amount=20_000, method="bank")
        wallet_topup(actor=SYSTEM, node=alpha.sub_reseller, amount=10_000, method="parent_wallet")
        entries = JournalEntry.objects.count()
        paid_until = Subscriber.objects.get(pk=alpha.customer.pk).expires_at
        with pytest.raises(InsufficientFunds, match=r"less than the 110\.00 needed"):
            subscriber_activate(actor=SYSTEM, subscriber=alpha.customer)
        alpha.customer.refresh_from_db()
        assert alpha.customer.expires_at == paid_until
        assert JournalEntry.objects.count() == entries and wallet_balance(node=alpha.sub_reseller) == 10_000
        with pytest.raises(InsufficientFunds):
            wallet_topup(actor=SYSTEM, node=alpha.sub_reseller, amount=10_001, method="parent_wallet")


def test_postpaid_nodes_have_no_wallet(alpha):
    with schema_context(alpha.schema), pytest.raises(ValidationError, match="postpaid"):
        wallet_topup(actor=SYSTEM, node=alpha.sibling, amount=100, method="bank")
