"""Staff roles do what their title says (issue 15), tried as the attacker would: over the API as that
role, and by calling the service directly. Every refusal is a 403 with a JSON body and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.audit import Actor
from hierarchy.models import Operator, Subscriber
from hierarchy.services import operator_update, user_create, user_update
from tests.hierarchy.api import api_for
from tests.support.attacks import nothing_changes, staff

pytestmark = pytest.mark.django_db

PASSWORD = "long-enough-pass-123"


def _login(isp, email: str, role: str, node: Operator) -> dict[str, object]:
    return {"email": email, "password": PASSWORD, "role": role, "operator": node.pk}


def _refused(response, word: str = "") -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert "detail" in body and word in body["detail"]


def test_manager_creates_no_reseller_login(alpha):
    with schema_context(alpha.schema):
        manager = staff(alpha, Role.MANAGER)
    api = api_for(alpha, manager)
    with nothing_changes(alpha):
        _refused(api.post("users/", _login(alpha, "mgr-made-reseller@alpha.test", Role.RESELLER, alpha.reseller)))
        # Nor a money-role login (an accountant moves wallet money and sets billing; a manager does not).
        _refused(api.post("users/", _login(alpha, "mgr-made-acct@alpha.test", Role.ACCOUNTANT, alpha.root)))
    with schema_context(alpha.schema):
        assert not User.objects.filter(email__startswith="mgr-made-").exists()
    # What it may hand out: support staff.
    assert api.post("users/", _login(alpha, "mgr-made-support@alpha.test", Role.SUPPORT, alpha.root)).status_code \
        == 201


def test_manager_promotes_no_login_to_a_money_role(alpha):
    with schema_context(alpha.schema):
        manager = staff(alpha, Role.MANAGER)
        support = staff(alpha, Role.SUPPORT)
    response = api_for(alpha, manager).patch(f"users/{support.pk}/", {"role": Role.ACCOUNTANT})
    _refused(response)
    with schema_context(alpha.schema):
        support.refresh_from_db()
        assert support.role == Role.SUPPORT
        with pytest.raises(PermissionDenied):  # the service itself, called directly
            user_update(user=support, role=Role.ADMIN, actor=Actor(user=manager))


def test_reseller_creates_no_admin_login(alpha):
    api = api_for(alpha, alpha.reseller_user)
    with nothing_changes(alpha):
        _refused(api.post("users/", _login(alpha, "rs-made-admin@alpha.test", Role.ADMIN, alpha.reseller)))
    with schema_context(alpha.schema), pytest.raises(PermissionDenied):
        user_create(email="rs-made-admin2@alpha.test", password=PASSWORD, role=Role.ADMIN, operator=alpha.root,
                    actor=Actor(user=alpha.reseller_user))
    with schema_context(alpha.schema):
        assert not User.objects.filter(email__startswith="rs-made-admin").exists()


def test_reseller_sets_not_its_own_credit_limit_or_share(alpha):
    api = api_for(alpha, alpha.reseller_user)
    with nothing_changes(alpha):
        _refused(api.patch(f"operators/{alpha.reseller.pk}/", {"credit_limit": "100000.00"}))
        _refused(api.patch(f"operators/{alpha.reseller.pk}/", {"share_percent": "99"}))
        _refused(api.patch(f"operators/{alpha.reseller.pk}/", {"billing_mode": "postpaid"}))
    with schema_context(alpha.schema):
        node = Operator.objects.get(pk=alpha.reseller.pk)
        assert node.credit_limit == 0 and node.share_percent == Decimal("60") and node.billing_mode == "prepaid"
    # A parent sets its child's credit limit (and the response shows it).
    response = api.patch(f"operators/{alpha.sub_reseller.pk}/", {"credit_limit": "250.00"})
    assert response.status_code == 200 and response.json()["credit_limit"] == "250.00", response.content


def test_sub_reseller_raises_not_its_own_credit_limit(alpha):
    with schema_context(alpha.schema):
        Operator.objects.filter(pk=alpha.sub_reseller.pk).update(billing_mode="postpaid", credit_limit=Decimal(10))
    api = api_for(alpha, alpha.sub_reseller_user)
    with nothing_changes(alpha):
        _refused(api.patch(f"operators/{alpha.sub_reseller.pk}/", {"credit_limit": "999999.00"}))
    with schema_context(alpha.schema):
        with pytest.raises(PermissionDenied):
            operator_update(operator=alpha.sub_reseller, credit_limit=Decimal(999999),
                            actor=Actor(user=alpha.sub_reseller_user))
        assert Operator.objects.get(pk=alpha.sub_reseller.pk).credit_limit == Decimal(10)


def test_manager_sets_no_credit_limit(alpha):
    """A manager holds no billing settings at all; the ISP's admin sets the postpaid sibling's limit."""
    with schema_context(alpha.schema):
        manager = staff(alpha, Role.MANAGER)
    with nothing_changes(alpha):
        _refused(api_for(alpha, manager).patch(f"operators/{alpha.sibling.pk}/", {"credit_limit": "5000.00"}))
    response = api_for(alpha, alpha.admin).patch(f"operators/{alpha.sibling.pk}/", {"credit_limit": "5000.00"})
    assert response.status_code == 200 and response.json()["credit_limit"] == "5000.00"


def test_support_edits_no_customer(alpha):
    with schema_context(alpha.schema):
        support = staff(alpha, Role.SUPPORT)
    api = api_for(alpha, support)
    assert api.get(f"customers/{alpha.customer.pk}/").status_code == 200  # it reads its scope's customers
    with nothing_changes(alpha):
        _refused(api.patch(f"customers/{alpha.customer.pk}/", {"full_name": "Mallory"}))
    with schema_context(alpha.schema):
        assert Subscriber.objects.get(pk=alpha.customer.pk).full_name == "Carol Customer"
    # ... and nothing financial.
    _refused(api.get("package-assignments/"))


def test_accountant_suspends_no_customer(alpha):
    with schema_context(alpha.schema):
        accountant = staff(alpha, Role.ACCOUNTANT)
    with nothing_changes(alpha):
        _refused(api_for(alpha, accountant).post(f"customers/{alpha.customer.pk}/suspend/"))


def test_card_distributor_gets_no_customer_list(alpha):
    with schema_context(alpha.schema):
        distributor = staff(alpha, Role.CARD_DISTRIBUTOR, alpha.reseller)
    api = api_for(alpha, distributor)
    _refused(api.get("customers/"))
    _refused(api.get(f"customers/{alpha.customer.pk}/"))
    _refused(api.get("customers/export/"))


def test_services_check_the_actor_themselves(alpha):
    """Called directly (a panel view, a task, a script), each service refuses what the role may not do."""
    from hierarchy.imports import import_job_create
    from hierarchy.packages import package_create
    from hierarchy.services import operator_create
    from hierarchy.subscribers import subscriber_suspend

    with schema_context(alpha.schema):
        manager, support, accountant = (staff(alpha, role) for role in (Role.MANAGER, Role.SUPPORT, Role.ACCOUNTANT))
        with nothing_changes(alpha):
            with pytest.raises(PermissionDenied):
                operator_create(parent=alpha.reseller, name="By a manager", actor=Actor(user=manager))
            with pytest.raises(PermissionDenied):
                package_create(name="Free 1G", type="pppoe", download_kbps=1, upload_kbps=1, price="0.00",
                               actor=Actor(user=alpha.reseller_user))
            with pytest.raises(PermissionDenied):
                import_job_create(actor=Actor(user=support), file_name="c.csv", raw=b"username,package,owner\n",
                                  dry_run=True, mode="all_or_nothing")
            with pytest.raises(PermissionDenied):
                subscriber_suspend(subscriber=alpha.customer, actor=Actor(user=accountant))
        assert not Operator.objects.filter(name="By a manager").exists()


def test_hierarchy_does_not_import_the_network():
    """CoA / Disconnect reach the network through hierarchy.events, a table the network fills at start-up."""
    from pathlib import Path

    import hierarchy
    from hierarchy.events import _HANDLERS, SubscriberChange
    from network.services import subscriber_disconnect, subscriber_rate_change

    for path in Path(hierarchy.__file__).parent.glob("*.py"):
        source = path.read_text()
        assert "from network" not in source and "import network" not in source, path.name
    assert subscriber_rate_change in _HANDLERS[SubscriberChange.RATE]
    assert subscriber_disconnect in _HANDLERS[SubscriberChange.ACCESS_LOST]
