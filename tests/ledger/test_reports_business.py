"""Business reports under /api/v1/reports/ (revenue, collections, ARPU, counts, churn, expiries): figures,
scope by the role tree (reseller → its subtree, sibling → its own, other ISP → nothing), CSV, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from hierarchy.models import Subscriber
from hierarchy.subscribers import subscriber_status_set
from ledger.services import payment_record
from ledger.wallets import subscriber_activate, wallet_topup
from tests.ledger.factories import credit_grant
from tests.ledger.test_api import api

pytestmark = pytest.mark.django_db


@pytest.fixture
def books(alpha):
    """Carol (under the sub-reseller) and Dan (under the sibling) activated and paying; three more customers of
    the sibling: expired last week, suspended, disabled today."""
    with schema_context(alpha.schema):
        wallet_topup(actor=SYSTEM, node=alpha.sub_reseller, amount=50_000, method="bank")
        credit_grant(alpha.sibling, "500.00")  # the postpaid sibling sells on credit
        dan = Subscriber.objects.create(username="dan", package=alpha.package, owner=alpha.sibling)
        subscriber_activate(actor=SYSTEM, subscriber=alpha.customer)
        subscriber_activate(actor=SYSTEM, subscriber=dan)
        payment_record(actor=SYSTEM, customer=alpha.customer, amount=12_000, method="cash", idempotency_key="rep-carol",
                       collector=alpha.sub_reseller)
        payment_record(actor=SYSTEM, customer=dan, amount=10_500, method="bank", idempotency_key="rep-dan")
        now = timezone.now()
        Subscriber.objects.create(username="eve", package=alpha.package, owner=alpha.sibling,
                                  expires_at=now - timedelta(days=3))
        Subscriber.objects.create(username="fay", package=alpha.package, owner=alpha.sibling, status="suspended",
                                  expires_at=now + timedelta(days=90))
        gus = Subscriber.objects.create(username="gus", package=alpha.package, owner=alpha.sibling,
                                        expires_at=now + timedelta(days=90))
        subscriber_status_set(actor=SYSTEM, subscriber=gus, status="disabled")
        Subscriber.objects.filter(username__in=["eve", "fay", "gus"]).update(created=now - timedelta(days=60))
        Subscriber.objects.filter(pk__in=[alpha.customer.pk, dan.pk]).update(created=now - timedelta(days=60))
    return alpha


def _get(client, path: str):
    response = client.get(f"/api/v1/reports/{path}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_isp_admin_sees_every_figure(books):
    admin = api(books, books.admin)
    by_node = {row["name"]: row["revenue"] for row in _get(admin, "revenue/?group=node")["rows"]}
    assert by_node == {books.sub_reseller.name: "100.00", books.sibling.name: "100.00"}  # the master price each
    assert _get(admin, "revenue/?group=package")["rows"] == [{"package": books.package.pk, "name": "Home 20M",
                                                              "revenue": "200.00"}]
    today = timezone.now().date().isoformat()
    assert _get(admin, "revenue/?group=day")["rows"] == [{"day": today, "revenue": "200.00"}]
    assert _get(admin, "revenue/?group=month")["total"] == "200.00"
    collections = {(r["method"], r["collector"]): r["net"] for r in _get(admin, "collections/")["rows"]}
    assert collections == {("cash", books.sub_reseller.pk): "120.00", ("bank", None): "105.00"}
    counts = _get(admin, "customer-counts/")["counts"]
    assert counts == {"active": 2, "expired": 1, "suspended": 1, "disabled": 1}
    arpu = _get(admin, "arpu/")
    assert (arpu["revenue"], arpu["active_customers"], arpu["arpu"], arpu["arpu_paying"]) == (
        "200.00", 2, "100.00", "100.00")
    churn = _get(admin, "churn/")
    assert {(r["username"], r["reason"]) for r in churn["rows"]} == {("eve", "lapsed"), ("gus", "disabled")}
    assert churn["customers_at_start"] == 5 and churn["rate_percent"] == 40.0
    expiries = _get(admin, "expiries/?days=31")
    assert {r["username"] for r in expiries["rows"]} == {"carol", "dan"} and expiries["count"] == 2
    assert _get(admin, "expiries/?days=1")["count"] == 0


def test_a_reseller_sees_its_subtree_and_the_sibling_its_own(books):
    reseller = api(books, books.reseller_user)
    assert {r["name"] for r in _get(reseller, "revenue/?group=node")["rows"]} == {books.sub_reseller.name}
    assert _get(reseller, "revenue/")["total"] == "100.00"
    assert [(r["method"], r["net"]) for r in _get(reseller, "collections/")["rows"]] == [("cash", "120.00")]
    assert _get(reseller, "customer-counts/")["counts"]["active"] == 1
    assert _get(reseller, "churn/")["churned"] == 0
    assert {r["username"] for r in _get(reseller, "expiries/?days=31")["rows"]} == {"carol"}
    sibling = api(books, books.sibling_user)
    assert _get(sibling, "revenue/")["total"] == "100.00"
    assert _get(sibling, "customer-counts/")["counts"] == {"active": 1, "expired": 1, "suspended": 1, "disabled": 1}
    assert {r["username"] for r in _get(sibling, "expiries/?days=31")["rows"]} == {"dan"}


def test_another_isp_sees_nothing_and_customers_no_reports(books, beta):
    admin = api(beta, beta.admin)
    assert _get(admin, "revenue/")["rows"] == [] and _get(admin, "collections/")["rows"] == []
    assert sum(_get(admin, "customer-counts/")["counts"].values()) == 1  # beta's own carol, none of alpha's
    assert _get(admin, "expiries/?days=365")["count"] == 0
    customer = api(books, books.customer_user)
    for path in ("revenue/", "collections/", "arpu/", "customer-counts/", "churn/", "expiries/"):
        assert customer.get(f"/api/v1/reports/{path}").status_code == 403


def test_reports_as_csv(books):
    response = api(books, books.admin).get("/api/v1/reports/revenue/?group=node&format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0] == "node,name,revenue" and len(lines) == 3


@pytest.mark.parametrize("query", ["revenue/?group=week", "revenue/?from=yesterday", "collections/?from=2026-02-30",
                                   "churn/?from=2026-05-02&to=2026-05-01", "expiries/?days=0", "expiries/?days=x"])
def test_bad_input_is_a_json_400(alpha, query):
    response = api(alpha, alpha.admin).get(f"/api/v1/reports/{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_the_new_endpoints_are_in_the_openapi_schema(alpha):
    schema = api(alpha, alpha.admin).get("/api/schema/?format=json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("revenue", "collections", "arpu", "customer-counts", "churn", "expiries"):
        assert f"/api/v1/reports/{path}/" in paths
    assert "/api/v1/ledger/entries/{id}/attachments/" in paths
    assert "/api/v1/ledger/entries/{id}/attachments/{attachment_id}/" in paths
    assert "multipart/form-data" in paths["/api/v1/ledger/entries/"]["post"]["requestBody"]["content"]
