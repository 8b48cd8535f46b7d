"""The permission matrix: every role x object kind x list/read/create/update/delete, on objects inside
the actor's scope, in a sibling's subtree, above it and in another tenant — allowed exactly where the
role tree says so (issue 3)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role
from tests.conftest import host_client
from tests.hierarchy.world import Place, World, auth, build

pytestmark = pytest.mark.django_db

L, R, C, U, D = "list", "read", "create", "update", "delete"
ALL, READ = {L, R, C, U, D}, {L, R}

# What each role may do inside its scope, written out from the issue (not derived from the code).
RIGHTS: dict[str, dict[str, set[str]]] = {
    Role.ADMIN: {"operator": ALL, "user": ALL, "package": ALL, "assignment": ALL, "customer": ALL},
    Role.RESELLER: {"operator": ALL, "user": ALL, "package": READ, "assignment": ALL, "customer": ALL},
    Role.SUB_RESELLER: {"operator": ALL, "user": ALL, "package": READ, "assignment": ALL, "customer": ALL},
    # Issue 15: a manager runs customers and staff logins; the tree's nodes are the resellers' (read only).
    Role.MANAGER: {"operator": READ, "user": ALL, "package": READ, "assignment": READ, "customer": ALL},
    Role.ACCOUNTANT: {"operator": READ, "user": READ, "package": READ, "assignment": ALL, "customer": READ},
    Role.SUPPORT: {"operator": READ, "package": READ, "customer": READ},
    Role.CARD_DISTRIBUTOR: {"package": READ},
    Role.CUSTOMER: {"customer": READ},
}
KINDS = ["operator", "user", "package", "assignment", "customer"]
ACTIONS = [L, R, C, U, D]
LOCATIONS = ["inside", "sibling", "above"]
URL = {"operator": "operators", "user": "users", "package": "packages", "assignment": "package-assignments",
       "customer": "customers"}


# Roles the world places at a reseller (tests/hierarchy/world.py), so "above" them is the root.
ABOVE_IS_ROOT = {Role.RESELLER, Role.MANAGER, Role.ACCOUNTANT, Role.SUPPORT, Role.CARD_DISTRIBUTOR}


def _cases() -> list[tuple[str, str, str, str]]:
    cases = []
    for role, kind, act, where in itertools.product(RIGHTS, KINDS, ACTIONS, LOCATIONS):
        if role == Role.ADMIN and where != "inside":
            continue  # the ISP admin sits at the root: nothing is above it or beside it
        if kind == "package" and act == C and where != "inside":
            continue  # master packages are not created "somewhere" in the tree
        if kind == "assignment" and where == "above" and act != C and role in ABOVE_IS_ROOT:
            continue  # above a reseller is the ISP root, which has no package assignment to act on
        cases.append((role, kind, act, where))
    return cases


_n = itertools.count()


def _target(kind: str, act: str, place: Place) -> Any:
    if kind == "operator":
        return place.spare if act == D else place.operator
    if kind == "user":
        return place.user
    if kind == "package":
        return place.spare_package if act == D else place.package
    if kind == "assignment":
        return place.spare_assignment if act == D else place.assignment
    return place.customer


def _create_body(kind: str, place: Place) -> tuple[str, dict[str, object]]:
    n = next(_n)
    if kind == "operator":
        return "/api/v1/operators/", {"name": f"new node {n}", "parent": place.node.pk}
    if kind == "user":
        return "/api/v1/users/", {"email": f"new-{n}@alpha.test", "password": "long-enough-pass-123",
                                  "role": "support", "operator": place.operator.pk}
    if kind == "package":
        return "/api/v1/packages/", {"name": f"new pkg {n}", "type": "pppoe", "download_kbps": 1000,
                                     "upload_kbps": 500, "price": "10.00", "validity_days": 30}
    if kind == "assignment":
        return (f"/api/v1/packages/{place.assign_package.pk}/assign/",
                {"operator": place.spare.pk, "price": "150.00"})
    return "/api/v1/customers/", {"username": f"new-{n}", "password": "pppoe-pass", "connection_type": "pppoe",
                                  "package": place.create_package.pk, "owner": place.operator.pk}


UPDATES = {"operator": {"name": "renamed"}, "user": {"full_name": "Renamed"}, "package": {"visible": False},
           "assignment": {"price": "130.00"}, "customer": {"full_name": "Renamed"}}


def _perform(world: World, kind: str, act: str, place: Place) -> bool:
    """Do it over the API; True if it was allowed (and took effect), False if refused."""
    client = host_client(world.isp.host)
    headers = auth(world.token)
    target = _target(kind, act, place)
    assert target is not None or act == C, f"the world has no {kind} {place}"
    base = f"/api/v1/{URL[kind]}/"
    if act == L:
        response = client.get(base, {"page_size": 500}, **headers)
        if response.status_code == 403:
            return False
        assert response.status_code == 200, response.content
        return target.pk in {row["id"] for row in response.json()["results"]}
    if act == C:
        url, body = _create_body(kind, place)
        response = client.post(url, body, content_type="application/json", **headers)
        assert response.status_code in (201, 400, 403, 404), response.content
        return response.status_code == 201
    url = f"{base}{target.pk}/"
    if act == R:
        response = client.get(url, **headers)
        assert response.status_code in (200, 403, 404), response.content
        return response.status_code == 200
    if act == U:
        response = client.patch(url, UPDATES[kind], content_type="application/json", **headers)
        assert response.status_code in (200, 403, 404), response.content
        return response.status_code == 200
    response = client.delete(url, **headers)
    assert response.status_code in (204, 403, 404), response.content
    if response.status_code == 204:
        with schema_context(world.isp.schema):
            assert not type(target).objects.filter(pk=target.pk).exists()
    return response.status_code == 204


@pytest.mark.parametrize(("role", "kind", "act", "where"), _cases())
def test_permission_matrix(alpha, role, kind, act, where):
    with schema_context(alpha.schema):
        world = build(alpha, role)
        place = world.places[where]
        expected = where == "inside" and act in RIGHTS[role].get(kind, set())
        assert _perform(world, kind, act, place) is expected


@pytest.mark.parametrize(("role", "kind"), list(itertools.product(RIGHTS, KINDS)))
def test_other_tenant_is_unreachable(alpha, beta, role, kind):
    """An alpha credential means nothing on beta's host, for every role and every kind."""
    with schema_context(alpha.schema):
        world = build(alpha, role)
    client = host_client(beta.host)
    assert client.get(f"/api/v1/{URL[kind]}/", **auth(world.token)).status_code == 401
    url, body = _create_body(kind, world.places["inside"])
    assert client.post(url, body, content_type="application/json", **auth(world.token)).status_code == 401


def test_beta_admin_sees_none_of_alphas_objects(alpha, beta):
    with schema_context(alpha.schema):
        build(alpha, Role.RESELLER)
    with schema_context(beta.schema):
        from rest_framework.authtoken.models import Token

        token = Token.objects.get_or_create(user=beta.admin)[0].key
    client = host_client(beta.host)
    for kind in KINDS:
        body = client.get(f"/api/v1/{URL[kind]}/", {"page_size": 500}, **auth(token)).json()
        text = str(body["results"])
        assert "alpha" not in text.lower() and "in leaf" not in text and "in-cust" not in text
