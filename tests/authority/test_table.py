"""The role x action table itself: the README shows exactly the code's table, and the rules that make it
safe hold for every role (no login hands out more authority than it holds; money into the ISP's bank or
gateway only at the ISP's own node)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from django_tenants.utils import schema_context
from guardian.shortcuts import assign_perm

from accounts.models import Role
from hierarchy import authority
from hierarchy.authority import Act
from tests.support.attacks import staff

README = Path(__file__).resolve().parents[2] / "README.md"
ROLES = list(authority.STAFF_ROLES)


def test_readme_shows_the_table_of_the_code():
    assert authority.table_markdown() in README.read_text()


def test_every_act_has_a_label():
    assert set(authority.ACT_LABELS) == set(Act)


@pytest.mark.parametrize(("role", "at_isp"), list(itertools.product(ROLES, [True, False])))
def test_money_enters_the_isp_only_through_its_own_money_roles(role, at_isp):
    acts = authority.acts_of(role, at_isp=at_isp)
    holds_the_bank = role == Role.ADMIN or (role == Role.ACCOUNTANT and at_isp)
    for act in (Act.PAYMENT_BANK, Act.PAYMENT_GATEWAY, Act.WALLET_DEPOSIT, Act.REFUND, Act.INVOICE_VOID,
                Act.CREDIT_NOTE, Act.DISCOUNT_SET, Act.BILLING_MODEL_SET):
        assert (act in acts) is holds_the_bank, (role, at_isp, act)
    assert (Act.EXPIRY_EXTEND in acts) is (role == Role.ADMIN)
    assert (Act.NAS_REGISTER in acts) is (role == Role.ADMIN)


@pytest.mark.django_db
def test_no_login_grants_more_than_it_holds(alpha):
    with schema_context(alpha.schema):
        for role, where in itertools.product(ROLES, [alpha.root, alpha.reseller]):
            if role == Role.ADMIN and where != alpha.root:
                continue
            if role in (Role.RESELLER, Role.SUB_RESELLER) and where == alpha.root:
                continue
            actor = {Role.ADMIN: alpha.admin, Role.RESELLER: alpha.reseller_user}.get(role) or staff(alpha, role, where)
            mine = authority.acts_of(role, at_isp=where.depth == 0)
            for target in (where, alpha.sub_reseller):
                for granted in authority.login_roles_grantable(actor=actor, node=target):
                    assert authority.acts_of(granted, at_isp=target.depth == 0) <= mine, (role, granted)


@pytest.mark.django_db
def test_who_creates_which_logins(alpha):
    with schema_context(alpha.schema):
        manager = staff(alpha, Role.MANAGER, alpha.reseller)
        accountant = staff(alpha, Role.ACCOUNTANT, alpha.reseller)
        sub = alpha.sub_reseller
        assert authority.login_roles_grantable(actor=manager, node=sub) == [
            Role.MANAGER, Role.SUPPORT, Role.CARD_DISTRIBUTOR]
        assert authority.login_roles_grantable(actor=accountant, node=sub) == []
        reseller_may = authority.login_roles_grantable(actor=alpha.reseller_user, node=sub)
        assert Role.ADMIN not in reseller_may and Role.SUB_RESELLER in reseller_may
        assert not authority.login_role_grantable(actor=alpha.reseller_user, role=Role.SUPPORT, node=alpha.sibling)
        assert authority.login_role_grantable(actor=alpha.admin, role=Role.ADMIN, node=alpha.root)
        assert not authority.login_role_grantable(actor=alpha.admin, role=Role.RESELLER, node=alpha.root)


@pytest.mark.django_db
def test_the_network_grant_is_explicit_and_only_for_staff(alpha):
    with schema_context(alpha.schema):
        engineer = staff(alpha, Role.SUPPORT)
        assert not authority.allowed(engineer, Act.ROUTER_REGISTER)
        assign_perm("hierarchy.manage_network", engineer, alpha.root)
        engineer = type(engineer).objects.get(pk=engineer.pk)  # a new request: caches are per user object
        assert authority.allowed(engineer, Act.ROUTER_REGISTER)
        assert not authority.allowed(engineer, Act.PAYMENT_CASH)
        distributor = staff(alpha, Role.CARD_DISTRIBUTOR)
        assign_perm("hierarchy.manage_network", distributor, alpha.root)
        assert not authority.allowed(type(distributor).objects.get(pk=distributor.pk), Act.ROUTER_REGISTER)


@pytest.mark.django_db
def test_restrict_cuts_to_scope_and_role(alpha):
    from hierarchy.models import Operator, Subscriber

    with schema_context(alpha.schema):
        everyone = Subscriber.objects.all()
        assert authority.restrict(everyone, alpha.admin, Act.CUSTOMER_VIEW).count() == everyone.count()
        assert alpha.customer in authority.restrict(everyone, alpha.reseller_user, Act.CUSTOMER_VIEW)
        assert alpha.customer not in authority.restrict(everyone, alpha.sibling_user, Act.CUSTOMER_VIEW)
        assert not authority.restrict(everyone, staff(alpha, Role.CARD_DISTRIBUTOR), Act.CUSTOMER_VIEW).exists()
        assert list(authority.restrict(everyone, alpha.customer_user, Act.CUSTOMER_VIEW)) == [alpha.customer]
        nodes = authority.restrict(Operator.objects.all(), alpha.sibling_user, Act.NODE_VIEW)
        assert alpha.sibling in nodes and alpha.reseller not in nodes
        assert authority.restrict(everyone, None, Act.CUSTOMER_VIEW).count() == everyone.count()  # the system
