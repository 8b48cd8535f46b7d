"""The role tree: creating nodes (contract), the depth limit, moving a subtree, suspension blocking
logins (and optionally customers), explicit guardian grants extending a scope."""

from __future__ import annotations

import pytest
from django_tenants.utils import schema_context
from guardian.shortcuts import assign_perm

from accounts.models import Role, User
from hierarchy.audit import SYSTEM
from hierarchy.models import Membership, Operator, Subscriber
from hierarchy.services import operator_create
from tests.conftest import host_client
from tests.hierarchy.api import api_for
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_contract_create_operator(alpha):
    admin = api_for(alpha, alpha.admin)
    response = admin.post("operators/", {"name": "North", "parent": alpha.root.pk, "role": "reseller",
                                         "billing_mode": "prepaid", "share_percent": "55.50"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["role"] == "reseller" and body["share_percent"] == "55.50" and body["depth"] == 1
    assert body["path"] == f"{alpha.root.path}{body['id']}/"
    wrong_role = admin.post("operators/", {"name": "X", "parent": alpha.root.pk, "role": "sub_reseller",
                                           "billing_mode": "prepaid", "share_percent": "10"})
    assert wrong_role.status_code == 400 and wrong_role.json()["errors"]["role"]
    bad_share = admin.post("operators/", {"name": "X", "parent": alpha.root.pk, "share_percent": "101"})
    assert bad_share.status_code == 400


def test_depth_limit(alpha):
    admin = api_for(alpha, alpha.admin)
    level3 = admin.post("operators/", {"name": "L3", "parent": alpha.sub_reseller.pk}).json()
    assert level3["depth"] == 3 and level3["role"] == "sub_reseller"
    too_deep = admin.post("operators/", {"name": "L4", "parent": level3["id"]})
    assert too_deep.status_code == 400 and "at most 3" in too_deep.json()["detail"]


def test_reseller_sees_its_subtree_only(alpha):
    tree = api_for(alpha, alpha.reseller_user).get("operators/tree/").json()
    assert [n["id"] for n in tree] == [alpha.reseller.pk]
    assert [c["id"] for c in tree[0]["children"]] == [alpha.sub_reseller.pk]
    listed = {n["id"] for n in api_for(alpha, alpha.reseller_user).get("operators/").json()["results"]}
    assert listed == {alpha.reseller.pk, alpha.sub_reseller.pk}


def test_manager_cannot_touch_money_settings(alpha):
    with schema_context(alpha.schema):
        manager = User.objects.create(email="mgr@alpha.test", role=Role.MANAGER, password="!")
        Membership.objects.create(user=manager, operator=alpha.reseller)
    client = api_for(alpha, manager)
    assert client.patch(f"operators/{alpha.sub_reseller.pk}/", {"name": "Renamed"}).status_code == 403
    assert client.patch(f"operators/{alpha.sub_reseller.pk}/", {"share_percent": "90"}).status_code == 403
    assert client.post("operators/", {"name": "M", "parent": alpha.reseller.pk,
                                      "billing_mode": "postpaid"}).status_code == 403


def test_move_subtree_rewrites_paths_in_one_transaction(alpha):
    with schema_context(alpha.schema):
        mover = operator_create(actor=SYSTEM, parent=alpha.root, name="Mover")
        child = operator_create(actor=SYSTEM, parent=mover, name="Mover child")
        Subscriber.objects.create(username="moved-cust", password="x", package=alpha.package, owner=child)
    admin = api_for(alpha, alpha.admin)
    assert api_for(alpha, alpha.reseller_user).post(f"operators/{mover.pk}/move/",
                                                    {"parent": alpha.reseller.pk}).status_code in (403, 404)
    response = admin.post(f"operators/{mover.pk}/move/", {"parent": alpha.sibling.pk})
    assert response.status_code == 200, response.content
    with schema_context(alpha.schema):
        mover.refresh_from_db()
        child.refresh_from_db()
        assert mover.parent_id == alpha.sibling.pk and mover.depth == 2 and mover.kind == "sub_reseller"
        assert mover.path == f"{alpha.sibling.path}{mover.pk}/"
        assert child.path == f"{mover.path}{child.pk}/" and child.depth == 3
        assert Operator.objects.filter(path__startswith=alpha.sibling.path).count() == 3
    # The sibling now sees the moved customers; the moved node's old neighbours do not.
    sibling_view = api_for(alpha, alpha.sibling_user).get("customers/", {"search": "moved-cust"}).json()
    assert [c["username"] for c in sibling_view["results"]] == ["moved-cust"]
    # Into its own subtree, or deeper than the limit: refused, nothing changes.
    assert admin.post(f"operators/{mover.pk}/move/", {"parent": child.pk}).status_code == 400
    assert admin.post(f"operators/{alpha.reseller.pk}/move/", {"parent": child.pk}).status_code == 400
    with schema_context(alpha.schema):
        assert Operator.objects.get(pk=alpha.reseller.pk).path == alpha.reseller.path


def _login(host: str, email: str) -> int:
    return host_client(host).post("/login/", {"username": email, "password": PASSWORD}).status_code


def test_suspended_reseller_cannot_sign_in_and_customers_follow_the_isp_choice(alpha):
    admin = api_for(alpha, alpha.admin)
    reseller_api = api_for(alpha, alpha.reseller_user, ip="10.9.0.2")
    assert reseller_api.get("me/").status_code == 200
    assert _login(alpha.host, alpha.reseller_user.email) == 302

    response = admin.post(f"operators/{alpha.reseller.pk}/suspend/", {"suspend_customers": True})
    assert response.status_code == 200 and response.json()["status"] == "suspended"
    # Its users and its sub-reseller's users are locked out: form login, API token, existing token.
    assert _login(alpha.host, alpha.reseller_user.email) == 200
    assert _login(alpha.host, alpha.sub_reseller_user.email) == 200
    assert reseller_api.get("customers/").status_code == 401
    token = host_client(alpha.host).post("/api/v1/auth/token/", {"email": alpha.sub_reseller_user.email,
                                                                 "password": PASSWORD},
                                         content_type="application/json", REMOTE_ADDR="10.9.0.3")
    assert token.status_code == 401
    # The sibling is unaffected.
    assert _login(alpha.host, alpha.sibling_user.email) == 302
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(pk=alpha.customer.pk).status == "suspended"
    # A customer of a suspended node cannot be reactivated on its own.
    assert admin.post(f"customers/{alpha.customer.pk}/reactivate/").status_code == 400

    assert admin.post(f"operators/{alpha.reseller.pk}/reactivate/").status_code == 200
    assert _login(alpha.host, alpha.reseller_user.email) == 302
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(pk=alpha.customer.pk).status == "active"


def test_suspension_can_leave_customers_alone(alpha):
    admin = api_for(alpha, alpha.admin)
    assert admin.post(f"operators/{alpha.reseller.pk}/suspend/", {"suspend_customers": False}).status_code == 200
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(pk=alpha.customer.pk).status == "active"
    assert admin.post(f"operators/{alpha.reseller.pk}/suspend/").status_code == 400  # already suspended


def test_reseller_cannot_suspend_itself_or_its_parent(alpha):
    client = api_for(alpha, alpha.reseller_user)
    assert client.post(f"operators/{alpha.reseller.pk}/suspend/").status_code == 403
    assert client.post(f"operators/{alpha.root.pk}/suspend/").status_code == 404
    assert client.post(f"operators/{alpha.sub_reseller.pk}/suspend/").status_code == 200


def test_guardian_grant_extends_a_support_users_scope(alpha):
    with schema_context(alpha.schema):
        support = User.objects.create(email="helpdesk@alpha.test", role=Role.SUPPORT, password="!")
        Membership.objects.create(user=support, operator=alpha.sibling)
    client = api_for(alpha, support)
    assert client.get(f"customers/{alpha.customer.pk}/").status_code == 404
    with schema_context(alpha.schema):
        assign_perm("hierarchy.access_subtree", support, alpha.reseller)
    client = api_for(alpha, support)
    assert client.get(f"customers/{alpha.customer.pk}/").status_code == 200
    names = {n["id"] for n in client.get("operators/").json()["results"]}
    assert names == {alpha.sibling.pk, alpha.reseller.pk, alpha.sub_reseller.pk}
    # The grant widens where, not what: support stays read-only.
    assert client.post(f"customers/{alpha.customer.pk}/suspend/").status_code == 403
    assert client.patch(f"customers/{alpha.customer.pk}/", {"full_name": "x"}).status_code == 403


def test_users_attach_to_nodes_with_fitting_roles(alpha):
    reseller = api_for(alpha, alpha.reseller_user)
    made = reseller.post("users/", {"email": "desk@alpha.test", "password": "long-enough-pass-123",
                                    "role": "support", "operator": alpha.sub_reseller.pk})
    assert made.status_code == 201 and made.json()["operator"] == alpha.sub_reseller.pk
    assert reseller.post("users/", {"email": "boss@alpha.test", "password": "long-enough-pass-123",
                                    "role": "admin", "operator": alpha.reseller.pk}).status_code == 403
    wrong_kind = reseller.post("users/", {"email": "r2@alpha.test", "password": "long-enough-pass-123",
                                          "role": "reseller", "operator": alpha.sub_reseller.pk})
    assert wrong_kind.status_code == 400
    dup = reseller.post("users/", {"email": "desk@alpha.test", "password": "long-enough-pass-123",
                                   "role": "support", "operator": alpha.sub_reseller.pk})
    assert dup.status_code == 400
