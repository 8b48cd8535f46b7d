"""Void, credit notes, discounts, promo codes and billing-model switches are the ISP's money: only its
admin and accountant, with a required reason, within the ISP's maximum discount, audited. Each attack is
made as the attacker would (API call as that role, or a direct service call) and changes nothing."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django_tenants.utils import schema_context

from accounts.models import Role
from hierarchy.audit import AuditEvent
from ledger.billing.models import BillingProfile, CreditNote, Invoice, PromoCode
from ledger.billing.services import invoice_credit, invoice_issue_for_period, invoice_void
from tenants.db import schema_use_tenant
from tests.billing.test_api import api
from tests.support.attacks import nothing_changes, staff

pytestmark = pytest.mark.django_db
JUNE = datetime.datetime(2026, 6, 1, 9, tzinfo=datetime.UTC)


@contextmanager
def refused(isp) -> Iterator[None]:
    """``nothing_changes()`` in the ISP's schema around requests (a request leaves the connection on public)."""
    with schema_context(isp.schema), nothing_changes():
        yield
        schema_use_tenant(isp.tenant)


def _invoiced(isp) -> Invoice:
    """Carol (the sub-reseller's customer) on monthly billing, invoiced for June (120.00)."""
    with schema_context(isp.schema):
        BillingProfile.objects.create(customer=isp.customer, start_date=datetime.date(2026, 1, 1))
        with time_machine.travel(JUNE, tick=False):
            invoice = invoice_issue_for_period(customer=isp.customer)
        assert invoice is not None and invoice.total > 0
        return invoice


def _attackers(isp) -> dict[str, object]:
    with schema_context(isp.schema):
        return {"reseller": isp.reseller_user, "sub_reseller": isp.sub_reseller_user,
                "manager": staff(isp, Role.MANAGER), "support": staff(isp, Role.SUPPORT),
                "accountant below the ISP": staff(isp, Role.ACCOUNTANT, isp.reseller),
                "customer": isp.customer_user}


def _audits(object_type: str) -> int:
    return AuditEvent.objects.filter(object_type=object_type).count()


def test_only_the_isps_admin_and_accountant_void_or_credit_an_invoice(alpha):
    invoice = _invoiced(alpha)
    url = f"/api/v1/invoices/{invoice.pk}/"
    for who, user in _attackers(alpha).items():
        client = api(alpha, user)
        with refused(alpha):
            void = client.post(url + "void/", {"reason": "goodwill"}, content_type="application/json")
            credit = client.post(url + "credit-notes/", {"amount": "10.00", "reason": "goodwill"},
                                 content_type="application/json")
        # Roles that see the invoice are refused (403); the others do not see it at all (404).
        assert void.status_code in (403, 404) and credit.status_code in (403, 404), (who, void.content)
        if void.status_code == 403:
            assert void.json()["code"] == "permission_denied"
    with schema_context(alpha.schema):
        assert Invoice.objects.get(pk=invoice.pk).status == "open" and not CreditNote.objects.exists()
        # A direct service call by a reseller is refused by the service itself.
        with nothing_changes(), pytest.raises(PermissionDenied):
            invoice_void(invoice=invoice, reason="mine now", actor=alpha.reseller_user)
        with nothing_changes(), pytest.raises(PermissionDenied):
            invoice_credit(invoice=invoice, amount=1_00, reason="mine now", actor=staff(alpha, Role.MANAGER))


def test_void_needs_a_reason_and_is_audited(alpha):
    invoice = _invoiced(alpha)
    with schema_context(alpha.schema):
        accountant = staff(alpha, Role.ACCOUNTANT)
    client = api(alpha, accountant)
    with refused(alpha):
        for body in ({}, {"reason": "   "}):
            response = client.post(f"/api/v1/invoices/{invoice.pk}/void/", body, content_type="application/json")
            assert response.status_code == 400 and "reason" in response.json()["errors"], response.content
    done = client.post(f"/api/v1/invoices/{invoice.pk}/void/", {"reason": "issued twice"},
                       content_type="application/json")
    assert done.status_code == 200 and done.json()["status"] == "void"
    with schema_context(alpha.schema):
        event = AuditEvent.objects.get(object_type="invoice", object_id=invoice.pk)
        assert event.actor_id == accountant.pk
        assert event.changes == {"status": ["open", "void"], "reason": "issued twice"}


def test_a_credit_note_beyond_the_maximum_discount_is_a_400(alpha):
    invoice = _invoiced(alpha)  # 120.00; the ISP's maximum is 50 % by default: 60.00
    client = api(alpha, alpha.admin)
    url = f"/api/v1/invoices/{invoice.pk}/credit-notes/"
    with refused(alpha):
        beyond = client.post(url, {"amount": "60.01", "reason": "angry customer"}, content_type="application/json")
        unexplained = client.post(url, {"amount": "10.00", "reason": ""}, content_type="application/json")
    assert beyond.status_code == 400 and "amount" in beyond.json()["errors"]
    assert unexplained.status_code == 400 and "reason" in unexplained.json()["errors"]
    assert client.post(url, {"amount": "50.00", "reason": "three days down"},
                       content_type="application/json").status_code == 201
    with refused(alpha):  # 50.00 + 10.01 > 60.00: the bound is per invoice
        again = client.post(url, {"amount": "10.01", "reason": "and more"}, content_type="application/json")
    assert again.status_code == 400
    with schema_context(alpha.schema):
        assert CreditNote.objects.get().total == 50_00
        changes = AuditEvent.objects.get(object_type="invoice", object_id=invoice.pk).changes
        assert changes["reason"] == "three days down" and changes["amount_credited"] == [0, 50_00]


def test_a_standing_discount_is_the_isps_bounded_and_audited(alpha):
    _invoiced(alpha)
    url = f"/api/v1/customers/{alpha.customer.pk}/billing-profile/"
    body = {"discount_percent": "100", "reason": "friend of the family"}
    for who, user in _attackers(alpha).items():
        with refused(alpha):
            response = api(alpha, user).patch(url, body, content_type="application/json")
        assert response.status_code in (403, 404), (who, response.content)
    admin = api(alpha, alpha.admin)
    with refused(alpha):
        assert admin.patch(url, body, content_type="application/json").status_code == 400  # above 50 %
        assert admin.patch(url, {"discount_percent": "10"}, content_type="application/json").status_code == 400
    with schema_context(alpha.schema):
        assert BillingProfile.objects.get(customer=alpha.customer).discount_percent == 0
        accountant = staff(alpha, Role.ACCOUNTANT)
        audits = _audits("billing_profile")
    done = api(alpha, accountant).patch(url, {"discount_percent": "15", "reason": "loyalty"},
                                        content_type="application/json")
    assert done.status_code == 200 and done.json()["discount_percent"] == "15.00"
    with schema_context(alpha.schema):
        assert _audits("billing_profile") == audits + 1
        event = AuditEvent.objects.filter(object_type="billing_profile").first()
        assert event is not None and event.actor_id == accountant.pk
        assert event.changes == {"discount_percent": ["0.00", "15.00"], "reason": "loyalty"}


def test_a_billing_model_switch_that_releases_invoices_is_the_isps(alpha):
    invoice = _invoiced(alpha)
    url = f"/api/v1/customers/{alpha.customer.pk}/billing-model/"
    body = {"model": "daily", "open_invoices": "void", "reason": "moves to recharge"}
    for who, user in _attackers(alpha).items():
        with refused(alpha):
            response = api(alpha, user).post(url, body, content_type="application/json")
        assert response.status_code in (403, 404), (who, response.content)
    with schema_context(alpha.schema):
        assert Invoice.objects.get(pk=invoice.pk).status == "open"
        assert BillingProfile.objects.get(customer=alpha.customer).model == "monthly"
    with refused(alpha):
        unexplained = api(alpha, alpha.admin).post(url, {**body, "reason": ""}, content_type="application/json")
    assert unexplained.status_code == 400
    switched = api(alpha, alpha.admin).post(url, body, content_type="application/json")
    assert switched.status_code == 200 and switched.json()["model"] == "daily"
    with schema_context(alpha.schema):
        assert Invoice.objects.get(pk=invoice.pk).status == "void"
        event = AuditEvent.objects.get(object_type="billing_profile")
        assert event.changes["reason"] == "moves to recharge" and event.changes["released_invoices"] == [str(invoice)]
        assert event.changes["model"] == ["monthly", "daily"] and event.actor_id == alpha.admin.pk


def test_promo_codes_are_the_isps_and_bounded(alpha):
    body = {"code": "FREE100", "kind": "percent", "percent": "100", "reason": "launch"}
    for who, user in _attackers(alpha).items():
        response = api(alpha, user).post("/api/v1/promo-codes/", body, content_type="application/json")
        assert response.status_code == 403, (who, response.content)
    admin = api(alpha, alpha.admin)
    assert admin.post("/api/v1/promo-codes/", body, content_type="application/json").status_code == 400
    with schema_context(alpha.schema):
        assert not PromoCode.objects.exists()
        accountant = staff(alpha, Role.ACCOUNTANT)
    made = api(alpha, accountant).post("/api/v1/promo-codes/", {**body, "percent": "20"},
                                       content_type="application/json")
    assert made.status_code == 201
    with schema_context(alpha.schema):
        assert PromoCode.objects.get().percent == Decimal("20")
        event = AuditEvent.objects.get(object_type="promo_code")
        assert event.actor_id == accountant.pk and event.changes["reason"] == "launch"


def test_the_bounds_are_set_by_the_isps_admin_only(alpha):
    body = {"max_discount_percent": "100"}
    with schema_context(alpha.schema):
        accountant = staff(alpha, Role.ACCOUNTANT)
    for user in (accountant, alpha.reseller_user, *_attackers(alpha).values()):
        assert api(alpha, user).patch("/api/v1/billing/settings/", body,
                                      content_type="application/json").status_code == 403
    changed = api(alpha, alpha.admin).patch("/api/v1/billing/settings/", {"max_discount_percent": "30"},
                                            content_type="application/json")
    assert changed.status_code == 200 and changed.json()["max_discount_percent"] == "30.00"
