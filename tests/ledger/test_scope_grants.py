"""django-guardian grants (``hierarchy.access_subtree``) widen ledger scope exactly as they do for
customers: accounts, entries, payments and statements of the granted subtree become visible, nothing else."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from guardian.shortcuts import assign_perm

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership
from ledger.services import payment_record
from tests.ledger.test_api import api

pytestmark = pytest.mark.django_db


def _paid(alpha) -> int:
    with schema_context(alpha.schema):
        payment, _ = payment_record(actor=SYSTEM, customer=alpha.customer, amount=10_000, method="cash",
                                    idempotency_key="grant-pay", collector=alpha.sub_reseller)
    return payment.pk


def _visible(client, alpha, payment_id: int) -> dict[str, object]:
    accounts = {a["code"] for a in client.get("/api/v1/ledger/accounts/?page_size=500").json()["results"]}
    entries = client.get("/api/v1/ledger/entries/").json()["results"]
    return {
        "accounts": accounts,
        "entries": len(entries),
        "payments": [p["id"] for p in client.get("/api/v1/payments/").json()],
        "payment": client.get(f"/api/v1/payments/{payment_id}/").status_code,
        "customer_statement": client.get(f"/api/v1/reports/customers/{alpha.customer.pk}/statement/").status_code,
        "node_statement": client.get(f"/api/v1/reports/operators/{alpha.reseller.pk}/statement/").status_code,
        "commissions": {r["operator"] for r in client.get("/api/v1/reports/commissions/").json()["rows"]},
    }


def test_a_grant_opens_the_granted_subtrees_books_to_a_sibling_reseller(alpha):
    payment_id = _paid(alpha)
    before = _visible(api(alpha, alpha.sibling_user), alpha, payment_id)
    assert before["payments"] == [] and before["entries"] == 0
    assert before["payment"] == before["customer_statement"] == before["node_statement"] == 404
    assert not any(code.endswith(f":{alpha.reseller.pk}") for code in before["accounts"])
    with schema_context(alpha.schema):
        assign_perm("hierarchy.access_subtree", alpha.sibling_user, alpha.reseller)
    after = _visible(api(alpha, alpha.sibling_user), alpha, payment_id)
    assert after["payments"] == [payment_id] and after["entries"] == 1
    assert after["payment"] == after["customer_statement"] == after["node_statement"] == 200
    assert {f"commission_payable:{alpha.reseller.pk}", f"commission_payable:{alpha.sub_reseller.pk}",
            f"cash_held:{alpha.sub_reseller.pk}", f"receivable:c{alpha.customer.pk}"} <= after["accounts"]
    assert {alpha.reseller.pk, alpha.sub_reseller.pk} <= after["commissions"]
    # The ISP's own books stay closed: no ISP account, no trial balance.
    assert not after["accounts"] & {"bank", "cash", "sales_revenue", "commission_expense"}
    assert api(alpha, alpha.sibling_user).get("/api/v1/reports/trial-balance/").status_code == 403


def test_a_grant_on_a_subtree_does_not_reach_its_siblings_or_parent(alpha):
    payment_id = _paid(alpha)
    with schema_context(alpha.schema):
        accountant = User.objects.create(email="books-desk@alpha.test", role=Role.ACCOUNTANT, password="!")
        Membership.objects.create(user=accountant, operator=alpha.sibling)
        assign_perm("hierarchy.access_subtree", accountant, alpha.sub_reseller)
    seen = _visible(api(alpha, accountant), alpha, payment_id)
    assert seen["payments"] == [payment_id] and seen["customer_statement"] == 200
    assert seen["node_statement"] == 404  # the reseller above the granted node
    assert f"commission_payable:{alpha.reseller.pk}" not in seen["accounts"]
    assert f"commission_payable:{alpha.sub_reseller.pk}" in seen["accounts"]


def test_support_sees_no_books_even_with_a_grant(alpha):
    payment_id = _paid(alpha)
    with schema_context(alpha.schema):
        support = User.objects.create(email="help-desk@alpha.test", role=Role.SUPPORT, password="!")
        Membership.objects.create(user=support, operator=alpha.sibling)
        assign_perm("hierarchy.access_subtree", support, alpha.sub_reseller)
    client = api(alpha, support)
    for url in ("ledger/accounts/", "ledger/entries/", "payments/", f"payments/{payment_id}/",
                f"reports/customers/{alpha.customer.pk}/statement/", f"reports/operators/{alpha.reseller.pk}/statement/",
                "reports/commissions/"):
        response = client.get(f"/api/v1/{url}")
        assert response.status_code in (403, 404), (url, response.status_code)
        assert str(payment_id) not in response.content.decode() or response.status_code == 404


def test_a_grant_in_one_isp_shows_nothing_of_another(alpha, beta):
    _paid(alpha)
    with schema_context(beta.schema):
        assign_perm("hierarchy.access_subtree", beta.sibling_user, beta.reseller)
    client = api(beta, beta.sibling_user)
    assert client.get("/api/v1/payments/").json() == []
    assert client.get(f"/api/v1/payments/{_paid(alpha)}/").status_code == 404
