"""The voucher and recharge API with personas: the ISP admin, the reseller, its sub-reseller, a card
distributor, the sibling reseller (outsider inside the ISP), the customer, and beta (another ISP)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from hierarchy.models import Package, Subscriber
from ledger.billing.documents import tenant_today
from ledger.checks import ledger_check
from ledger.models import JournalEntry
from ledger.vouchers.models import Recharge, Voucher, VoucherBatch
from ledger.vouchers.pins import pin_format
from tests.ledger.test_api import api
from tests.vouchers.factories import distributor, fund, pin_of

pytestmark = pytest.mark.django_db


def _batch(client: Client, **overrides):
    body = {"package": overrides.pop("package"), "quantity": 1, "unit": "days", "face_price": "5.00", "count": 3,
            "commission_percent": "10", **overrides}
    return client.post("/api/v1/voucher-batches/", body, content_type="application/json")


def test_batches_are_created_listed_printed_and_scoped(alpha, beta):
    reseller = api(alpha, alpha.reseller_user)
    created = _batch(reseller, package=alpha.package.pk)
    assert created.status_code == 201, created.content
    batch = created.json()
    assert batch["owner"] == alpha.reseller.pk and batch["face_price"] == "5.00"
    assert batch["stock"] == {"new": 3, "sold": 0, "redeemed": 0, "void": 0}
    assert "pin" not in str(batch).lower()
    assert [b["id"] for b in api(alpha, alpha.admin).get("/api/v1/voucher-batches/").json()] == [batch["id"]]
    for outsider in (api(alpha, alpha.sibling_user), api(alpha, alpha.sub_reseller_user), api(alpha, alpha.customer_user)):
        assert outsider.get("/api/v1/voucher-batches/").json() == []
        assert outsider.get(f"/api/v1/voucher-batches/{batch['id']}/").status_code == 404
        assert outsider.get(f"/api/v1/voucher-batches/{batch['id']}/pdf/").status_code == 404
    assert api(beta, beta.admin).get(f"/api/v1/voucher-batches/{batch['id']}/").status_code == 404
    pdf = reseller.get(f"/api/v1/voucher-batches/{batch['id']}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    with schema_context(alpha.schema):
        pins = [pin_format(pin_of(v)) for v in Voucher.objects.filter(batch_id=batch["id"])]
    assert all(pin.encode() in pdf.content for pin in pins)
    assert b"Alpha Net" in pdf.content and b"Home 20M - 1 day" in pdf.content
    with schema_context(alpha.schema):
        today = tenant_today()
    # No date given: the ISP's longest validity (366 days by default).
    last = (today + timedelta(days=366)).isoformat()
    assert batch["valid_until"] == last and f"Use by {last}".encode() in pdf.content

    assert _batch(reseller, package=alpha.package.pk, count=1, valid_until="2099-12-31").status_code == 400
    until = (today + timedelta(days=300)).isoformat()
    dated = _batch(reseller, package=alpha.package.pk, count=1, valid_until=until)
    assert dated.status_code == 201 and dated.json()["valid_until"] == until
    cards = reseller.get(f"/api/v1/vouchers/?batch={dated.json()['id']}")
    assert [card["valid_until"] for card in cards.json()] == [until], cards.content
    assert f"Use by {until}".encode() in reseller.get(f"/api/v1/voucher-batches/{dated.json()['id']}/pdf/").content


def test_batch_bad_input_is_a_json_400_and_creates_nothing(alpha):
    reseller = api(alpha, alpha.reseller_user)
    with schema_context(alpha.schema):
        unassigned = Package.objects.create(name="ISP only", type="pppoe", download_kbps=1, upload_kbps=1, price=9).pk
    cases = [
        ({"package": unassigned}, "package"),
        ({"package": alpha.package.pk, "count": 0}, "count"),
        ({"package": alpha.package.pk, "face_price": "abc"}, "face_price"),
        ({"package": alpha.package.pk, "unit": "weeks"}, "unit"),
        ({"package": alpha.package.pk, "owner": alpha.sibling.pk}, "owner"),
        ({"package": alpha.package.pk, "commission_percent": "100"}, "commission_percent"),
        ({"package": alpha.package.pk, "valid_until": "2001-02-03"}, "valid_until"),
        ({"package": alpha.package.pk, "valid_until": "soon"}, "valid_until"),
    ]
    for body, field in cases:
        response = _batch(reseller, **body)
        assert response.status_code == 400 and field in response.json()["errors"], (body, response.content)
    assert _batch(api(alpha, alpha.customer_user), package=alpha.package.pk).status_code == 403
    with schema_context(alpha.schema):
        assert not VoucherBatch.objects.exists() and not Voucher.objects.exists()


def test_distributor_sells_its_stock_customer_redeems_staff_voids(alpha, beta):
    reseller = api(alpha, alpha.reseller_user)
    batch = _batch(reseller, package=alpha.package.pk, owner=alpha.sub_reseller.pk, count=4).json()
    with schema_context(alpha.schema):
        seller = distributor(alpha.sub_reseller)
        foreign = distributor(alpha.sibling)
    assign = reseller.post(f"/api/v1/voucher-batches/{batch['id']}/assign/", {"distributor": foreign.pk, "count": 1},
                           content_type="application/json")
    assert assign.status_code == 400 and "distributor" in assign.json()["errors"]
    assign = reseller.post(f"/api/v1/voucher-batches/{batch['id']}/assign/", {"distributor": seller.pk, "count": 2},
                           content_type="application/json")
    assert assign.status_code == 200 and [v["number"] for v in assign.json()] == [1, 2]
    cards = api(alpha, seller)
    stock = cards.get("/api/v1/vouchers/").json()
    assert [v["number"] for v in stock] == [1, 2] and {v["status"] for v in stock} == {"new"}
    with schema_context(alpha.schema):
        unassigned = Voucher.objects.get(batch_id=batch["id"], number=3)
        mine = [pin_format(pin_of(v)) for v in Voucher.objects.filter(distributor=seller)]
        theirs = pin_format(pin_of(unassigned))
    sheet = cards.get(f"/api/v1/voucher-batches/{batch['id']}/pdf/")
    assert sheet.status_code == 200 and all(p.encode() in sheet.content for p in mine)
    assert theirs.encode() not in sheet.content  # a distributor prints its own stock only
    assert cards.post(f"/api/v1/vouchers/{unassigned.pk}/sell/").status_code == 404
    assert api(alpha, alpha.sibling_user).post(f"/api/v1/vouchers/{stock[0]['id']}/sell/").status_code == 404
    assert api(beta, beta.admin).post(f"/api/v1/vouchers/{stock[0]['id']}/sell/").status_code == 404
    sold = [cards.post(f"/api/v1/vouchers/{v['id']}/sell/") for v in stock]
    assert [s.status_code for s in sold] == [200, 200]
    assert sold[0].json()["status"] == "sold" and sold[0].json()["commission"] == "0.50"
    assert cards.post(f"/api/v1/vouchers/{stock[0]['id']}/sell/").status_code == 400  # once
    assert cards.post(f"/api/v1/vouchers/{stock[1]['id']}/void/").status_code == 403  # a distributor does not void
    void = reseller.post(f"/api/v1/vouchers/{stock[1]['id']}/void/")
    assert void.status_code == 200 and void.json()["status"] == "void" and void.json()["void_entry"]

    with schema_context(alpha.schema):
        pin = pin_of(Voucher.objects.get(pk=stock[0]["id"]))
        void_pin = pin_of(Voucher.objects.get(pk=stock[1]["id"]))
    customer = api(alpha, alpha.customer_user)
    redeemed = customer.post("/api/v1/vouchers/redeem/", {"pin": pin_format(pin).lower()},
                             content_type="application/json")
    assert redeemed.status_code == 200, redeemed.content
    body = redeemed.json()
    assert body["voucher"]["status"] == "redeemed" and body["recharge"]["source"] == "voucher"
    again = customer.post("/api/v1/vouchers/redeem/", {"pin": pin}, content_type="application/json")
    assert again.status_code == 400 and "already used" in again.json()["detail"]
    voided = customer.post("/api/v1/vouchers/redeem/", {"pin": void_pin}, content_type="application/json")
    assert voided.status_code == 400 and "cancelled" in voided.json()["detail"]
    # Staff redeem on behalf of a customer in scope only.
    assert api(alpha, alpha.sibling_user).post("/api/v1/vouchers/redeem/", {"pin": pin, "customer": alpha.customer.pk},
                                               content_type="application/json").status_code == 400

    stock_report = reseller.get("/api/v1/reports/vouchers/stock/?by=status").json()["rows"]
    assert {r["status"]: r["count"] for r in stock_report} == {"new": 2, "redeemed": 1, "void": 1}
    by_distributor = cards.get("/api/v1/reports/vouchers/stock/?by=distributor").json()["rows"]
    assert {(r["distributor"], r["status"]) for r in by_distributor} == {(seller.email, "redeemed"),
                                                                          (seller.email, "void")}
    sales = reseller.get("/api/v1/reports/vouchers/sales/?by=distributor").json()["rows"]
    assert sales == [{"seller_node": alpha.sub_reseller.pk, "seller_name": alpha.sub_reseller.name,
                      "sold_by": seller.email, "count": 2, "face_value": "10.00", "commission": "1.00",
                      "voided": 1, "redeemed": 1}]
    by_day = reseller.get("/api/v1/reports/vouchers/sales/?by=day&format=csv")
    assert by_day["Content-Type"].startswith("text/csv")
    assert by_day.content.decode().splitlines()[0] == "day,count,face_value,commission,voided,redeemed"
    assert api(alpha, alpha.sibling_user).get("/api/v1/reports/vouchers/sales/?by=day").json()["rows"] == []
    assert reseller.get("/api/v1/reports/vouchers/stock/?by=colour").status_code == 400
    assert api(beta, beta.admin).get("/api/v1/reports/vouchers/stock/?by=batch").json()["rows"] == []
    assert api(beta, beta.admin).get("/api/v1/vouchers/").json() == []
    with schema_context(alpha.schema):
        assert ledger_check().ok


def test_wrong_pins_are_limited_per_customer_and_address(alpha):
    batch_id = _batch(api(alpha, alpha.admin), package=alpha.package.pk, redeem_unsold=True).json()["id"]
    with schema_context(alpha.schema):
        good = pin_of(Voucher.objects.filter(batch_id=batch_id).first())
        expires = Subscriber.objects.get(pk=alpha.customer.pk).expires_at
    customer = api(alpha, alpha.customer_user)
    for attempt in range(5):
        wrong = customer.post("/api/v1/vouchers/redeem/", {"pin": f"2345-6789-ABCD-EFG{'HJKMN'[attempt]}"},
                              content_type="application/json")
        assert wrong.status_code == 400 and "not valid" in wrong.json()["detail"]
    blocked = customer.post("/api/v1/vouchers/redeem/", {"pin": good}, content_type="application/json")
    assert blocked.status_code == 429 and int(blocked["Retry-After"]) > 800
    assert "try again in 15 minutes" in blocked.json()["detail"]
    # The same address is blocked for staff redeeming for another customer, too.
    admin = api(alpha, alpha.admin)
    assert admin.post("/api/v1/vouchers/redeem/", {"pin": good, "customer": alpha.customer.pk},
                      content_type="application/json").status_code == 429
    elsewhere = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=admin.defaults["HTTP_AUTHORIZATION"],
                       REMOTE_ADDR="10.9.8.7")
    assert elsewhere.post("/api/v1/vouchers/redeem/", {"pin": good, "customer": alpha.customer.pk},
                          content_type="application/json").status_code == 429  # the customer is limited too
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(pk=alpha.customer.pk).expires_at == expires
        assert not Recharge.objects.exists()


def test_recharge_api_idempotent_scoped_and_refuses_overdraw(alpha, beta):
    with schema_context(alpha.schema):
        fund(alpha, sub=10_00)
    sub = api(alpha, alpha.sub_reseller_user)
    body = {"customer": alpha.customer.pk, "quantity": 2, "unit": "days"}
    assert sub.post("/api/v1/recharges/", body, content_type="application/json").status_code == 400  # no key
    first = sub.post("/api/v1/recharges/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r1")
    assert first.status_code == 201, first.content
    assert first.json()["cost"] == "7.33" and first.json()["source"] == "reseller"
    replay = sub.post("/api/v1/recharges/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="r1")
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    conflict = sub.post("/api/v1/recharges/", {**body, "quantity": 3}, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="r1")
    assert conflict.status_code == 409
    broke = sub.post("/api/v1/recharges/", {**body, "quantity": 1}, content_type="application/json",
                     HTTP_IDEMPOTENCY_KEY="r2")
    assert broke.status_code == 400 and "nothing was changed" in broke.json()["errors"]["amount"][0]
    for bad in ({**body, "quantity": 0}, {**body, "unit": "weeks"}, {**body, "customer": 10**9}):
        response = sub.post("/api/v1/recharges/", bad, content_type="application/json", HTTP_IDEMPOTENCY_KEY="bad")
        assert response.status_code == 400
    sibling = api(alpha, alpha.sibling_user)
    assert sibling.post("/api/v1/recharges/", body, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="s1").status_code == 400
    assert sibling.get("/api/v1/recharges/").json() == []
    assert api(beta, beta.admin).get("/api/v1/recharges/").json() == []
    assert api(alpha, alpha.customer_user).post("/api/v1/recharges/", body, content_type="application/json",
                                                HTTP_IDEMPOTENCY_KEY="c1").status_code == 403
    assert [r["id"] for r in api(alpha, alpha.customer_user).get("/api/v1/recharges/").json()] == [first.json()["id"]]
    report = api(alpha, alpha.admin).get("/api/v1/reports/recharges/?by=package").json()["rows"]
    assert report == [{"package": alpha.package.pk, "package_name": "Home 20M", "source": "reseller", "count": 1,
                       "price": "8.00", "cost": "7.33"}]
    csv = api(alpha, alpha.admin).get("/api/v1/reports/recharges/?by=day&format=csv").content.decode()
    assert csv.splitlines()[0] == "day,source,count,price,cost" and csv.splitlines()[1].endswith(",reseller,1,8.00,7.33")
    with schema_context(alpha.schema):
        assert JournalEntry.objects.filter(kind="recharge").count() == 1
        assert ledger_check().ok


def test_endpoints_are_in_the_openapi_schema(alpha):
    schema = api(alpha, alpha.admin).get("/api/schema/?format=json").json()
    for path in ("/api/v1/voucher-batches/", "/api/v1/voucher-batches/{id}/pdf/", "/api/v1/voucher-batches/{id}/assign/",
                 "/api/v1/vouchers/", "/api/v1/vouchers/redeem/", "/api/v1/vouchers/{id}/sell/",
                 "/api/v1/vouchers/{id}/void/", "/api/v1/recharges/", "/api/v1/reports/vouchers/stock/",
                 "/api/v1/reports/vouchers/sales/", "/api/v1/reports/recharges/"):
        assert path in schema["paths"], path
