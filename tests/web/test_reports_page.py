"""The reports page (portal/report_views.py): real Chromium renders the Chart.js charts from an ISP's real
books; scope by the role tree through the same page."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from hierarchy.audit import SYSTEM
from ledger.services import payment_record
from ledger.wallets import subscriber_activate, wallet_topup
from tests.ledger.factories import credit_grant
from tests.ledger.test_reports_business import books  # noqa: F401 (fixture)
from tests.support.personas import PASSWORD, build_personas


def _signed_in(isp, email: str) -> Client:
    client = Client(HTTP_HOST=isp.host)
    response = client.post("/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


@pytest.mark.slow
def test_the_isp_admin_sees_charts_of_its_books(page, web_server, django_db_blocker):
    slug = f"rep{uuid.uuid4().hex[:8]}"
    with django_db_blocker.unblock():
        from hierarchy.models import Subscriber
        from tenants.services import tenant_create

        tenant = tenant_create(name="Chart Net", slug=slug, admin_email=f"admin@{slug}.test", admin_password=PASSWORD)
        isp = build_personas(tenant)
        with schema_context(isp.schema):
            wallet_topup(actor=SYSTEM, node=isp.sub_reseller, amount=100_000, method="bank")
            credit_grant(isp.sibling, "500.00")  # the postpaid sibling sells on credit
            dan = Subscriber.objects.create(username="dan", package=isp.package, owner=isp.sibling)
            for customer in (isp.customer, dan, isp.customer):  # carol renews once: 3 sales of 100.00
                subscriber_activate(actor=SYSTEM, subscriber=customer)
            payment_record(actor=SYSTEM, customer=isp.customer, amount=24_000, method="cash", idempotency_key="page-1",
                           collector=isp.sub_reseller)
            payment_record(actor=SYSTEM, customer=dan, amount=10_500, method="bank", idempotency_key="page-2")

    page.goto(f"http://{slug}.localhost:{web_server}/login/?next=/reports/")
    page.fill("#id_username", f"admin@{slug}.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("body[data-charts-ready='true']")
    assert page.url.endswith("/reports/")
    assert page.inner_text("#kpi-revenue") == "300.00"
    charts = page.evaluate("""() => Object.fromEntries(Object.entries(window.backhaulCharts).map(([id, chart]) => [
        id, {labels: chart.data.labels, data: chart.data.datasets.map(d => d.data),
             drawn: chart.canvas.width > 0 && chart.getDatasetMeta(0).data.length}]))""")
    assert charts["revenue-node"]["labels"] == [isp.sub_reseller.name, isp.sibling.name]
    assert charts["revenue-node"]["data"] == [[200.0, 100.0]]
    assert charts["revenue-package"]["labels"] == ["Home 20M"] and charts["revenue-package"]["data"] == [[300.0]]
    assert sum(charts["revenue-day"]["data"][0]) == 300.0
    assert dict(zip(charts["collections-method"]["labels"], charts["collections-method"]["data"][0], strict=True)) == {
        "bank": 105.0, "cash": 240.0}
    assert dict(zip(charts["customers-status"]["labels"], charts["customers-status"]["data"][0], strict=True)) == {
        "active": 2, "expired": 0, "suspended": 0, "disabled": 0}
    assert set(charts["commissions"]["labels"]) == {isp.reseller.name, isp.sub_reseller.name, isp.sibling.name}
    assert all(chart["drawn"] for chart in charts.values() if any(sum(d) for d in chart["data"]))


@pytest.mark.django_db
def test_the_page_is_scoped_by_the_role_tree(books, beta):  # noqa: F811
    reseller = _signed_in(books, books.reseller_user.email).get("/reports/")
    assert reseller.status_code == 200
    data = reseller.context["chart_data"]
    assert [row["name"] for row in data["revenue"]["node"]] == [books.sub_reseller.name]
    assert reseller.context["counts"]["active"] == 1 and "gus" not in reseller.content.decode()
    sibling = _signed_in(books, books.sibling_user.email).get("/reports/")
    assert "gus" in sibling.content.decode()  # its own churned customer, in the churn table
    other = _signed_in(beta, beta.admin.email).get("/reports/")
    assert other.context["chart_data"]["revenue"]["node"] == [] and "dan" not in other.content.decode()
    assert _signed_in(books, books.customer_user.email).get("/reports/").status_code == 403


@pytest.mark.django_db
def test_a_bad_period_falls_back_with_a_message(alpha):
    response = _signed_in(alpha, alpha.admin.email).get("/reports/?from=2026-02-30&to=x")
    assert response.status_code == 200
    assert len(response.context["errors"]) == 2 and (response.context["end"] - response.context["start"]).days == 30
