"""Packages in three levels: prices down the tree never below the parent's cost, a child sees only what
is assigned to it, a package in use cannot be deleted (only retired)."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from hierarchy.models import Package, PackageAssignment
from tests.hierarchy.api import api_for

pytestmark = pytest.mark.django_db

NEW = {"name": "Fiber 100M", "type": "pppoe", "download_kbps": 100_000, "upload_kbps": 20_000, "price": "200.00",
       "validity_days": 30}


def test_contract_create_and_assign_down_the_tree(alpha):
    admin, reseller = api_for(alpha, alpha.admin), api_for(alpha, alpha.reseller_user)
    created = admin.post("packages/", NEW)
    assert created.status_code == 201, created.content
    package = created.json()
    assert isinstance(package["id"], int) and package["price"] == "200.00"

    # Not yet assigned: the reseller does not see it.
    assert reseller.get(f"packages/{package['id']}/").status_code == 404
    assert package["id"] not in [p["id"] for p in reseller.get("packages/").json()["results"]]

    below_master = admin.post(f"packages/{package['id']}/assign/", {"operator": alpha.reseller.pk, "price": "199.99"})
    assert below_master.status_code == 400
    assert below_master.json()["code"] == "invalid" and "below its cost of 200.00" in below_master.json()["detail"]

    ok = admin.post(f"packages/{package['id']}/assign/", {"operator": alpha.reseller.pk, "price": "220.00"})
    assert ok.status_code == 201, ok.content
    assert ok.json()["price"] == "220.00" and ok.json()["operator"] == alpha.reseller.pk

    # Now the reseller sees it and sells it on to its sub-reseller, never below its own price.
    assert reseller.get(f"packages/{package['id']}/").status_code == 200
    below_parent = reseller.post(f"packages/{package['id']}/assign/", {"operator": alpha.sub_reseller.pk,
                                                                       "price": "210.00"})
    assert below_parent.status_code == 400 and "220.00" in below_parent.json()["detail"]
    at_cost = reseller.post(f"packages/{package['id']}/assign/", {"operator": alpha.sub_reseller.pk,
                                                                  "price": "220.00"})
    assert at_cost.status_code == 201, at_cost.content

    # The reseller cannot now raise its own price above what its sub-reseller sells for.
    too_high = admin.post(f"packages/{package['id']}/assign/", {"operator": alpha.reseller.pk, "price": "230.00"})
    assert too_high.status_code == 400 and "sells" in too_high.json()["detail"]
    # ... and the master price cannot climb above a reseller's price either.
    assert admin.patch(f"packages/{package['id']}/", {"price": "221.00"}).status_code == 400

    # The sibling reseller never saw it; a reseller cannot assign to a sibling.
    sibling = api_for(alpha, alpha.sibling_user)
    assert sibling.get(f"packages/{package['id']}/").status_code == 404
    assert reseller.post(f"packages/{package['id']}/assign/", {"operator": alpha.sibling.pk,
                                                               "price": "300.00"}).status_code == 400


def test_sub_reseller_needs_its_parent_to_offer_the_package(alpha):
    admin = api_for(alpha, alpha.admin)
    package = admin.post("packages/", {**NEW, "name": "Only master"}).json()
    response = admin.post(f"packages/{package['id']}/assign/", {"operator": alpha.sub_reseller.pk, "price": "500.00"})
    assert response.status_code == 400
    assert "assign it to the parent first" in response.json()["detail"]


def test_bad_price_input_is_a_400_and_changes_nothing(alpha):
    admin = api_for(alpha, alpha.admin)
    for price in ("-1.00", "abc", "1.234"):
        response = admin.post(f"packages/{alpha.package.pk}/assign/", {"operator": alpha.sibling.pk, "price": price})
        assert response.status_code == 400, price
    with schema_context(alpha.schema):
        assert str(PackageAssignment.objects.get(package=alpha.package, operator=alpha.sibling).price) == "105.00"


def test_package_in_use_cannot_be_deleted_but_can_be_retired(alpha):
    admin = api_for(alpha, alpha.admin)
    response = admin.delete(f"packages/{alpha.package.pk}/")
    assert response.status_code == 400
    assert "in use by 1 customer" in response.json()["detail"] and "retire" in response.json()["detail"]
    with schema_context(alpha.schema):
        assert Package.objects.filter(pk=alpha.package.pk).exists()

    assert admin.post(f"packages/{alpha.package.pk}/retire/").json()["retired"] is True
    # Retired: no new sales.
    sale = admin.post("customers/", {"username": "late-buyer", "password": "pw", "connection_type": "pppoe",
                                     "package": alpha.package.pk, "owner": alpha.sub_reseller.pk})
    assert sale.status_code == 400 and "retired" in sale.json()["detail"]

    unused = admin.post("packages/", {**NEW, "name": "Unused"}).json()
    admin.post(f"packages/{unused['id']}/assign/", {"operator": alpha.reseller.pk, "price": "250.00"})
    assert admin.delete(f"packages/{unused['id']}/").status_code == 204
    with schema_context(alpha.schema):
        assert not Package.objects.filter(pk=unused["id"]).exists()


def test_only_admins_define_master_packages(alpha):
    for user in (alpha.reseller_user, alpha.sub_reseller_user):
        client = api_for(alpha, user)
        assert client.post("packages/", {**NEW, "name": "Mine"}).status_code == 403
        assert client.patch(f"packages/{alpha.package.pk}/", {"price": "1.00"}).status_code == 403


def test_customer_price_is_the_owners_price(alpha):
    from hierarchy.selectors import package_price_at

    with schema_context(alpha.schema):
        assert str(package_price_at(package=alpha.package, operator=alpha.sub_reseller)) == "120.00"
        assert str(package_price_at(package=alpha.package, operator=alpha.root)) == "100.00"
