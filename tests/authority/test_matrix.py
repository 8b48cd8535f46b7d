"""The whole role x action matrix walked through the public API, for every login an ISP has (and one of
another ISP): each business operation is attempted as each login and must be allowed exactly where the
table below says — the table is written out here from the issue, not derived from hierarchy.authority, and
a second test checks that the code's table agrees with it.

Allowed means done (2xx); refused means 403 with a JSON body and nothing changed (no journal entry, no
expiry or status moved, books balanced); another ISP's credential is 401 on this ISP's host.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.test import Client, override_settings
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from hierarchy import authority
from hierarchy.audit import SYSTEM
from hierarchy.authority import Act
from hierarchy.models import Package, PackageAssignment, Subscriber
from ledger.billing.models import BillingProfile, Invoice
from ledger.billing.services import invoice_issue_for_period
from ledger.models import Payment
from ledger.services import payment_record
from ledger.vouchers.models import Voucher
from ledger.vouchers.services import batch_create
from ledger.wallets import wallet_topup
from tests.support.attacks import nothing_changes, staff
from tests.support.personas import Isp

pytestmark = pytest.mark.django_db
JUNE = datetime.datetime(2026, 6, 1, 9, tzinfo=datetime.UTC)

# The logins of an ISP. Staff of a reseller sit at alpha's reseller (carol's owner is below it).
LOGINS = ["admin", "reseller", "sub_reseller", "manager_isp", "manager", "accountant_isp", "accountant",
          "support", "card_distributor", "customer"]
CASH = {"admin", "reseller", "sub_reseller", "manager_isp", "manager", "accountant_isp", "accountant"}
ISP_MONEY = {"admin", "accountant_isp"}
SERVICE = {"admin", "reseller", "sub_reseller", "manager_isp", "manager"}
SELLERS = {"admin", "reseller", "sub_reseller"}
READERS = SERVICE | {"accountant_isp", "accountant"}

# Who may do what, from the issue: money enters only through someone who holds it; service is sold;
# the network belongs to the ISP; staff roles do what their title says.
EXPECTED: dict[Act, set[str]] = {
    Act.PAYMENT_CASH: CASH,
    Act.PAYMENT_BANK: ISP_MONEY,
    Act.PAYMENT_GATEWAY: ISP_MONEY,
    Act.REFUND: ISP_MONEY,
    Act.MANUAL_ENTRY: ISP_MONEY,
    Act.SETTLEMENT: ISP_MONEY,
    Act.WALLET_DEPOSIT: ISP_MONEY,
    Act.WALLET_TRANSFER: {"reseller", "accountant"},  # only the sub-reseller's parent node's money logins
    Act.INVOICE_VOID: ISP_MONEY,
    Act.CREDIT_NOTE: ISP_MONEY,
    Act.DISCOUNT_SET: ISP_MONEY,
    Act.BILLING_MODEL_SET: ISP_MONEY,
    Act.RECHARGE: SERVICE,
    Act.EXPIRY_EXTEND: {"admin"},
    Act.CUSTOMER_VIEW: READERS | {"support"},
    Act.CUSTOMER_CREATE: SERVICE,
    Act.CUSTOMER_EDIT: SERVICE,
    Act.CUSTOMER_STATUS: SERVICE,
    Act.DATA_EXPORT: READERS,
    Act.VOUCHER_BATCH_CREATE: SELLERS,
    Act.VOUCHER_SELL: SELLERS | {"manager_isp", "manager", "accountant_isp", "accountant"},
    Act.VOUCHER_VOID: SELLERS | {"accountant_isp", "accountant"},
    Act.NODE_CREATE: SELLERS,
    Act.NODE_BILLING_SET: {"admin", "reseller", "accountant_isp", "accountant"},  # never on one's own node
    Act.NODE_MOVE: {"admin"},
    Act.LOGIN_CREATE: SERVICE,  # a support login: within every creator's own authority
    Act.PACKAGE_EDIT: {"admin"},
    Act.PACKAGE_ASSIGN: {"admin", "reseller", "accountant_isp", "accountant"},  # never to one's own node
    Act.NAS_REGISTER: {"admin"},
    Act.ROUTER_REGISTER: {"admin"},
    Act.SESSIONS_VIEW: SERVICE | {"support"},
    Act.NAS_VIEW: SERVICE | {"support"},
    Act.ROUTER_VIEW: SERVICE | {"support"},
    Act.INVOICE_PAY: CASH,
    Act.NODE_STATUS: {"admin", "reseller"},  # never on one's own node
    Act.AUDIT_VIEW: READERS,
    Act.FINANCE_VIEW: READERS,
}

# Logins that hold the act in the table but not on the probe's target: the service's own target rule
# refuses them (a transfer comes from the direct parent's wallet; a node never sets its own credit or
# prices; a card distributor sells only cards of its own stock). Still a 403, still nothing changed.
TARGET_REFUSED: dict[Act, set[str]] = {
    Act.WALLET_TRANSFER: {"admin", "sub_reseller", "accountant_isp"},
    Act.NODE_BILLING_SET: {"sub_reseller"},
    Act.NODE_STATUS: {"sub_reseller"},
    Act.PACKAGE_ASSIGN: {"sub_reseller"},
    Act.VOUCHER_SELL: {"card_distributor"},
}


@dataclass
class World:
    isp: Isp
    logins: dict[str, User]
    invoice: Invoice
    payment: Payment
    voucher: Voucher
    package: Package
    spare: Subscriber  # a customer of the sub-reseller nobody else touches


def _build(isp: Isp) -> World:
    with schema_context(isp.schema):
        logins = {
            "admin": isp.admin, "reseller": isp.reseller_user, "sub_reseller": isp.sub_reseller_user,
            "customer": isp.customer_user,
            "manager_isp": staff(isp, Role.MANAGER), "manager": staff(isp, Role.MANAGER, isp.reseller),
            "accountant_isp": staff(isp, Role.ACCOUNTANT),
            "accountant": staff(isp, Role.ACCOUNTANT, isp.reseller),
            "support": staff(isp, Role.SUPPORT, isp.reseller),
            "card_distributor": staff(isp, Role.CARD_DISTRIBUTOR, isp.sub_reseller),
        }
        wallet_topup(node=isp.reseller, amount=5_000_00, method="bank", actor=SYSTEM)
        wallet_topup(node=isp.sub_reseller, amount=1_000_00, method="parent_wallet", actor=SYSTEM)
        BillingProfile.objects.create(customer=isp.customer, start_date=datetime.date(2026, 1, 1))
        with time_machine.travel(JUNE, tick=False):
            invoice = invoice_issue_for_period(customer=isp.customer)
        assert invoice is not None
        spare = Subscriber.objects.create(username="matrix-spare", password="x", package=isp.package,
                                          owner=isp.sub_reseller)
        payment, _ = payment_record(customer=spare, amount=10_00, method="cash", idempotency_key="matrix-payment",
                                    actor=SYSTEM)
        batch = batch_create(package=isp.package, quantity=1, unit="days", face_price=20_00, count=2,
                             owner=isp.sub_reseller, commission_percent=Decimal("0"), actor=SYSTEM)
        voucher = Voucher.objects.filter(batch=batch).order_by("pk").first()
        assert voucher is not None
        package = Package.objects.create(name="Matrix 50M", type="pppoe", download_kbps=50_000, upload_kbps=10_000,
                                         price=Decimal("150.00"), validity_days=30)
        PackageAssignment.objects.create(package=package, operator=isp.reseller, price=Decimal("160.00"))
        return World(isp=isp, logins=logins, invoice=invoice, payment=payment, voucher=voucher, package=package,
                     spare=spare)


def _client(isp: Isp, user: User) -> Client:
    with schema_context(isp.schema):
        token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST=isp.host, HTTP_AUTHORIZATION=f"Token {token.key}")


Probe = Callable[[Client, World], Any]


def _json(method: str) -> Callable[..., Any]:
    def call(client: Client, url: str, body: dict[str, Any] | None = None, **headers: Any) -> Any:
        return getattr(client, method)(url, body or {}, content_type="application/json", **headers)
    return call


post, patch = _json("post"), _json("patch")


def _pay(method: str) -> Probe:
    return lambda c, w: post(c, "/api/v1/payments/", {"customer": w.isp.customer.pk, "amount": "5.00",
                                                      "method": method}, HTTP_IDEMPOTENCY_KEY=f"m-{method}")


PROBES: dict[Act, Probe] = {
    Act.PAYMENT_CASH: _pay("cash"),
    Act.PAYMENT_BANK: _pay("bank"),
    Act.PAYMENT_GATEWAY: _pay("stripe"),
    Act.REFUND: lambda c, w: post(c, f"/api/v1/payments/{w.payment.pk}/refund/", {"reason": "matrix"}),
    Act.MANUAL_ENTRY: lambda c, w: post(c, "/api/v1/ledger/entries/", {
        "reason": "matrix", "lines": [{"account": "expenses", "debit": "3.00"}, {"account": "cash", "credit": "3.00"}]}),
    Act.SETTLEMENT: lambda c, w: post(c, "/api/v1/ledger/settlements/", {
        "node": w.isp.reseller.pk, "amount": "1.00", "direction": "isp_pays", "method": "cash"}),
    Act.WALLET_DEPOSIT: lambda c, w: post(c, f"/api/v1/operators/{w.isp.reseller.pk}/topup/",
                                          {"amount": "10.00", "method": "bank"}),
    Act.WALLET_TRANSFER: lambda c, w: post(c, f"/api/v1/operators/{w.isp.sub_reseller.pk}/topup/",
                                           {"amount": "10.00", "method": "parent_wallet"}),
    Act.INVOICE_VOID: lambda c, w: post(c, f"/api/v1/invoices/{w.invoice.pk}/void/", {"reason": "matrix"}),
    Act.CREDIT_NOTE: lambda c, w: post(c, f"/api/v1/invoices/{w.invoice.pk}/credit-notes/",
                                       {"amount": "1.00", "reason": "matrix"}),
    Act.DISCOUNT_SET: lambda c, w: patch(c, f"/api/v1/customers/{w.isp.customer.pk}/billing-profile/",
                                         {"discount_percent": "10", "reason": "matrix"}),
    Act.BILLING_MODEL_SET: lambda c, w: post(c, f"/api/v1/customers/{w.isp.customer.pk}/billing-model/",
                                             {"model": "daily", "open_invoices": "void", "reason": "matrix"}),
    Act.RECHARGE: lambda c, w: post(c, "/api/v1/recharges/", {"customer": w.spare.pk, "quantity": 1,
                                                             "unit": "days"}, HTTP_IDEMPOTENCY_KEY="m-recharge"),
    Act.EXPIRY_EXTEND: lambda c, w: post(c, f"/api/v1/customers/{w.spare.pk}/extend/", {
        "until": (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).isoformat(),
        "reason": "outage credit"}),
    Act.CUSTOMER_VIEW: lambda c, w: c.get(f"/api/v1/customers/{w.spare.pk}/"),
    Act.CUSTOMER_CREATE: lambda c, w: post(c, "/api/v1/customers/", {
        "username": "matrix-new", "password": "pppoe-pass", "package": w.isp.package.pk,
        "owner": w.isp.sub_reseller.pk}),
    Act.CUSTOMER_EDIT: lambda c, w: patch(c, f"/api/v1/customers/{w.spare.pk}/", {"full_name": "Renamed"}),
    Act.CUSTOMER_STATUS: lambda c, w: post(c, f"/api/v1/customers/{w.spare.pk}/disable/"),
    Act.DATA_EXPORT: lambda c, w: c.get("/api/v1/customers/export/"),
    Act.VOUCHER_BATCH_CREATE: lambda c, w: post(c, "/api/v1/voucher-batches/", {
        "package": w.isp.package.pk, "quantity": 1, "unit": "days", "face_price": "20.00", "count": 1,
        "commission_percent": "0", "owner": w.isp.sub_reseller.pk}),
    Act.VOUCHER_SELL: lambda c, w: post(c, f"/api/v1/vouchers/{w.voucher.pk}/sell/"),
    Act.VOUCHER_VOID: lambda c, w: post(c, f"/api/v1/vouchers/{w.voucher.pk}/void/"),
    Act.NODE_CREATE: lambda c, w: post(c, "/api/v1/operators/", {"name": "matrix node",
                                                                "parent": w.isp.sub_reseller.pk}),
    Act.NODE_BILLING_SET: lambda c, w: patch(c, f"/api/v1/operators/{w.isp.sub_reseller.pk}/",
                                             {"credit_limit": "50.00"}),
    Act.NODE_MOVE: lambda c, w: post(c, f"/api/v1/operators/{w.isp.sub_reseller.pk}/move/",
                                     {"parent": w.isp.sibling.pk}),
    Act.LOGIN_CREATE: lambda c, w: post(c, "/api/v1/users/", {
        "email": "matrix-login@alpha.test", "password": "long-enough-pass-123", "role": "support",
        "operator": w.isp.sub_reseller.pk}),
    Act.PACKAGE_EDIT: lambda c, w: post(c, "/api/v1/packages/", {
        "name": "matrix pkg", "type": "pppoe", "download_kbps": 1000, "upload_kbps": 500, "price": "10.00",
        "validity_days": 30}),
    Act.PACKAGE_ASSIGN: lambda c, w: post(c, f"/api/v1/packages/{w.package.pk}/assign/",
                                          {"operator": w.isp.sub_reseller.pk, "price": "170.00"}),
    Act.NAS_REGISTER: lambda c, w: post(c, "/api/v1/nas/", {"name": "matrix nas", "address": "198.51.100.77",
                                                            "secret": "matrix-secret-123"}),
    Act.ROUTER_REGISTER: lambda c, w: post(c, "/api/v1/routers/", {
        "name": "matrix router", "address": "198.51.100.78", "api_username": "api", "api_password": "pw"}),
    Act.SESSIONS_VIEW: lambda c, w: c.get("/api/v1/sessions/"),
    Act.NAS_VIEW: lambda c, w: c.get("/api/v1/nas/"),
    Act.ROUTER_VIEW: lambda c, w: c.get("/api/v1/routers/"),
    Act.INVOICE_PAY: lambda c, w: post(c, f"/api/v1/invoices/{w.invoice.pk}/pay/", {"amount": "5.00",
                                                                                   "method": "cash"},
                                     HTTP_IDEMPOTENCY_KEY="m-invoice"),
    Act.NODE_STATUS: lambda c, w: post(c, f"/api/v1/operators/{w.isp.sub_reseller.pk}/suspend/",
                                       {"suspend_customers": False}),
    Act.AUDIT_VIEW: lambda c, w: c.get(f"/api/v1/customers/{w.spare.pk}/audit/"),
    Act.FINANCE_VIEW: lambda c, w: c.get("/api/v1/payments/"),
}


# What a customer's login reads of its own (and only that).
OWN_ROWS = {Act.FINANCE_VIEW}

# The object each probe acts on is read under this act: a login that may not even see it gets 404 (it does
# not exist for that login), as does one refused by the target rule; any other refusal is a 403.
SEEN_UNDER: dict[Act, Act] = {
    Act.REFUND: Act.FINANCE_VIEW, Act.INVOICE_VOID: Act.FINANCE_VIEW, Act.INVOICE_PAY: Act.FINANCE_VIEW, Act.CREDIT_NOTE: Act.FINANCE_VIEW,
    Act.DISCOUNT_SET: Act.CUSTOMER_VIEW, Act.BILLING_MODEL_SET: Act.CUSTOMER_VIEW,
    Act.VOUCHER_SELL: Act.VOUCHER_VIEW, Act.VOUCHER_VOID: Act.VOUCHER_VIEW,
}


def _refusals(act: Act, login: str, user: User) -> tuple[int, ...]:
    if login == "customer" or login in TARGET_REFUSED.get(act, set()):
        return (403, 404)
    if login == "card_distributor" and act in (Act.VOUCHER_SELL, Act.VOUCHER_VOID):
        return (403, 404)  # it sees only the cards of its own stock
    seen_under = SEEN_UNDER.get(act)
    if seen_under is not None and not authority.allowed(user, seen_under):
        return (403, 404)
    return (403,)


def test_the_code_agrees_with_the_written_table():
    """hierarchy.authority's table gives each login exactly the rights written out above."""
    where = {"manager": False, "accountant": False, "support": False, "card_distributor": False,
             "reseller": False, "sub_reseller": False}
    for act, logins in EXPECTED.items():
        for login in LOGINS:
            if login == "customer":
                continue
            role = login.removesuffix("_isp")
            at_isp = where.get(login, True)
            holds = login in logins | TARGET_REFUSED.get(act, set())
            assert (act in authority.acts_of(role, at_isp=at_isp)) is holds, (act, login)


@pytest.mark.parametrize(("act", "login"), list(itertools.product(PROBES, LOGINS)))
def test_matrix_through_the_api(alpha, act, login):
    world = _build(alpha)
    client = _client(alpha, world.logins[login])
    if login == "customer" and act in OWN_ROWS:
        response = PROBES[act](client, world)  # a customer reads its own payments, and nobody else's
        assert response.status_code == 200, response.content
        assert all(row["customer"] == alpha.customer.pk for row in response.json()), response.content
        return
    expected = login in EXPECTED[act]
    if expected:
        response = PROBES[act](client, world)
        assert 200 <= response.status_code < 300, (act, login, response.status_code, response.content[:300])
        return
    with nothing_changes(alpha):
        response = PROBES[act](client, world)
    with schema_context(alpha.schema):
        refusals = _refusals(act, login, world.logins[login])
    assert response.status_code in refusals, (act, login, response.status_code, response.content[:300])
    assert response.json()["detail"], response.content


@pytest.mark.parametrize("act", list(PROBES))
def test_another_isps_login_is_nobody_here(alpha, beta, act):
    world = _build(alpha)
    with schema_context(beta.schema):
        token, _ = Token.objects.get_or_create(user=beta.admin)
    client = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Token {token.key}")
    with nothing_changes(alpha):
        response = PROBES[act](client, world)
    assert response.status_code == 401, (act, response.status_code)


def test_nas_and_router_probes_use_an_address_the_guard_lets_through():
    """The registration probes must fail on authority, not on the egress guard."""
    from network.egress import address_check

    with override_settings(BACKHAUL_EGRESS_ALLOW=[]):
        address_check("198.51.100.77")
        address_check("198.51.100.78")
