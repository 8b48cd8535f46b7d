"""Service may only be extended by paying for it (issue 15): the paid-until (``expires_at``) is never typed
in through PATCH, create or a reseller's CSV; an ISP admin may extend it explicitly with a reason
(audited) or import it (listed in the import's summary); the database refuses a prepaid customer
without one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from hierarchy.audit import AuditEvent
from hierarchy.imports import ImportJob, ImportMode, import_job_run
from hierarchy.models import Subscriber
from ledger.billing.models import BillingProfile
from tests.hierarchy.api import api_for
from tests.support.attacks import nothing_changes

pytestmark = pytest.mark.django_db

HEADER = "username,password,connection_type,package,owner,expires_at\n"


def _new(isp, **extra):
    return {"username": "exp-new", "password": "pppoe-pass", "connection_type": "pppoe",
            "package": isp.package.pk, "owner": isp.sub_reseller.pk, **extra}


def test_reseller_cannot_patch_expiry(alpha):
    api = api_for(alpha, alpha.reseller_user)
    with nothing_changes(alpha):
        response = api.patch(f"customers/{alpha.customer.pk}/", {"expires_at": "2099-01-01T00:00:00Z"})
        assert response.status_code == 400, response.content
        assert "changed by payments, recharges and vouchers" in str(response.json())


def test_create_cannot_set_expiry_and_starts_expired(alpha):
    api = api_for(alpha, alpha.reseller_user)
    with nothing_changes(alpha):
        response = api.post("customers/", _new(alpha, expires_at="2099-01-01T00:00:00Z"))
        assert response.status_code == 400 and "expires_at" in str(response.json())
    with schema_context(alpha.schema):
        assert not Subscriber.objects.filter(username="exp-new").exists()
    before = timezone.now()
    created = api.post("customers/", _new(alpha))
    assert created.status_code == 201, created.content
    with schema_context(alpha.schema):
        customer = Subscriber.objects.get(username="exp-new")
        # Not a day of free service: expired until a recharge, payment or voucher sells it time.
        assert customer.expires_at is not None and customer.expires_at <= timezone.now()
        assert customer.expires_at >= before - timedelta(seconds=5)


def _import(isp, user, text: str) -> ImportJob:
    job = ImportJob.objects.create(created_by=user, file_name="c.csv", content=text, dry_run=False,
                                   mode=ImportMode.GOOD_ROWS)
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_reseller_csv_with_expiry_is_a_row_error(alpha):
    text = HEADER + f"exp-csv-1,pw,pppoe,Home 20M,{alpha.sub_reseller.pk},2099-12-31\n"
    with nothing_changes(alpha), schema_context(alpha.schema):
        job = _import(alpha, alpha.reseller_user, text)
        assert job.created_rows == 0 and job.error_rows == 1 and job.expiries == []
        assert job.errors[0]["field"] == "expires_at" and "ISP's admins" in job.errors[0]["message"]
        assert not Subscriber.objects.filter(username="exp-csv-1").exists()


def test_admin_csv_sets_expiries_and_lists_them(alpha):
    text = (HEADER + f"exp-csv-2,pw,pppoe,Home 20M,{alpha.sub_reseller.pk},2031-05-01T12:00:00+00:00\n"
            + f"exp-csv-3,pw,pppoe,Home 20M,{alpha.sub_reseller.pk},\n")
    with schema_context(alpha.schema):
        job = _import(alpha, alpha.admin, text)
        assert job.created_rows == 2, job.message
        assert job.expiries == [{"row": 2, "username": "exp-csv-2", "expires_at": "2031-05-01T12:00:00+00:00"}]
        assert "1 paid-until date(s) set" in job.message
        two = Subscriber.objects.get(username="exp-csv-2")
        assert two.expires_at.isoformat() == "2031-05-01T12:00:00+00:00"
        assert AuditEvent.objects.get(object_type="customer", object_id=two.pk).changes["expires_at"][1] \
            == "2031-05-01T12:00:00+00:00"
        # A row without a date starts expired, like any new customer.
        assert Subscriber.objects.get(username="exp-csv-3").expires_at <= timezone.now()
    # The API shows the list too.
    body = api_for(alpha, alpha.admin).get(f"customer-imports/{job.pk}/").json()
    assert body["expiries"] == job.expiries


def test_admin_extends_with_a_reason_and_it_is_audited(alpha):
    with schema_context(alpha.schema):
        current = Subscriber.objects.get(pk=alpha.customer.pk).expires_at
    until = (max(current, timezone.now()) + timedelta(days=10)).replace(microsecond=0)
    response = api_for(alpha, alpha.admin).post(f"customers/{alpha.customer.pk}/extend/",
                                                {"until": until.isoformat(), "reason": "Outage 3-5 May"})
    assert response.status_code == 200, response.content
    with schema_context(alpha.schema):
        customer = Subscriber.objects.get(pk=alpha.customer.pk)
        assert customer.expires_at == until
        event = AuditEvent.objects.filter(object_type="customer", object_id=customer.pk).first()
        assert event is not None and event.actor_id == alpha.admin.pk
        assert event.changes["reason"] == [None, "Outage 3-5 May"] and "expires_at" in event.changes


def test_extend_needs_a_reason(alpha):
    until = (timezone.now() + timedelta(days=10)).isoformat()
    api = api_for(alpha, alpha.admin)
    with nothing_changes(alpha):
        assert api.post(f"customers/{alpha.customer.pk}/extend/", {"until": until}).status_code == 400
        blank = api.post(f"customers/{alpha.customer.pk}/extend/", {"until": until, "reason": "  "})
        assert blank.status_code == 400


def test_reseller_cannot_extend(alpha):
    until = (timezone.now() + timedelta(days=3650)).isoformat()
    with nothing_changes(alpha):
        for user in (alpha.reseller_user, alpha.sub_reseller_user):
            response = api_for(alpha, user).post(f"customers/{alpha.customer.pk}/extend/",
                                                 {"until": until, "reason": "friend of mine"})
            assert response.status_code == 403 and "detail" in response.json()


def _deferred_checks() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_refuses_a_prepaid_customer_without_expiry(alpha):
    with schema_context(alpha.schema):
        with pytest.raises(IntegrityError, match="prepaid"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("UPDATE hierarchy_subscriber SET expires_at = NULL WHERE id = %s", [alpha.customer.pk])
            _deferred_checks()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        assert Subscriber.objects.get(pk=alpha.customer.pk).expires_at is not None


def test_postpaid_customer_may_have_no_expiry_until_it_turns_prepaid(alpha):
    """Billed in arrears: no paid-until needed, while its billing profile says postpaid."""
    with schema_context(alpha.schema):
        with transaction.atomic():
            profile = BillingProfile.objects.create(customer=alpha.customer, terms="postpaid",
                                                    start_date=timezone.now().date())
            Subscriber.objects.filter(pk=alpha.customer.pk).update(expires_at=None)
            _deferred_checks()
        with pytest.raises(IntegrityError), transaction.atomic():
            BillingProfile.objects.filter(pk=profile.pk).update(terms="prepaid")
            _deferred_checks()
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
