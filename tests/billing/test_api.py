"""The billing API with personas: ISP admin, reseller, sub-reseller, the sibling reseller (outsider inside
the ISP), the customer itself, and beta's admin (the other ISP). Bad input → 400 JSON, nothing changed."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from hierarchy.models import Subscriber
from ledger.billing.models import BillingProfile, BillingSettings, CreditNote, PromoCode, PromoRedemption
from ledger.billing.services import invoice_issue_for_period
from ledger.checks import ledger_check
from ledger.models import JournalEntry
from tests.billing.factories import monthly_customer, package
from tests.conftest import host_client
from tests.ledger.factories import check_deferred_now

pytestmark = pytest.mark.django_db
JUNE = datetime.datetime(2026, 6, 1, 9, tzinfo=datetime.UTC)


def api(isp, user) -> Client:
    with schema_context(isp.schema):
        token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_HOST=isp.host, HTTP_AUTHORIZATION=f"Token {token.key}")


def _setup(alpha):
    """Carol (the sub-reseller's customer, with a login) and a customer of the sibling, each invoiced for June."""
    with schema_context(alpha.schema):
        BillingProfile.objects.create(customer=alpha.customer, start_date=datetime.date(2026, 1, 1))
        sibling_customer = monthly_customer(alpha.sibling, alpha.package)
        with time_machine.travel(JUNE, tick=False):
            mine = invoice_issue_for_period(customer=alpha.customer)
            theirs = invoice_issue_for_period(customer=sibling_customer)
    return mine, theirs


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    body = response.json()
    return {row["id"] for row in (body["results"] if isinstance(body, dict) else body)}


def test_invoices_are_scoped_by_the_role_tree(alpha, beta):
    mine, theirs = _setup(alpha)
    assert _ids(api(alpha, alpha.admin).get("/api/v1/invoices/")) == {mine.pk, theirs.pk}
    assert _ids(api(alpha, alpha.reseller_user).get("/api/v1/invoices/")) == {mine.pk}
    assert _ids(api(alpha, alpha.sub_reseller_user).get("/api/v1/invoices/")) == {mine.pk}
    assert _ids(api(alpha, alpha.sibling_user).get("/api/v1/invoices/")) == {theirs.pk}
    assert _ids(api(alpha, alpha.customer_user).get("/api/v1/invoices/")) == {mine.pk}
    for client in (api(alpha, alpha.sibling_user), api(beta, beta.admin)):
        for suffix in ("", "pdf/"):
            assert client.get(f"/api/v1/invoices/{mine.pk}/{suffix}").status_code == 404
        assert client.post(f"/api/v1/invoices/{mine.pk}/void/", {}, content_type="application/json").status_code == 404
    detail = api(alpha, alpha.sub_reseller_user).get(f"/api/v1/invoices/{mine.pk}/").json()
    assert detail["number"] == mine.number and detail["total"] == "120.00" and detail["lines"][0]["total"] == "120.00"
    admin = api(alpha, alpha.admin)
    assert _ids(admin.get("/api/v1/invoices/", {"customer": alpha.customer.pk})) == {mine.pk}
    assert _ids(admin.get("/api/v1/invoices/", {"status": "paid"})) == set()
    assert _ids(admin.get("/api/v1/invoices/", {"overdue": "true"})) == {mine.pk, theirs.pk}  # due 8 June 2026
    bad = admin.get("/api/v1/invoices/", {"status": "bogus"})
    assert bad.status_code == 400 and "status" in bad.json()["errors"]


def test_invoice_pdf_carries_the_branding(alpha):
    mine, _ = _setup(alpha)
    with schema_context(alpha.schema):  # markup-like characters in names are text, not ReportLab markup
        Subscriber.objects.filter(pk=alpha.customer.pk).update(full_name="Carol <b>& Co", address="1 <Main> St")
    response = api(alpha, alpha.customer_user).get(f"/api/v1/invoices/{mine.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and len(response.content) > 1500
    assert b"Alpha Net" in response.content and mine.number.encode() in response.content


def test_void_and_credit_notes(alpha):
    mine, theirs = _setup(alpha)
    sub = api(alpha, alpha.sub_reseller_user)
    assert sub.post(f"/api/v1/invoices/{mine.pk}/void/", {}, content_type="application/json").status_code == 403
    admin = api(alpha, alpha.admin)
    for amount in ("abc", "-1", "0", "0.001", "500.00"):
        bad = admin.post(f"/api/v1/invoices/{mine.pk}/credit-notes/", {"amount": amount, "reason": "x"},
                         content_type="application/json")
        assert bad.status_code == 400 and bad.json()["errors"], (amount, bad.content)
    assert admin.post(f"/api/v1/invoices/{mine.pk}/credit-notes/", {"amount": "10.00"},
                      content_type="application/json").status_code == 400
    with schema_context(alpha.schema):
        assert not CreditNote.objects.exists()
    note = admin.post(f"/api/v1/invoices/{mine.pk}/credit-notes/", {"amount": "20.00", "reason": "outage"},
                      content_type="application/json")
    assert note.status_code == 201 and note.json()["total"] == "20.00"
    assert admin.get(f"/api/v1/invoices/{mine.pk}/").json()["outstanding"] == "100.00"
    voided = admin.post(f"/api/v1/invoices/{theirs.pk}/void/", {"reason": "wrong"}, content_type="application/json")
    assert voided.status_code == 200 and voided.json()["status"] == "void"
    again = admin.post(f"/api/v1/invoices/{theirs.pk}/void/", {}, content_type="application/json")
    assert again.status_code == 400
    with schema_context(alpha.schema):
        assert JournalEntry.objects.filter(reversal_of_id=theirs.entry_id).count() == 1
    assert [row["id"] for row in admin.get("/api/v1/credit-notes/").json()["results"]] == [note.json()["id"]]
    assert api(alpha, alpha.sibling_user).get("/api/v1/credit-notes/").json()["results"] == []
    with schema_context(alpha.schema):
        check_deferred_now()
        assert ledger_check().ok


def test_pay_an_invoice(alpha):
    mine, _ = _setup(alpha)
    sub = api(alpha, alpha.sub_reseller_user)
    url = f"/api/v1/invoices/{mine.pk}/pay/"
    assert sub.post(url, {"amount": "50.00", "method": "cash"}, content_type="application/json").status_code == 400
    bad = sub.post(url, {"amount": "-5", "method": "gold"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="p1")
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"amount", "method"}
    paid = sub.post(url, {"amount": "50.00", "method": "cash"}, content_type="application/json",
                    HTTP_IDEMPOTENCY_KEY="p1")
    assert paid.status_code == 201 and paid.json()["status"] == "partially_paid" and paid.json()["amount_paid"] == "50.00"
    replay = sub.post(url, {"amount": "50.00", "method": "cash"}, content_type="application/json",
                      HTTP_IDEMPOTENCY_KEY="p1")
    assert replay.status_code == 200 and replay.json()["amount_paid"] == "50.00"
    with schema_context(alpha.schema):
        check_deferred_now()
        assert ledger_check().ok
    assert api(alpha, alpha.sibling_user).post(url, {"amount": "1.00", "method": "cash"},
                                               content_type="application/json",
                                               HTTP_IDEMPOTENCY_KEY="p2").status_code == 404


def test_package_change_preview_and_confirm(alpha):
    with schema_context(alpha.schema):
        fiber = package("Fiber", "150.00", [(alpha.reseller, "160.00"), (alpha.sub_reseller, "175.00")])
    _setup(alpha)
    sub = api(alpha, alpha.sub_reseller_user)
    url = f"/api/v1/customers/{alpha.customer.pk}/package-change/"
    with time_machine.travel(datetime.datetime(2026, 6, 21, 9, tzinfo=datetime.UTC), tick=False):
        assert sub.post(url + "preview/", {"package": "x"}, content_type="application/json").status_code == 400
        assert sub.post(url + "preview/", {"package": 999_999}, content_type="application/json").status_code == 400
        assert api(alpha, alpha.sibling_user).post(url + "preview/", {"package": fiber.pk},
                                                   content_type="application/json").status_code == 404
        assert api(alpha, alpha.customer_user).post(
            url + "preview/", {"package": fiber.pk}, content_type="application/json").status_code == 403
        preview = sub.post(url + "preview/", {"package": fiber.pk}, content_type="application/json")
        assert preview.status_code == 200, preview.content
        quote = preview.json()
        assert quote["days_remaining"] == 10 and quote["credit"]["total"] == "40.00"
        assert quote["charge"]["total"] == "58.33" and quote["net_total"] == "18.33"
        with schema_context(alpha.schema):
            assert not CreditNote.objects.exists()
        done = sub.post(url, {"package": fiber.pk}, content_type="application/json")
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["credit_note"]["total"] == quote["credit"]["total"]
    assert body["invoice"]["total"] == quote["charge"]["total"]
    with schema_context(alpha.schema):
        # (a fresh row: the persona object is shared by the whole session)
        assert Subscriber.objects.get(pk=alpha.customer.pk).package_id == fiber.pk
        check_deferred_now()
        assert ledger_check().ok


def test_billing_profile_and_model_switch(alpha):
    _setup(alpha)
    sub = api(alpha, alpha.sub_reseller_user)
    admin = api(alpha, alpha.admin)
    base = f"/api/v1/customers/{alpha.customer.pk}/"
    profile = sub.get(base + "billing-profile/")
    assert profile.status_code == 200 and profile.json()["model"] == "monthly" and profile.json()["credit"] == "0.00"
    # Terms, discounts and model switches are the ISP's: a reseller is refused, nothing changes.
    assert sub.patch(base + "billing-profile/", {"terms": "postpaid", "reason": "asked"},
                     content_type="application/json").status_code == 403
    assert sub.post(base + "billing-model/", {"model": "daily", "open_invoices": "keep", "reason": "asked"},
                    content_type="application/json").status_code == 403
    assert admin.patch(base + "billing-profile/", {"discount_percent": "101", "reason": "loyal"},
                       content_type="application/json").status_code == 400
    assert admin.patch(base + "billing-profile/", {"terms": "postpaid"},
                       content_type="application/json").status_code == 400  # no reason
    with schema_context(alpha.schema):
        assert BillingProfile.objects.get(customer=alpha.customer).terms == "prepaid"
    assert admin.patch(base + "billing-profile/", {"terms": "postpaid", "reason": "pays at month end"},
                       content_type="application/json").json()["terms"] == "postpaid"
    refused = admin.post(base + "billing-model/", {"model": "daily", "reason": "moves"},
                         content_type="application/json")
    assert refused.status_code == 400 and "open_invoices" in refused.json()["errors"]
    assert admin.post(base + "billing-model/", {"model": "weekly", "open_invoices": "keep", "reason": "moves"},
                      content_type="application/json").status_code == 400
    with schema_context(alpha.schema):
        assert BillingProfile.objects.get(customer=alpha.customer).model == "monthly"
    switched = admin.post(base + "billing-model/", {"model": "daily", "open_invoices": "keep", "reason": "moves"},
                          content_type="application/json")
    assert switched.status_code == 200 and switched.json()["model"] == "daily"
    assert api(alpha, alpha.sibling_user).get(base + "billing-profile/").status_code == 404


def test_promo_codes_crud_and_redeem(alpha, beta):
    admin = api(alpha, alpha.admin)
    assert api(alpha, alpha.reseller_user).get("/api/v1/promo-codes/").status_code == 403
    for body in ({"code": "X1", "kind": "percent", "percent": "150"}, {"code": "X2", "kind": "bogus"},
                 {"code": "bad code!", "kind": "fixed", "amount": "5.00"}, {"code": "X3", "kind": "fixed"},
                 {"code": "X4", "kind": "percent", "percent": "10", "valid_from": "2026-02-01T00:00:00Z",
                  "valid_until": "2026-01-01T00:00:00Z"}, {"code": "X5", "kind": "percent", "percent": "10"}):
        reason = {} if body["code"] == "X5" else {"reason": "campaign"}  # X5: no reason
        response = admin.post("/api/v1/promo-codes/", {**body, **reason}, content_type="application/json")
        assert response.status_code == 400 and response.json()["errors"], body
    with schema_context(alpha.schema):
        assert not PromoCode.objects.exists()
    created = admin.post("/api/v1/promo-codes/", {"code": "summer10", "kind": "percent", "percent": "10",
                                                  "usage_limit": 5, "reason": "summer campaign"},
                         content_type="application/json")
    assert created.status_code == 201 and created.json()["code"] == "SUMMER10"
    pk = created.json()["id"]
    assert admin.post("/api/v1/promo-codes/", {"code": "SUMMER10", "kind": "fixed", "amount": "1.00",
                                               "reason": "twice"}, content_type="application/json").status_code == 400
    assert admin.patch(f"/api/v1/promo-codes/{pk}/", {"usage_limit": 3, "reason": "budget"},
                       content_type="application/json").json()["usage_limit"] == 3
    assert api(beta, beta.admin).get(f"/api/v1/promo-codes/{pk}/").status_code == 404
    sub = api(alpha, alpha.sub_reseller_user)
    redeemed = sub.post("/api/v1/promo-codes/redeem/", {"code": "summer10", "customer": alpha.customer.pk},
                        content_type="application/json")
    assert redeemed.status_code == 201
    twice = api(alpha, alpha.customer_user).post("/api/v1/promo-codes/redeem/",
                                                  {"code": "SUMMER10", "customer": alpha.customer.pk},
                                                  content_type="application/json")
    assert twice.status_code == 400 and "already used" in twice.json()["detail"]
    assert api(alpha, alpha.sibling_user).post("/api/v1/promo-codes/redeem/",
                                               {"code": "SUMMER10", "customer": alpha.customer.pk},
                                               content_type="application/json").status_code == 400
    assert admin.delete(f"/api/v1/promo-codes/{pk}/").status_code == 400  # used: deactivate instead
    with schema_context(alpha.schema):
        assert PromoRedemption.objects.count() == 1 and PromoCode.objects.get(pk=pk).times_used == 1


def test_billing_settings(alpha, beta):
    admin = api(alpha, alpha.admin)
    assert admin.get("/api/v1/billing/settings/").json()["grace_days"] == 7
    assert api(alpha, alpha.reseller_user).get("/api/v1/billing/settings/").status_code == 403
    assert api(alpha, alpha.reseller_user).patch("/api/v1/billing/settings/", {"grace_days": 1},
                                                 content_type="application/json").status_code == 403
    for body in ({"grace_days": -1}, {"late_fee_percent": "200"}, {"late_fee_fixed": "-1"}):
        assert admin.patch("/api/v1/billing/settings/", body, content_type="application/json").status_code == 400
    changed = admin.patch("/api/v1/billing/settings/", {"late_fee_fixed": "2.50", "calendar_month": True},
                          content_type="application/json")
    assert changed.status_code == 200 and changed.json()["late_fee_fixed"] == "2.50"
    with schema_context(alpha.schema):
        assert BillingSettings.objects.get().late_fee_fixed == 250 and BillingSettings.objects.get().grace_days == 7
    with schema_context(beta.schema):
        assert not BillingSettings.objects.filter(late_fee_fixed=250).exists()


def test_receivables_aging(alpha, beta):
    mine, theirs = _setup(alpha)  # both due 8 June 2026: 120.00 and 105.00 (the sibling's price)
    admin = api(alpha, alpha.admin)
    report = admin.get("/api/v1/reports/receivables-aging/", {"on": "2026-07-20"})
    assert report.status_code == 200, report.content
    body = report.json()
    assert body["totals"] == {"current": "0.00", "1_30": "0.00", "31_60": "225.00", "61_90": "0.00",
                              "over_90": "0.00", "total": "225.00"}
    assert api(alpha, alpha.admin).get("/api/v1/reports/receivables-aging/", {"on": "2026-06-01"}).json()[
        "totals"]["current"] == "225.00"
    sibling = api(alpha, alpha.sibling_user).get("/api/v1/reports/receivables-aging/", {"on": "2026-07-20"}).json()
    assert [row["customer"] for row in sibling["rows"]] == [theirs.customer_id]
    by_owner = admin.get("/api/v1/reports/receivables-aging/", {"owner": alpha.reseller.pk}).json()
    assert [row["customer"] for row in by_owner["rows"]] == [alpha.customer.pk]
    assert api(alpha, alpha.sibling_user).get("/api/v1/reports/receivables-aging/",
                                              {"owner": alpha.reseller.pk}).status_code == 400
    assert api(beta, beta.admin).get("/api/v1/reports/receivables-aging/").json()["rows"] == []
    assert api(alpha, alpha.customer_user).get("/api/v1/reports/receivables-aging/").status_code == 403
    assert admin.get("/api/v1/reports/receivables-aging/", {"on": "June"}).status_code == 400
    csv_body = admin.get("/api/v1/reports/receivables-aging/", {"on": "2026-07-20", "format": "csv"})
    assert csv_body.status_code == 200 and csv_body["Content-Type"].startswith("text/csv")
    lines = csv_body.content.decode().strip().splitlines()
    assert lines[0] == "customer,username,owner,current,1_30,31_60,61_90,over_90,total" and len(lines) == 3
    assert mine.number


def test_billing_endpoints_are_in_the_openapi_schema(alpha):
    schema = host_client(alpha.host).get("/api/schema/")
    assert schema.status_code == 200
    for path in (b"/api/v1/invoices/", b"/api/v1/invoices/{id}/pdf/", b"/api/v1/invoices/{id}/void/",
                 b"/api/v1/invoices/{id}/credit-notes/", b"/api/v1/invoices/{id}/pay/",
                 b"/api/v1/customers/{id}/package-change/preview/", b"/api/v1/customers/{id}/package-change/",
                 b"/api/v1/customers/{id}/billing-model/", b"/api/v1/promo-codes/", b"/api/v1/promo-codes/{id}/",
                 b"/api/v1/billing/settings/", b"/api/v1/reports/receivables-aging/", b"/api/v1/credit-notes/"):
        assert path in schema.content, path
    assert Decimal("1")
