"""The money API, with personas: the ISP admin, the reseller, the sub-reseller, the sibling, beta."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from ledger.models import JournalEntry, Payment
from tests.conftest import host_client

pytestmark = pytest.mark.django_db


def api(isp, user) -> Client:
    with schema_context(isp.schema):
        token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST=isp.host, HTTP_AUTHORIZATION=f"Token {token.key}")


def pay(client: Client, customer: int, amount: str = "100.00", method: str = "bank", key: str = "k1"):
    return client.post("/api/v1/payments/", {"customer": customer, "amount": amount, "method": method},
                       content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_payment_replay_and_conflict(alpha):
    admin = api(alpha, alpha.admin)
    first = pay(admin, alpha.customer.pk)
    assert first.status_code == 201, first.content
    body = first.json()
    assert body["amount"] == "100.00" and body["method"] == "bank" and body["refunded"] is False
    replay = pay(admin, alpha.customer.pk)
    assert replay.status_code == 200 and replay.json()["id"] == body["id"]
    conflict = pay(admin, alpha.customer.pk, amount="99.00")
    assert conflict.status_code == 409 and conflict.json()["code"] == "conflict"
    with schema_context(alpha.schema):
        assert Payment.objects.count() == 1


def test_payment_input_errors_are_json_400(alpha):
    admin = api(alpha, alpha.admin)
    assert pay(admin, alpha.customer.pk, key="").status_code == 400
    for amount in ("0", "-1", "1.001", "abc"):
        response = pay(admin, alpha.customer.pk, amount=amount, key=f"bad-{amount}")
        assert response.status_code == 400 and "amount" in response.json()["errors"]
    assert pay(admin, 999_999, key="nobody").status_code == 400
    with schema_context(alpha.schema):
        assert not JournalEntry.objects.exists()


def test_refund_once(alpha):
    admin = api(alpha, alpha.admin)
    payment = pay(admin, alpha.customer.pk, key="to-refund").json()
    refund = admin.post(f"/api/v1/payments/{payment['id']}/refund/", {"reason": "duplicate"},
                        content_type="application/json")
    assert refund.status_code == 201 and refund.json()["reversal_of"] == payment["entry"]
    again = admin.post(f"/api/v1/payments/{payment['id']}/refund/", {}, content_type="application/json")
    assert again.status_code == 409
    assert admin.get(f"/api/v1/payments/{payment['id']}/").json()["refunded"] is True


def test_reseller_cannot_refund_and_sibling_cannot_see(alpha):
    payment = pay(api(alpha, alpha.sub_reseller_user), alpha.customer.pk, method="cash", key="sub-cash").json()
    assert payment["collector"] == alpha.sub_reseller.pk
    sub = api(alpha, alpha.sub_reseller_user)
    assert sub.post(f"/api/v1/payments/{payment['id']}/refund/", {}, content_type="application/json").status_code == 403
    sibling = api(alpha, alpha.sibling_user)
    assert sibling.get(f"/api/v1/payments/{payment['id']}/").status_code == 404
    assert pay(sibling, alpha.customer.pk, method="cash", key="sibling").status_code == 400  # not its customer
    assert pay(sibling, alpha.customer.pk, key="sibling-bank").status_code == 403  # no bank money below the ISP
    customer = api(alpha, alpha.customer_user)
    assert pay(customer, alpha.customer.pk, key="self").status_code == 403


def test_accounts_are_scoped_and_trial_balance_is_zero(alpha):
    pay(api(alpha, alpha.admin), alpha.customer.pk, key="tb")
    accounts = api(alpha, alpha.admin).get("/api/v1/ledger/accounts/").json()["results"]
    by_code = {a["code"]: a for a in accounts}
    assert by_code["commission_expense"]["balance"] == "60.00" and by_code["commission_expense"]["owner"] is None
    receivable = by_code[f"receivable:c{alpha.customer.pk}"]
    assert receivable["balance"] == "-100.00" and receivable["customer"] == alpha.customer.pk
    commission = by_code[f"commission_payable:{alpha.reseller.pk}"]
    assert commission["owner"] == alpha.reseller.pk and commission["customer"] is None
    assert {"id", "kind", "balance", "owner", "customer"} <= set(commission)
    reseller_view = api(alpha, alpha.reseller_user).get("/api/v1/ledger/accounts/").json()["results"]
    assert {a["owner"] for a in reseller_view if a["customer"] is None} == {alpha.reseller.pk, alpha.sub_reseller.pk}
    assert {a["customer"] for a in reseller_view if a["owner"] is None} == {alpha.customer.pk}  # its subtree's
    sub_view = api(alpha, alpha.sub_reseller_user).get("/api/v1/ledger/accounts/").json()["results"]
    assert {a["owner"] for a in sub_view if a["customer"] is None} == {alpha.sub_reseller.pk}
    assert api(alpha, alpha.sibling_user).get("/api/v1/ledger/accounts/").json()["results"] == []
    trial = api(alpha, alpha.admin).get("/api/v1/reports/trial-balance/")
    assert trial.status_code == 200 and trial.json()["total"] == "0.00" and len(trial.json()["accounts"]) == 5
    assert api(alpha, alpha.reseller_user).get("/api/v1/reports/trial-balance/").status_code == 403
    csv = api(alpha, alpha.admin).get("/api/v1/reports/trial-balance/?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and b"commission_expense" in csv.content


def test_entries_are_scoped(alpha):
    admin = api(alpha, alpha.admin)
    pay(admin, alpha.customer.pk, key="entries")
    admin.post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", {"amount": "10.00"}, content_type="application/json")
    assert len(admin.get("/api/v1/ledger/entries/").json()["results"]) == 2
    sub_entries = api(alpha, alpha.sub_reseller_user).get("/api/v1/ledger/entries/").json()["results"]
    assert [e["kind"] for e in sub_entries] == ["payment"]


def test_topups_by_the_parent(alpha):
    admin = api(alpha, alpha.admin)
    response = admin.post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", {"amount": "200.00"},
                          content_type="application/json")
    assert response.status_code == 201 and response.json()["wallet_balance"] == "200.00"
    reseller = api(alpha, alpha.reseller_user)
    response = reseller.post(f"/api/v1/operators/{alpha.sub_reseller.pk}/topup/", {"amount": "150.00"},
                             content_type="application/json")
    assert response.status_code == 201 and response.json()["method"] == "parent_wallet"
    too_much = reseller.post(f"/api/v1/operators/{alpha.sub_reseller.pk}/topup/", {"amount": "50.01"},
                             content_type="application/json")
    assert too_much.status_code == 400 and "less than" in too_much.json()["detail"]
    # Not its own wallet, not a sibling's, and the sub-reseller cannot top up its parent.
    assert reseller.post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", {"amount": "1"},
                         content_type="application/json").status_code == 404
    assert reseller.post(f"/api/v1/operators/{alpha.sibling.pk}/topup/", {"amount": "1"},
                         content_type="application/json").status_code == 404
    assert api(alpha, alpha.sub_reseller_user).post(f"/api/v1/operators/{alpha.reseller.pk}/topup/", {"amount": "1"},
                                                    content_type="application/json").status_code == 404
    postpaid = admin.post(f"/api/v1/operators/{alpha.sibling.pk}/topup/", {"amount": "1"},
                          content_type="application/json")
    assert postpaid.status_code == 400


def test_reports(alpha):
    admin = api(alpha, alpha.admin)
    pay(api(alpha, alpha.sub_reseller_user), alpha.customer.pk, method="cash", key="rep")
    statement = admin.get(f"/api/v1/reports/customers/{alpha.customer.pk}/statement/").json()
    assert statement["paid"] == "100.00" and statement["rows"][0]["credit"] == "100.00"
    node = admin.get(f"/api/v1/reports/operators/{alpha.sub_reseller.pk}/statement/").json()
    assert node["balances"] == {"cash_held": "100.00", "commission_payable": "-30.00"}
    commissions = {r["operator"]: r for r in admin.get("/api/v1/reports/commissions/?from=2000-01-01").json()["rows"]}
    assert commissions[alpha.reseller.pk]["net"] == "30.00"
    assert admin.get("/api/v1/reports/commissions/?from=yesterday").status_code == 400
    cash = admin.get("/api/v1/reports/cash-collected/").json()["rows"]
    assert cash == [{"operator": alpha.sub_reseller.pk, "name": alpha.sub_reseller.name, "collected": "100.00",
                     "handed_over": "0.00", "held": "100.00"}]
    assert admin.get("/api/v1/reports/cash-collected/?format=csv").content.startswith(b"operator,name,collected")
    settle = admin.post("/api/v1/ledger/settlements/", {"node": alpha.sub_reseller.pk, "direction": "node_pays",
                                                         "method": "cash", "amount": "70.00"},
                        content_type="application/json")
    assert settle.status_code == 201 and settle.json()["amount"] == "70.00"
    assert api(alpha, alpha.reseller_user).post("/api/v1/ledger/settlements/", {}, content_type="application/json"
                                                ).status_code == 403


def test_other_isp_sees_nothing(alpha, beta):
    payment = pay(api(alpha, alpha.admin), alpha.customer.pk, key="iso").json()
    beta_admin = api(beta, beta.admin)
    assert beta_admin.get(f"/api/v1/payments/{payment['id']}/").status_code == 404
    assert beta_admin.get("/api/v1/ledger/accounts/").json()["results"] == []
    with schema_context(beta.schema):
        token = Token.objects.get(user=beta.admin).key
    stolen = host_client(alpha.host).get("/api/v1/ledger/accounts/", HTTP_AUTHORIZATION=f"Token {token}")
    assert stolen.status_code in (401, 403)


def test_manual_entries_by_the_accountant(alpha):
    from accounts.models import Role, User
    from hierarchy.models import Membership

    with schema_context(alpha.schema):
        accountant = User.objects.create_user(email="acc@alpha.test", password="x-pass-12345", role=Role.ACCOUNTANT)
        Membership.objects.create(user=accountant, operator=alpha.root)
    client = api(alpha, accountant)
    body = {"reason": "Office rent", "reference": "INV-7",
            "lines": [{"account": "expenses", "debit": "500.00"}, {"account": "bank", "credit": "500.00"}]}
    response = client.post("/api/v1/ledger/entries/", body, content_type="application/json")
    assert response.status_code == 201 and response.json()["kind"] == "manual"
    assert response.json()["external_reference"] == "INV-7"
    unbalanced = {**body, "lines": [{"account": "expenses", "debit": "500.00"}, {"account": "bank", "credit": "5"}]}
    assert client.post("/api/v1/ledger/entries/", unbalanced, content_type="application/json").status_code == 400
    wrong = {**body, "lines": [{"account": "sales_revenue", "debit": "1"}, {"account": "bank", "credit": "1"}]}
    assert client.post("/api/v1/ledger/entries/", wrong, content_type="application/json").status_code == 400
    reseller = api(alpha, alpha.reseller_user)
    assert reseller.post("/api/v1/ledger/entries/", body, content_type="application/json").status_code == 403
    with schema_context(alpha.schema):
        assert JournalEntry.objects.filter(kind="manual").count() == 1
