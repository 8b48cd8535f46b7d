"""Money may only enter through someone who holds it (issue 15), tried as an attacker would: through the API
as each role, and by calling the services directly. Every refused attempt changes nothing
(tests.support.attacks.nothing_changes: no journal entry, books balanced, no expiry or status moved)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.audit import SYSTEM, Actor
from hierarchy.authority import Act
from hierarchy.models import BillingMode, Operator, PackageAssignment, Subscriber
from hierarchy.services import operator_create
from ledger.checks import ledger_check
from ledger.journal import CreditLimitExceeded, Leg, entry_post, isp_account, money_atomic, node_account
from ledger.models import Account, AccountBalance, AccountKind, EntryKind, JournalEntry, Payment, account_balance
from ledger.services import manual_entry_record, payment_record, payment_refund, settlement_record
from ledger.wallets import node_owed, subscriber_activate, wallet_balance, wallet_topup
from tenants.db import schema_use_tenant
from tests.ledger.factories import balance, check_deferred_now, credit_grant
from tests.ledger.test_api import api, pay
from tests.support.attacks import nothing_changes, staff
from tests.support.personas import Isp

pytestmark = pytest.mark.django_db

JSON = "application/json"


def _login(isp: Isp, who: str) -> User:
    """A persona's login, or a staff login of ``role@node`` (node: root, reseller, sub_reseller)."""
    if who in ("reseller", "sub_reseller", "sibling"):
        return getattr(isp, f"{who}_user")
    role, _, node = who.partition("@")
    with schema_context(isp.schema):
        return staff(isp, role, getattr(isp, node or "root"))


def _refused_over_api(isp: Isp, response: Any, status: int = 403) -> None:
    schema_use_tenant(isp.tenant)  # the request left the connection on the public schema
    assert response.status_code == status, response.content
    assert "detail" in response.json() or "errors" in response.json()


# --- bank and gateway money: only the ISP's admin and accountant -------------------------------------------

NOT_MONEY_ROLES = ["reseller", "sub_reseller", "manager@root", "manager@reseller", "accountant@reseller",
                   "support@root", "card_distributor@reseller"]


@pytest.mark.parametrize("method", ["bank", "stripe"])
@pytest.mark.parametrize("who", NOT_MONEY_ROLES)
def test_no_bank_or_stripe_payment_below_the_isps_money_roles(alpha, who, method):
    client = api(alpha, _login(alpha, who))
    with schema_context(alpha.schema), nothing_changes():
        response = pay(client, alpha.customer.pk, amount="120.00", method=method, key=f"forged-{who}-{method}")
        _refused_over_api(alpha, response)
        assert not Payment.objects.exists()


@pytest.mark.parametrize("who", ["admin", "accountant@root"])
def test_the_isps_money_roles_record_bank_and_stripe_with_their_name_on_the_entry(alpha, who):
    user = alpha.admin if who == "admin" else _login(alpha, who)
    client = api(alpha, user)
    for method in ("bank", "stripe"):
        response = pay(client, alpha.customer.pk, method=method, key=f"isp-{who}-{method}")
        assert response.status_code == 201, response.content
        assert response.json()["collector"] is None
        with schema_context(alpha.schema):
            assert JournalEntry.objects.get(pk=response.json()["entry"]).actor_id == user.pk


@pytest.mark.parametrize("who", ["reseller", "manager@root", "accountant@reseller", "support@root"])
def test_services_refuse_bank_money_from_a_login_that_does_not_hold_it(alpha, who):
    user = _login(alpha, who)
    with schema_context(alpha.schema), nothing_changes():
        for method in ("bank", "stripe"):
            with pytest.raises(PermissionDenied):
                payment_record(customer=alpha.customer, amount=12_000, method=method, idempotency_key=f"svc-{method}",
                               actor=Actor(user=user, ip="203.0.113.9"))


def test_the_verified_webhook_records_stripe_money_as_the_system(alpha):
    with schema_context(alpha.schema):
        payment, created = payment_record(customer=alpha.customer, amount=12_000, method="stripe",
                                          idempotency_key="stripe:pi_sys", actor=SYSTEM)
        assert created and payment.collector is None and payment.entry.actor_id is None


# --- cash: recorded against the collecting login's own node ---------------------------------------------------

def test_a_sub_resellers_cash_lands_on_its_own_cash_held(alpha):
    client = api(alpha, alpha.sub_reseller_user)
    # A collector named in the body is not the API's to choose: the login's own node holds the cash.
    response = client.post("/api/v1/payments/", {"customer": alpha.customer.pk, "amount": "120.00", "method": "cash",
                                                 "collector": alpha.root.pk},
                           content_type=JSON, HTTP_IDEMPOTENCY_KEY="sub-cash")
    assert response.status_code == 201, response.content
    assert response.json()["collector"] == alpha.sub_reseller.pk
    with schema_context(alpha.schema):
        assert balance(f"cash_held:{alpha.sub_reseller.pk}") == 12_000
        assert balance("cash") == 0  # nothing in the ISP's till
        assert JournalEntry.objects.get(pk=response.json()["entry"]).actor_id == alpha.sub_reseller_user.pk


@pytest.mark.parametrize("who", ["manager@reseller", "accountant@reseller"])
def test_any_login_of_a_reseller_node_holds_the_cash_it_takes(alpha, who):
    user = _login(alpha, who)
    response = pay(api(alpha, user), alpha.customer.pk, amount="50.00", method="cash", key=f"cash-{who}")
    assert response.status_code == 201, response.content
    assert response.json()["collector"] == alpha.reseller.pk
    with schema_context(alpha.schema):
        assert balance(f"cash_held:{alpha.reseller.pk}") == 5_000


def test_a_login_cannot_book_its_cash_on_another_node(alpha):
    with schema_context(alpha.schema), nothing_changes():
        for collector in (alpha.root, alpha.reseller):  # the ISP's till, its parent's liability
            with pytest.raises(PermissionDenied):
                payment_record(customer=alpha.customer, amount=12_000, method="cash", idempotency_key="elsewhere",
                               actor=alpha.sub_reseller_user, collector=collector)


def test_a_sibling_takes_no_payment_for_a_customer_outside_its_tree(alpha):
    client = api(alpha, alpha.sibling_user)
    with schema_context(alpha.schema), nothing_changes():
        _refused_over_api(alpha, pay(client, alpha.customer.pk, method="cash", key="sib-cash"), status=400)
        with pytest.raises(PermissionDenied):
            payment_record(customer=alpha.customer, amount=100, method="cash", idempotency_key="sib-svc",
                           actor=alpha.sibling_user)


# --- wallets -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", [None, "bank", "cash"])
def test_a_manager_tops_up_no_wallet(alpha, method):
    client = api(alpha, _login(alpha, "manager@root"))
    body = {"amount": "500.00", **({"method": method} if method else {})}
    with schema_context(alpha.schema), nothing_changes():
        _refused_over_api(alpha, client.post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", body, content_type=JSON))
        assert wallet_balance(node=alpha.reseller) == 0


@pytest.mark.parametrize("method", [None, "bank", "parent_wallet"])
def test_a_card_distributor_moves_no_wallet_money(alpha, method):
    with schema_context(alpha.schema):
        wallet_topup(node=alpha.reseller, amount=50_000, method="bank", actor=SYSTEM)
    distributor = _login(alpha, "card_distributor@reseller")
    body = {"amount": "10.00", **({"method": method} if method else {})}
    with schema_context(alpha.schema), nothing_changes():
        response = api(alpha, distributor).post(f"/api/v1/operators/{alpha.sub_reseller.pk}/topup/", body,
                                                content_type=JSON)
        _refused_over_api(alpha, response)
        with pytest.raises(PermissionDenied):
            wallet_topup(node=alpha.sub_reseller, amount=1_000, method="parent_wallet", actor=distributor)
        assert wallet_balance(node=alpha.sub_reseller) == 0 and wallet_balance(node=alpha.reseller) == 50_000


def test_a_reseller_deposits_nothing_by_bank_and_transfers_only_to_its_direct_children(alpha):
    with schema_context(alpha.schema):
        wallet_topup(node=alpha.reseller, amount=50_000, method="bank", actor=SYSTEM)
        wallet_topup(node=alpha.sub_reseller, amount=20_000, method="parent_wallet", actor=SYSTEM)
        grandchild = operator_create(actor=SYSTEM, parent=alpha.sub_reseller, name="Grandchild",
                                     billing_mode=BillingMode.PREPAID, share_percent=Decimal("50"))
    client = api(alpha, alpha.reseller_user)
    with schema_context(alpha.schema), nothing_changes():
        response = client.post(f"/api/v1/operators/{alpha.sub_reseller.pk}/topup/",
                               {"amount": "10.00", "method": "bank"}, content_type=JSON)
        _refused_over_api(alpha, response)
        # Two levels down: the sub-reseller's wallet pays its own children, not the reseller's.
        _refused_over_api(alpha, client.post(f"/api/v1/operators/{grandchild.pk}/topup/", {"amount": "10.00"},
                                             content_type=JSON))
        with pytest.raises(PermissionDenied):
            wallet_topup(node=grandchild, amount=1_000, method="parent_wallet", actor=alpha.reseller_user)
    response = api(alpha, alpha.sub_reseller_user).post(f"/api/v1/operators/{grandchild.pk}/topup/",
                                                        {"amount": "10.00"}, content_type=JSON)
    assert response.status_code == 201 and response.json()["method"] == "parent_wallet"


def test_the_isps_accountant_records_deposits(alpha):
    accountant = _login(alpha, "accountant@root")
    response = api(alpha, accountant).post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", {"amount": "25.00"},
                                           content_type=JSON)
    assert response.status_code == 201 and response.json()["method"] == "bank"
    with schema_context(alpha.schema):
        assert JournalEntry.objects.get(pk=response.json()["entry"]).actor_id == accountant.pk


# --- refunds, settlements, manual entries: the ISP's admin and accountant -----------------------------------

@pytest.mark.parametrize("who", ["manager@root", "reseller", "support@root"])
def test_refunds_settlements_and_manual_entries_are_the_isps_money_roles(alpha, who):
    with schema_context(alpha.schema):
        payment, _ = payment_record(customer=alpha.customer, amount=10_000, method="cash", idempotency_key="r-1",
                                    actor=alpha.sub_reseller_user)
    user = _login(alpha, who)
    client = api(alpha, user)
    with schema_context(alpha.schema), nothing_changes():
        _refused_over_api(alpha, client.post(f"/api/v1/payments/{payment.pk}/refund/", {}, content_type=JSON),
                          status=404 if who == "support@root" else 403)  # support does not even see it
        _refused_over_api(alpha, client.post("/api/v1/ledger/settlements/", {
            "node": alpha.sub_reseller.pk, "direction": "node_pays", "amount": "100.00"}, content_type=JSON))
        _refused_over_api(alpha, client.post("/api/v1/ledger/entries/", {"reason": "x", "lines": [
            {"account": "cash", "debit": "1.00"}, {"account": "other_income", "credit": "1.00"}]}, content_type=JSON))
        payment = Payment.objects.select_related("customer__owner", "entry").get(pk=payment.pk)
        with pytest.raises(PermissionDenied):
            payment_refund(payment=payment, actor=user)
        with pytest.raises(PermissionDenied):
            settlement_record(node=alpha.sub_reseller, amount=10_000, direction="node_pays", actor=user)
        with pytest.raises(PermissionDenied):
            manual_entry_record(lines=[("cash", 100), ("other_income", -100)], reason="x", actor=user)


def test_support_sees_nothing_financial(alpha):
    with schema_context(alpha.schema):
        payment_record(customer=alpha.customer, amount=10_000, method="cash", idempotency_key="seen",
                       actor=alpha.sub_reseller_user)
    client = api(alpha, _login(alpha, "support@root"))
    for url in ("payments/", "ledger/accounts/", "ledger/entries/", "ledger/settlements/", "reports/trial-balance/",
                "reports/revenue/", "reports/commissions/", "reports/cash-collected/"):
        response = client.get(f"/api/v1/{url}")
        assert response.status_code == 403 and response.json()["detail"], url


# --- postpaid credit ---------------------------------------------------------------------------------------

def _postpaid_sub(alpha: Isp, *, credit: str = "0") -> tuple[Operator, Subscriber]:
    """A postpaid sub-reseller under the reseller (cost 110.00, sells at 120.00) with one customer."""
    node = operator_create(actor=SYSTEM, parent=alpha.reseller, name="Postpaid Sub", billing_mode=BillingMode.POSTPAID,
                           share_percent=Decimal("50"), credit_limit=Decimal(credit))
    PackageAssignment.objects.create(package=alpha.package, operator=node, price=Decimal("120.00"))
    customer = Subscriber.objects.create(username="pat", password="pppoe-secret", package=alpha.package, owner=node)
    return node, customer


def test_a_postpaid_node_nobody_gave_credit_sells_nothing_and_earns_nothing(alpha):
    with schema_context(alpha.schema):
        node, pat = _postpaid_sub(alpha)
        login = staff(alpha, Role.SUB_RESELLER, node)
    client = api(alpha, login)
    with schema_context(alpha.schema), nothing_changes():
        with pytest.raises(CreditLimitExceeded, match=r"may owe at most 0\.00; this would make it owe 110\.00"):
            subscriber_activate(subscriber=pat, actor=login)
        response = client.post("/api/v1/recharges/", {"customer": pat.pk, "quantity": 30, "unit": "days"},
                               content_type=JSON, HTTP_IDEMPOTENCY_KEY="postpaid-0")
        _refused_over_api(alpha, response, status=400)
        assert "Postpaid Sub may owe at most 0.00" in str(response.json()), response.json()
        assert node_owed(node=node) == 0
        # No credit used, so no commission earned up its chain.
        assert balance(f"commission_payable:{alpha.reseller.pk}") == 0


def test_postpaid_credit_is_used_up_to_the_limit_and_not_beyond(alpha):
    with schema_context(alpha.schema):
        node, pat = _postpaid_sub(alpha, credit="110.00")
        login = staff(alpha, Role.SUB_RESELLER, node)
        subscriber_activate(subscriber=pat, actor=login)  # owes 110.00: exactly its limit
        assert node_owed(node=node) == 11_000
        assert balance(f"commission_payable:{alpha.reseller.pk}") == -1_000  # 110 - 100, earned on real credit
        with nothing_changes(), pytest.raises(CreditLimitExceeded, match=r"may owe at most 110\.00"):
            subscriber_activate(subscriber=pat, actor=login)
        response_client = api(alpha, login)
    with schema_context(alpha.schema), nothing_changes():
        response = response_client.post("/api/v1/recharges/", {"customer": pat.pk, "quantity": 1, "unit": "days"},
                                        content_type=JSON, HTTP_IDEMPOTENCY_KEY="postpaid-over")
        _refused_over_api(alpha, response, status=400)
    with schema_context(alpha.schema):
        credit_grant(node, "220.00")  # its parent raises the limit: one more period fits
        subscriber_activate(subscriber=pat, actor=login)
        assert node_owed(node=node) == 22_000


def test_the_database_refuses_a_posting_past_the_credit_limit(alpha):
    """The safety net: an entry written past the services (ORM or SQL) cannot take the node past its limit."""
    with schema_context(alpha.schema):
        node, _ = _postpaid_sub(alpha, credit="50.00")
        receivable = node_account(AccountKind.NODE_RECEIVABLE, node.pk)
        with nothing_changes(), pytest.raises(IntegrityError, match=r"may owe at most 50\.00; .* owe 50\.01"), \
                transaction.atomic():
            entry_post(kind=EntryKind.ACTIVATION, reason="forged", node_id=node.pk,
                       legs=[Leg(receivable, 5_001), Leg(isp_account(AccountKind.SALES_REVENUE), -5_001)])
        entry_post(kind=EntryKind.ACTIVATION, reason="within", node_id=node.pk,
                   legs=[Leg(receivable, 5_000), Leg(isp_account(AccountKind.SALES_REVENUE), -5_000)])
        check_deferred_now()
        with pytest.raises(IntegrityError, match="may owe at most"), transaction.atomic():
            entry_post(kind=EntryKind.ACTIVATION, reason="one cent more", node_id=node.pk,
                       legs=[Leg(receivable, 1), Leg(isp_account(AccountKind.SALES_REVENUE), -1)])
        # Behind the trigger's message, the guarantee is a CHECK on the balance row.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n "
                           "ON n.oid = c.connamespace WHERE c.conname = %s AND n.nspname = %s",
                           ["node_receivable_within_credit", alpha.schema])
            assert "balance <= ceiling" in cursor.fetchone()[0]
        # The limit cannot be lowered below what the node owes now (collect its dues first).
        with pytest.raises(IntegrityError, match=r"owes 50\.00"), transaction.atomic():
            Operator.objects.filter(pk=node.pk).update(credit_limit=Decimal("49.99"))
        settlement_record(node=node, amount=2_000, direction="node_dues", method="bank", actor=SYSTEM)
        Operator.objects.filter(pk=node.pk).update(credit_limit=Decimal("30.00"))
        assert node_owed(node=node) == 3_000


def test_money_atomic_reports_the_database_refusal_as_a_credit_error(alpha):
    """A service that skipped the Python check still answers with the friendly error (a 400 in the API)."""
    with schema_context(alpha.schema):
        node, _ = _postpaid_sub(alpha)
        receivable = node_account(AccountKind.NODE_RECEIVABLE, node.pk)
        refusal = r"Postpaid Sub may owe at most 0\.00; this would make it owe 0\.01"
        with pytest.raises(CreditLimitExceeded, match=refusal):
            money_atomic(lambda: entry_post(kind=EntryKind.ACTIVATION, reason="forged", node_id=node.pk, legs=[
                Leg(receivable, 1), Leg(isp_account(AccountKind.SALES_REVENUE), -1)]))


def test_the_authority_check_costs_no_query_per_payment(alpha):
    """The login's node and scope are cached on the user object: after its first payment, recording another
    asks the database nothing about who is acting (make bench: payments/s with the check inside)."""
    with schema_context(alpha.schema):
        accountant = _login(alpha, "accountant@root")
        payment_record(customer=alpha.customer, amount=100, method="bank", idempotency_key="warm", actor=accountant)
        with CaptureQueriesContext(connection) as queries:
            for n in range(3):
                payment_record(customer=alpha.customer, amount=100, method="bank", idempotency_key=f"hot-{n}",
                               actor=accountant)
        who = ("membership", "guardian", "hierarchy_operator", "accounts_user")
        asked = [q["sql"] for q in queries.captured_queries if any(table in q["sql"] for table in who)]
        assert asked == []


# --- property: random money operations by random logins --------------------------------------------------

ACTORS = ["admin", "accountant@root", "manager@root", "support@root", "reseller", "sub_reseller", "sibling",
          "manager@reseller", "accountant@reseller", "card_distributor@reseller", "support@sub_reseller"]
OPERATIONS = ["cash", "bank", "stripe", "deposit", "transfer", "activate", "refund"]
OP_ACTS = {"cash": Act.PAYMENT_CASH, "bank": Act.PAYMENT_BANK, "stripe": Act.PAYMENT_GATEWAY,
           "deposit": Act.WALLET_DEPOSIT, "transfer": Act.WALLET_TRANSFER, "activate": Act.RECHARGE,
           "refund": Act.REFUND}
_keys = itertools.count(1)  # examples share the database: every attempt gets a fresh idempotency key


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(data=st.data())
def test_random_money_operations_by_random_logins_keep_every_invariant(alpha, data):
    """Whatever any login tries, in any order: a refusal changes nothing, the books balance, no wallet is
    below zero, no postpaid node owes past its limit, and no customer's paid-until moves without an entry."""
    with schema_context(alpha.schema):
        node = Operator.objects.filter(name="Postpaid Sub").first()
        if node is None:
            node, _ = _postpaid_sub(alpha)
        # Examples share the database: the limit is what the node owes already plus a drawn headroom (the
        # database refuses a limit below what is owed).
        credit_grant(node, str(Decimal(node_owed(node=node) + data.draw(st.integers(0, 40_000), "credit")) / 100))
        customers = [Subscriber.objects.select_related("owner", "package").get(pk=pk)
                     for pk in (alpha.customer.pk, Subscriber.objects.get(username="pat").pk)]
        for _ in range(data.draw(st.integers(1, 6), "steps")):
            user = _login(alpha, data.draw(st.sampled_from(ACTORS), "actor"))
            op = data.draw(st.sampled_from(OPERATIONS), "op")
            customer = data.draw(st.sampled_from(customers), "customer")
            amount = data.draw(st.integers(1, 30_000), "amount")
            before = (JournalEntry.objects.count(), dict(Subscriber.objects.values_list("pk", "expires_at")))
            try:  # (each service is its own money transaction: a refusal rolls it back)
                tried = _attempt(alpha, user, op, customer, amount, key=f"prop-{next(_keys)}")
            except (PermissionDenied, ValidationError):
                assert (JournalEntry.objects.count(), dict(Subscriber.objects.values_list("pk", "expires_at"))) \
                    == before, f"a refused {op} by {user.email} changed the books"
            else:
                # The table decides: a role that may not do the act never gets through.
                assert not tried or authority.allowed(user, OP_ACTS[op]), f"{user.email} did {op}"
                if dict(Subscriber.objects.values_list("pk", "expires_at")) != before[1]:
                    assert JournalEntry.objects.count() > before[0], "an expiry moved without an entry"
            check_deferred_now()
            assert ledger_check().ok
            assert not AccountBalance.objects.filter(account__kind=AccountKind.WALLET, balance__gt=0).exists()
            for account in Account.objects.with_balance().filter(kind=AccountKind.NODE_RECEIVABLE):
                owner = Operator.objects.get(pk=account.owner_id)
                assert account_balance(account) <= owner.credit_limit * 100, account.code


def _attempt(alpha: Isp, user: User, op: str, customer: Subscriber, amount: int, *, key: str) -> bool:
    """Try ``op`` as ``user``; False if there was nothing to try (no payment left to refund)."""
    if op in ("cash", "bank", "stripe"):
        payment_record(customer=customer, amount=amount, method=op, idempotency_key=key, actor=user)
    elif op == "deposit":
        wallet_topup(node=alpha.reseller, amount=amount, method="bank", actor=user)
    elif op == "transfer":
        wallet_topup(node=alpha.sub_reseller, amount=amount, method="parent_wallet", actor=user)
    elif op == "activate":
        subscriber_activate(subscriber=customer, actor=user)
    else:
        payment = Payment.objects.select_related("customer__owner", "entry").filter(
            entry__reversed_by__isnull=True).first()
        if payment is None:
            return False
        payment_refund(payment=payment, actor=user)
    return True
