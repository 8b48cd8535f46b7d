"""Customers: the contract, validation (usernames, MAC, static IP, custom fields), usernames per
tenant, filters with pagination, CSV export, and the audit trail per object."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.models import CustomFieldDefinition, Subscriber
from tests.hierarchy.api import api_for

pytestmark = pytest.mark.django_db


def _new(isp, **extra):
    return {"username": "dave", "password": "pppoe-pass", "connection_type": "pppoe",
            "package": isp.package.pk, "owner": isp.sub_reseller.pk, **extra}


def test_contract_create_suspend_reactivate(alpha):
    sub = api_for(alpha, alpha.sub_reseller_user)
    response = sub.post("customers/", _new(alpha, mac_address="aa-bb-cc-dd-ee-0f"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert isinstance(body["id"], int) and body["status"] == "active" and body["mac_address"] == "AA:BB:CC:DD:EE:0F"
    assert "password" not in body
    suspended = sub.post(f"customers/{body['id']}/suspend/")
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    assert sub.post(f"customers/{body['id']}/suspend/").status_code == 400  # already suspended
    assert sub.post(f"customers/{body['id']}/reactivate/").json()["status"] == "active"


def test_username_unique_within_a_tenant_not_across(alpha, beta):
    assert api_for(alpha, alpha.admin).post("customers/", _new(alpha)).status_code == 201
    assert api_for(beta, beta.admin).post("customers/", _new(beta)).status_code == 201
    again = api_for(alpha, alpha.reseller_user).post("customers/", _new(alpha))
    assert again.status_code == 400 and "already taken" in again.json()["errors"]["username"][0]
    # "carol" exists in both ISPs from the personas.
    with schema_context(alpha.schema):
        assert Subscriber.objects.filter(username="carol").count() == 1
    with schema_context(beta.schema):
        assert Subscriber.objects.filter(username="carol").count() == 1


@pytest.mark.parametrize("username", ["bad name", "-lead", "semi;colon", "x" * 65, "quo'te", ""])
def test_usernames_are_pppoe_safe(alpha, username):
    response = api_for(alpha, alpha.admin).post("customers/", _new(alpha, username=username))
    assert response.status_code == 400 and "username" in response.json()["errors"]


def test_static_ip_unique_and_required(alpha):
    admin = api_for(alpha, alpha.admin)
    assert admin.post("customers/", _new(alpha, username="s1", connection_type="static")).status_code == 400
    assert admin.post("customers/", _new(alpha, username="s1", connection_type="static",
                                         ip_address="10.20.0.5")).status_code == 201
    taken = admin.post("customers/", _new(alpha, username="s2", connection_type="static", ip_address="10.20.0.5"))
    assert taken.status_code == 400 and "ip_address" in taken.json()["errors"]
    assert admin.post("customers/", _new(alpha, username="s3", ip_address="10.20.0.999")).status_code == 400


def test_mac_normalised_and_unique(alpha):
    admin = api_for(alpha, alpha.admin)
    first = admin.post("customers/", _new(alpha, username="h1", connection_type="hotspot",
                                          mac_address="a0b1.c2d3.e4f5"))
    assert first.status_code == 201 and first.json()["mac_address"] == "A0:B1:C2:D3:E4:F5"
    dup = admin.post("customers/", _new(alpha, username="h2", connection_type="hotspot",
                                        mac_address="a0:b1:c2:d3:e4:f5"))
    assert dup.status_code == 400 and "mac_address" in dup.json()["errors"]
    assert admin.post("customers/", _new(alpha, username="h3", mac_address="zz:zz")).status_code == 400
    assert admin.post("customers/", _new(alpha, username="h4", connection_type="hotspot")).status_code == 400


def test_custom_fields_are_validated(alpha):
    with schema_context(alpha.schema):
        CustomFieldDefinition.objects.create(key="floor", label="Floor", type="number")
        CustomFieldDefinition.objects.create(key="plan", label="Plan", type="choice", choices=["home", "biz"],
                                             required=True)
        CustomFieldDefinition.objects.create(key="since", label="Since", type="date")
    admin = api_for(alpha, alpha.admin)
    ok = admin.post("customers/", _new(alpha, custom_fields={"floor": "3", "plan": "biz", "since": "2024-01-31"}))
    assert ok.status_code == 201, ok.content
    assert ok.json()["custom_fields"] == {"floor": "3", "plan": "biz", "since": "2024-01-31"}
    for bad in ({"plan": "gold"}, {"floor": "three", "plan": "home"}, {"plan": "home", "since": "31/01/2024"},
                {"floor": "1"}, {"plan": "home", "colour": "red"}):
        response = admin.post("customers/", _new(alpha, username="cf-bad", custom_fields=bad))
        assert response.status_code == 400 and "custom_fields" in response.json()["errors"], bad


def test_package_must_be_offered_by_the_owner(alpha):
    with schema_context(alpha.schema):
        from hierarchy.models import Package

        other = Package.objects.create(name="Not for subs", type="pppoe", download_kbps=1, upload_kbps=1,
                                       price="5.00", validity_days=30)
    admin = api_for(alpha, alpha.admin)
    response = admin.post("customers/", _new(alpha, package=other.pk))
    assert response.status_code == 400 and "not offered" in response.json()["detail"]
    # The sub-reseller does not even see that package.
    sub = api_for(alpha, alpha.sub_reseller_user)
    assert sub.post("customers/", _new(alpha, package=other.pk)).status_code == 400


def _seed(isp):
    now = timezone.now()
    with schema_context(isp.schema):
        rows = [
            Subscriber(username="f-soon", password="x", package=isp.package, owner=isp.sub_reseller,
                       full_name="Fiona Soon", expires_at=now + timedelta(days=2)),
            Subscriber(username="f-later", password="x", package=isp.package, owner=isp.reseller,
                       full_name="Frank Later", expires_at=now + timedelta(days=40), status="suspended"),
            Subscriber(username="f-static", password="x", package=isp.package, owner=isp.sibling,
                       connection_type="static", ip_address="10.30.0.1", mobile="+15550001"),
        ]
        Subscriber.objects.bulk_create(rows)


def test_filters_search_and_pagination(alpha):
    _seed(alpha)
    admin = api_for(alpha, alpha.admin)

    def names(**params):
        response = admin.get("customers/", params)
        assert response.status_code == 200, response.content
        return [c["username"] for c in response.json()["results"]]

    assert names(search="f-") == ["f-later", "f-soon", "f-static"]
    assert names(search="FIONA") == ["f-soon"]
    assert names(search="+1555") == ["f-static"]
    assert names(status="suspended") == ["f-later"]
    assert names(connection_type="static") == ["f-static"]
    assert names(expiring_within_days=7) == ["f-soon"]
    assert names(owner=alpha.reseller.pk, search="f-") == ["f-later", "f-soon"]  # the subtree
    assert names(owner=alpha.sub_reseller.pk, search="f-") == ["f-soon"]
    assert names(package=alpha.package.pk, search="f-s") == ["f-soon", "f-static"]
    page = admin.get("customers/", {"search": "f-", "page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert admin.get("customers/", {"status": "nonsense"}).status_code == 400
    # A reseller filtering by a node outside its scope gets nothing.
    assert api_for(alpha, alpha.reseller_user).get("customers/", {"owner": alpha.sibling.pk}).json()["count"] == 0


def test_export_is_the_filtered_list_as_csv(alpha):
    _seed(alpha)
    response = api_for(alpha, alpha.reseller_user).get("customers/export/", {"search": "f-"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["username"] for r in rows] == ["f-later", "f-soon"]  # not the sibling's f-static
    assert rows[1]["owner"] == alpha.sub_reseller.name and rows[1]["package"] == "Home 20M"


def test_audit_trail_per_object(alpha):
    sub = api_for(alpha, alpha.sub_reseller_user, ip="10.44.0.7")
    created = sub.post("customers/", _new(alpha)).json()
    sub.patch(f"customers/{created['id']}/", {"full_name": "Dave D", "password": "new-secret"})
    sub.post(f"customers/{created['id']}/suspend/")
    events = sub.get(f"customers/{created['id']}/audit/").json()["results"]
    assert [e["action"] for e in events] == ["status", "update", "create"]
    assert {e["actor_email"] for e in events} == {alpha.sub_reseller_user.email}
    assert {e["ip_address"] for e in events} == {"10.44.0.7"}
    assert events[1]["changes"]["full_name"] == ["", "Dave D"]
    assert events[1]["changes"]["password"] == ["***", "***"]  # never the secret itself
    assert events[0]["changes"] == {"status": ["active", "suspended"]}
    # Outside the object's scope, its history is invisible too.
    assert api_for(alpha, alpha.sibling_user).get(f"customers/{created['id']}/audit/").status_code == 404
    # Operators and packages have theirs.
    admin = api_for(alpha, alpha.admin)
    admin.patch(f"operators/{alpha.sibling.pk}/", {"name": "Renamed sibling"})
    op_events = admin.get(f"operators/{alpha.sibling.pk}/audit/").json()["results"]
    assert op_events[0]["changes"]["name"][1] == "Renamed sibling"
    admin.patch(f"packages/{alpha.package.pk}/", {"visible": False})
    assert admin.get(f"packages/{alpha.package.pk}/audit/").json()["results"][0]["changes"] == {
        "visible": [True, False]}


def test_customer_sees_only_itself(alpha):
    me = api_for(alpha, alpha.customer_user)
    listed = me.get("customers/").json()["results"]
    assert [c["username"] for c in listed] == ["carol"]
    assert me.get("operators/").status_code == 403
    assert me.patch(f"customers/{alpha.customer.pk}/", {"full_name": "x"}).status_code == 403


def test_large_counts_are_estimated_and_flagged(alpha, monkeypatch):
    from hierarchy import pagination

    _seed(alpha)
    admin = api_for(alpha, alpha.admin)
    exact = admin.get("customers/", {"search": "f-"}).json()
    assert exact["count"] == 3 and exact["count_is_estimate"] is False
    monkeypatch.setattr(pagination, "EXACT_COUNT_LIMIT", 2)
    estimated = admin.get("customers/").json()
    assert estimated["count_is_estimate"] is True and estimated["count"] >= 3
    # A search reads every match to sort them anyway, so its count (taken in the same query) stays exact.
    searched = admin.get("customers/", {"search": "f-"}).json()
    assert searched["count_is_estimate"] is False and searched["count"] == 3
    assert [c["username"] for c in searched["results"]] == ["f-later", "f-soon", "f-static"]


def test_search_pages_carry_the_total_and_the_links(alpha):
    _seed(alpha)
    admin = api_for(alpha, alpha.admin)
    second = admin.get("customers/", {"search": "f-", "page_size": 2, "page": 2}).json()
    assert second["count"] == 3 and [c["username"] for c in second["results"]] == ["f-static"]
    assert second["next"] is None and "page_size=2" in second["previous"]
    assert admin.get("customers/", {"search": "f-", "page": 3}).status_code == 404
    assert admin.get("customers/", {"search": "f-", "page": "x"}).status_code == 404
    nothing = admin.get("customers/", {"search": "no-such-prefix"}).json()
    assert nothing["count"] == 0 and nothing["results"] == []


def test_special_price_needs_a_money_role_and_respects_the_cost(alpha):
    from accounts.models import Role, User
    from hierarchy.models import Membership

    with schema_context(alpha.schema):
        manager = User.objects.create(email="mgr-price@alpha.test", role=Role.MANAGER, password="!")
        Membership.objects.create(user=manager, operator=alpha.reseller)
    refused = api_for(alpha, manager).post("customers/", _new(alpha, special_price="115.00"))
    assert refused.status_code == 403 and "special price" in refused.json()["detail"]
    reseller = api_for(alpha, alpha.reseller_user)
    below_cost = reseller.post("customers/", _new(alpha, special_price="100.00"))  # the sub's cost is 110.00
    assert below_cost.status_code == 400 and "110.00" in below_cost.json()["detail"]
    ok = reseller.post("customers/", _new(alpha, special_price="115.00"))
    assert ok.status_code == 201 and ok.json()["special_price"] == "115.00"
