"""Manual journal entries with supporting files: upload (with the entry or later), scoped download, bad
input refused with nothing stored, rows append-only in the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.models import Membership
from ledger.models import EntryAttachment, JournalEntry
from tests.ledger.test_api import api, pay

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LINES = json.dumps([{"account": "expenses", "debit": "12.50"}, {"account": "cash", "credit": "12.50"}])


@pytest.fixture(autouse=True)
def media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.LEDGER_ATTACHMENT_MAX_BYTES = 4096
    return tmp_path


def _staff(alpha, role: str) -> User:
    with schema_context(alpha.schema):
        user = User.objects.create(email=f"{role}-files@alpha.test", role=role, password="!")
        Membership.objects.create(user=user, operator=alpha.root)
    return user


def _files(*files: tuple[str, bytes, str]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(name, content, content_type=kind) for name, content, kind in files]


def _create(client, files, lines: str = LINES):
    return client.post("/api/v1/ledger/entries/", {"reason": "Router power supply", "reference": "INV-77",
                                                   "lines": lines, "attachments": files})


def test_an_accountant_records_an_expense_with_its_receipts(alpha, media):
    client = api(alpha, _staff(alpha, Role.ACCOUNTANT))
    response = _create(client, _files(("receipt.pdf", PDF, "application/pdf"), ("photo.png", PNG, "image/png")))
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(a["name"], a["content_type"], a["size"]) for a in body["attachments"]] == [
        ("receipt.pdf", "application/pdf", len(PDF)), ("photo.png", "image/png", len(PNG))]
    assert {p["account_code"]: (p["debit"], p["credit"]) for p in body["postings"]} == {
        "expenses": ("12.50", "0.00"), "cash": ("0.00", "12.50")}
    download = client.get(body["attachments"][0]["url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    assert b"".join(download.streaming_content) == PDF
    assert 'attachment; filename="receipt.pdf"' in download["Content-Disposition"]
    stored = sorted(p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file())
    assert len(stored) == 2 and all(s.startswith(f"ledger/{alpha.schema}/attachments/") for s in stored)
    # A receipt that arrives later.
    later = client.post(f"/api/v1/ledger/entries/{body['id']}/attachments/",
                        {"attachments": _files(("late.pdf", PDF, "application/pdf"))})
    assert later.status_code == 201 and len(later.json()["attachments"]) == 3


def test_files_that_are_not_documents_or_too_big_are_refused_and_nothing_is_kept(alpha, media):
    client = api(alpha, alpha.admin)
    for files in (_files(("invoice.pdf", b"MZ\x90\x00 not a pdf at all", "application/pdf")),
                  _files(("huge.pdf", PDF + b"0" * 5000, "application/pdf")),
                  _files(("ok.pdf", PDF, "application/pdf"), ("script.png", b"<script>", "image/png"))):
        response = _create(client, files)
        assert response.status_code == 400 and "attachments" in response.json()["errors"], response.content
    bad_lines = _create(client, _files(("ok.pdf", PDF, "application/pdf")), lines="not json")
    assert bad_lines.status_code == 400 and "lines" in bad_lines.json()["errors"]
    unbalanced = _create(client, _files(("ok.pdf", PDF, "application/pdf")),
                         lines=json.dumps([{"account": "expenses", "debit": "1.00"}, {"account": "cash", "credit": "2.00"}]))
    assert unbalanced.status_code == 400
    with schema_context(alpha.schema):
        assert not JournalEntry.objects.filter(kind="manual").exists() and not EntryAttachment.objects.exists()
    assert not [p for p in media.rglob("*") if p.is_file()]


def test_attachments_are_scoped(alpha, beta):
    admin = api(alpha, alpha.admin)
    entry = _create(admin, _files(("receipt.pdf", PDF, "application/pdf"))).json()
    url = entry["attachments"][0]["url"]
    for outsider in (api(alpha, alpha.reseller_user), api(alpha, alpha.sibling_user), api(beta, beta.admin)):
        assert outsider.get(url).status_code == 404
        assert outsider.post(f"/api/v1/ledger/entries/{entry['id']}/attachments/",
                             {"attachments": _files(("x.pdf", PDF, "application/pdf"))}).status_code == 404
    manager = api(alpha, _staff(alpha, Role.MANAGER))
    assert manager.get(url).status_code == 200  # may read the ISP's books …
    assert manager.post(f"/api/v1/ledger/entries/{entry['id']}/attachments/",
                        {"attachments": _files(("x.pdf", PDF, "application/pdf"))}).status_code == 403  # … not write
    assert _create(api(alpha, alpha.reseller_user), _files(("x.pdf", PDF, "application/pdf"))).status_code == 403


def test_only_manual_entries_take_files_and_rows_are_append_only(alpha):
    admin = api(alpha, alpha.admin)
    payment = pay(admin, alpha.customer.pk, key="files-pay").json()
    response = admin.post(f"/api/v1/ledger/entries/{payment['entry']}/attachments/",
                          {"attachments": _files(("x.pdf", PDF, "application/pdf"))})
    assert response.status_code == 400 and "entry" in response.json()["errors"]
    _create(admin, _files(("receipt.pdf", PDF, "application/pdf")))
    with schema_context(alpha.schema), connection.cursor() as cursor:
        for statement in ("UPDATE ledger_entryattachment SET name = 'x'", "DELETE FROM ledger_entryattachment"):
            with pytest.raises(DatabaseError, match="refused"), transaction.atomic():
                cursor.execute(statement)
