"""Supporting documents of journal entries (receipts, supplier invoices): PDF or image files, size-limited,
typed by their first bytes (never by the name or the client's Content-Type), stored through Django's default
storage under ``ledger/<ISP schema>/attachments/`` with a random name. Rows are append-only (a trigger).

Files are written before the money transaction and their rows inserted inside it, so a retried transaction
never writes a file twice; if the transaction fails, the files it would have referenced are deleted."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from ledger.models import EntryAttachment, JournalEntry
from tenants.db import schema_current

SIGNATURES = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
)


@dataclass(frozen=True)
class StoredFile:
    path: str
    name: str
    content_type: str
    size: int


def attachment_type(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) from a file's first bytes, or None if it is not a PDF/PNG/JPEG/WebP."""
    for magic, content_type, extension in SIGNATURES:
        if head.startswith(magic):
            return content_type, extension
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", ".webp"
    return None


def attachments_store(*, uploads: Iterable[UploadedFile]) -> list[StoredFile]:
    """Check and store uploaded files; ValidationError (nothing stored) if any is unfit."""
    checked = []
    limit = int(settings.LEDGER_ATTACHMENT_MAX_BYTES)
    for upload in uploads:
        size = int(upload.size or 0)
        name = PurePath(str(upload.name or "attachment")).name.strip()[:255] or "attachment"
        if size == 0 or size > limit:
            raise ValidationError({"attachments": f"“{name}”: files must be between 1 byte and {limit // 1024} KiB."})
        upload.seek(0)
        kind = attachment_type(upload.read(16))
        upload.seek(0)
        if kind is None:
            raise ValidationError({"attachments": f"“{name}” is not a PDF, PNG, JPEG or WebP file."})
        checked.append((upload, name, size, *kind))
    stored: list[StoredFile] = []
    for upload, name, size, content_type, extension in checked:
        path = default_storage.save(f"ledger/{schema_current()}/attachments/{uuid.uuid4().hex}{extension}", upload)
        stored.append(StoredFile(path=path, name=name, content_type=content_type, size=size))
    return stored


def attachments_discard(*, files: Iterable[StoredFile]) -> None:
    for stored in files:
        default_storage.delete(stored.path)


def attachments_link(*, entry: JournalEntry, files: Iterable[StoredFile], actor_id: int | None) -> None:
    """Insert the rows (inside the caller's transaction)."""
    EntryAttachment.objects.bulk_create([
        EntryAttachment(entry=entry, file=stored.path, name=stored.name, content_type=stored.content_type,
                        size=stored.size, uploaded_by_id=actor_id)
        for stored in files
    ])
