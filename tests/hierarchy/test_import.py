"""CSV import of customers through a real Celery worker: the dry run reports every bad row (including
duplicates within the file and against the database); then all-or-nothing refuses a file with any bad row,
good-rows imports the rest; progress is visible while it runs."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from hierarchy.audit import SYSTEM, AuditEvent
from hierarchy.imports import ImportJob
from hierarchy.models import Subscriber
from tests.conftest import host_client

pytestmark = pytest.mark.slow

HEADER = "username,password,connection_type,package,owner,mac_address,ip_address,full_name,expires_at\n"


def _file(isp, prefix: str) -> str:
    sub, pkg = isp.sub_reseller.pk, "Home 20M"
    rows = [
        f"{prefix}-ok1,pw,pppoe,{pkg},{sub},,,Good One,",
        f"{prefix}-ok2,pw,hotspot,{pkg},{sub},aa-bb-cc-00-11-22,,Good Two,",
        f"bad name,pw,pppoe,{pkg},{sub},,,,",  # row 4: username characters
        f"{prefix}-ok1,pw,pppoe,{pkg},{sub},,,Dup In File,",  # row 5: duplicate of row 2
        f"carol,pw,pppoe,{pkg},{sub},,,Exists,",  # row 6: already in the ISP
        f"{prefix}-nopkg,pw,pppoe,Gold 1G,{sub},,,,",  # row 7: no such package
        f"{prefix}-sib,pw,pppoe,{pkg},{isp.sibling.pk},,,,",  # row 8: outside the reseller's tree
        f"{prefix}-mac,pw,hotspot,{pkg},{sub},not-a-mac,,,",  # row 9: bad MAC
        f"{prefix}-ok3,pw,static,{pkg},{sub},,10.77.0.9,Good Three,",
    ]
    return HEADER + "\n".join(rows) + "\n"


class _Session:
    def __init__(self, isp, user):
        with schema_context(isp.schema):
            self.token = Token.objects.get_or_create(user=user)[0].key
        self.client = host_client(isp.host)
        self.headers = {"HTTP_AUTHORIZATION": f"Token {self.token}"}

    def upload(self, text: str, *, dry_run: bool, mode: str = "all_or_nothing") -> dict:
        upload = SimpleUploadedFile("customers.csv", text.encode(), content_type="text/csv")
        response = self.client.post("/api/v1/customer-imports/", {"file": upload, "dry_run": dry_run, "mode": mode},
                                    **self.headers)
        assert response.status_code == 202, response.content
        return response.json()

    def wait(self, job_id: int, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.client.get(f"/api/v1/customer-imports/{job_id}/", **self.headers).json()
            if body["status"] in ("done", "failed"):
                return body
            time.sleep(0.2)
        raise AssertionError(f"import {job_id} did not finish")


def _cleanup(isp, prefix: str) -> None:
    with schema_context(isp.schema):
        ids = list(Subscriber.objects.filter(username__startswith=prefix).values_list("pk", flat=True))
        AuditEvent.objects.filter(object_type="customer", object_id__in=ids).delete()
        Subscriber.objects.filter(pk__in=ids).delete()
        ImportJob.objects.all().delete()


def _count(isp, prefix: str) -> int:
    with schema_context(isp.schema):
        return Subscriber.objects.filter(username__startswith=prefix).count()


def test_import_dry_run_then_both_modes(alpha, celery_worker_process, django_db_blocker):
    prefix = "imp"
    with django_db_blocker.unblock():
        session = _Session(alpha, alpha.reseller_user)
        try:
            dry = session.wait(session.upload(_file(alpha, prefix), dry_run=True)["id"])
            assert dry["status"] == "done" and dry["total_rows"] == 9 and dry["error_rows"] == 6
            by_row = {(e["row"], e["field"]) for e in dry["errors"]}
            assert by_row == {(4, "username"), (5, "username"), (6, "username"), (7, "package"), (8, "owner"),
                              (9, "mac_address")}
            messages = {e["row"]: e["message"] for e in dry["errors"]}
            assert "Duplicate of row 2" in messages[5] and "already exists" in messages[6]
            assert _count(alpha, prefix) == 0  # a dry run writes nothing

            # All or nothing: one bad row and nothing goes in.
            committed = session.client.post(f"/api/v1/customer-imports/{dry['id']}/commit/",
                                            {"mode": "all_or_nothing"}, content_type="application/json",
                                            **session.headers)
            assert committed.status_code == 202, committed.content
            refused = session.wait(dry["id"])
            assert refused["created_rows"] == 0 and "Nothing imported" in refused["message"]
            assert _count(alpha, prefix) == 0

            # Good rows only: the three good ones go in, the report still lists the bad ones.
            good = session.wait(session.upload(_file(alpha, prefix), dry_run=False, mode="good_rows")["id"])
            assert good["created_rows"] == 3 and good["error_rows"] == 6 and good["progress_percent"] == 100
            with schema_context(alpha.schema):
                ok2 = Subscriber.objects.get(username=f"{prefix}-ok2")
                assert ok2.mac_address == "AA:BB:CC:00:11:22" and ok2.owner_id == alpha.sub_reseller.pk
                assert AuditEvent.objects.filter(object_type="customer", object_id=ok2.pk).exists()
        finally:
            _cleanup(alpha, prefix)


def test_import_of_10000_rows_all_or_nothing(alpha, celery_worker_process, django_db_blocker):
    prefix = "bulk"
    text = HEADER + "".join(f"{prefix}-{i:05d},pw,pppoe,Home 20M,{alpha.sub_reseller.pk},,,Bulk {i},\n"
                            for i in range(10_000))
    with django_db_blocker.unblock():
        session = _Session(alpha, alpha.admin)
        try:
            started = time.monotonic()
            job = session.upload(text, dry_run=False, mode="all_or_nothing")
            done = session.wait(job["id"], timeout=300)
            assert done["status"] == "done" and done["created_rows"] == 10_000, done["message"]
            assert _count(alpha, prefix) == 10_000
            assert time.monotonic() - started < 120
        finally:
            _cleanup(alpha, prefix)


def test_bad_uploads_are_refused_up_front(alpha, django_db_blocker):
    with django_db_blocker.unblock():
        session = _Session(alpha, alpha.admin)
        for text, message in (("name,owner\nx,1\n", "Missing column"), (HEADER.strip() + ",colour\n", "Unknown column")):
            upload = SimpleUploadedFile("c.csv", text.encode(), content_type="text/csv")
            response = session.client.post("/api/v1/customer-imports/", {"file": upload}, **session.headers)
            assert response.status_code == 400 and message in response.json()["detail"]
        with schema_context(alpha.schema):
            assert not ImportJob.objects.exists()
        # Support staff may not import.
        from accounts.models import Role, User
        from hierarchy.models import Membership

        with schema_context(alpha.schema):
            support = User.objects.create(email="imp-support@alpha.test", role=Role.SUPPORT, password="!")
            Membership.objects.create(user=support, operator=alpha.root)
        try:
            other = _Session(alpha, support)
            upload = SimpleUploadedFile("c.csv", HEADER.encode(), content_type="text/csv")
            assert other.client.post("/api/v1/customer-imports/", {"file": upload}, **other.headers).status_code == 403
        finally:
            with schema_context(alpha.schema):
                Token.objects.filter(user=support).delete()
                support.delete()


@pytest.mark.django_db
def test_ambiguous_owner_names_need_the_id(alpha):
    """The row checks themselves, run in-process (the worker tests above cover the queueing)."""
    from hierarchy.imports import import_job_run
    from hierarchy.services import operator_create

    with schema_context(alpha.schema):
        twin_a = operator_create(actor=SYSTEM, parent=alpha.reseller, name="Twin")
        operator_create(actor=SYSTEM, parent=alpha.sibling, name="Twin")
        from hierarchy.models import PackageAssignment

        PackageAssignment.objects.create(package=alpha.package, operator=twin_a, price="130.00")
        text = HEADER + "amb-1,pw,pppoe,Home 20M,Twin,,,,\n" + f"amb-2,pw,pppoe,Home 20M,{twin_a.pk},,,,\n"
        job = ImportJob.objects.create(created_by=alpha.admin, file_name="t.csv", content=text, dry_run=True)
        assert import_job_run(job_id=job.pk) == "dry-run"
        job.refresh_from_db()
        assert job.error_rows == 1 and job.errors[0]["row"] == 2 and "give the node's id" in job.errors[0]["message"]
