"""CSV import of customers as a background job: dry run first with a row-by-row error report; then
either every row goes in or none ("all_or_nothing"), or only the good rows ("good_rows").

Importing is Act.CUSTOMER_IMPORT, checked when the file is uploaded, committed and again when the worker
runs it (with the uploader's authority at that moment). A row's ``expires_at`` (paid-until) is service
time nobody paid for here: only logins with Act.EXPIRY_IMPORT (the ISP's admins) may import it, and the
job lists every expiry it sets; for anyone else such a row is an error. Rows without one start expired."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", "All rows or none"
    GOOD_ROWS = "good_rows", "Only the good rows"


class ImportJob(models.Model):
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=200)
    content = models.TextField()
    dry_run = models.BooleanField(default=True)
    mode = models.CharField(max_length=16, choices=ImportMode.choices, default=ImportMode.ALL_OR_NOTHING)
    status = models.CharField(max_length=10, choices=ImportStatus.choices, default=ImportStatus.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    created_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text='[{"row": 2, "field": "username", "message": "..."}]')
    expiries = models.JSONField(
        default=list, help_text='Each paid-until the import sets: [{"row": 2, "username": "...", "expires_at": "..."}]')
    message = models.CharField(max_length=300, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.file_name})"

    @property
    def progress_percent(self) -> int:
        return 100 if not self.total_rows else int(self.processed_rows * 100 / self.total_rows)


COLUMNS = {"username", "password", "connection_type", "package", "owner", "mac_address", "ip_address",
           "full_name", "mobile", "email", "address", "zone", "expires_at", "billing_day"}
REQUIRED = {"username", "package", "owner"}
MAX_ROWS = 50_000
PROGRESS_EVERY = 250
AMBIGUOUS = object()


def _login(actor: Any) -> Any:
    return getattr(actor, "user", actor)


def import_job_create(*, actor: Any, file_name: str, raw: bytes, dry_run: bool, mode: str) -> ImportJob:
    """Store the upload and queue the job (after commit)."""
    from hierarchy import authority
    from hierarchy.tasks import customer_import_run
    from tenants.db import schema_current

    authority.authorize(actor, authority.Act.CUSTOMER_IMPORT)
    user = _login(actor)
    if mode not in ImportMode.values:
        raise ValidationError({"mode": "Choose all_or_nothing or good_rows."})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError({"file": "The file must be UTF-8 encoded CSV."}) from None
    header = next(csv.reader(io.StringIO(text)), [])
    columns = {c.strip() for c in header}
    missing = REQUIRED - columns
    if missing:
        raise ValidationError({"file": f"Missing column(s): {', '.join(sorted(missing))}."})
    unknown = {c for c in columns if c not in COLUMNS and not c.startswith("custom.")}
    if unknown:
        raise ValidationError({"file": f"Unknown column(s): {', '.join(sorted(unknown))}."})
    rows = text.count("\n")
    if rows > MAX_ROWS + 1:
        raise ValidationError({"file": f"At most {MAX_ROWS} rows per file."})
    job = ImportJob.objects.create(created_by=user, file_name=file_name[:200], content=text, dry_run=dry_run,
                                   mode=mode)
    schema = schema_current()
    transaction.on_commit(lambda: customer_import_run.delay(schema, job.pk))
    return job


def import_job_commit(*, job: ImportJob, mode: str, actor: Any) -> ImportJob:
    """Run a dry-run job's file for real (its uploader, or an ISP admin)."""
    from accounts.models import Role
    from hierarchy import authority
    from hierarchy.tasks import customer_import_run
    from tenants.db import schema_current

    authority.authorize(actor, authority.Act.CUSTOMER_IMPORT)
    user = _login(actor)
    if user is not None and job.created_by_id != user.pk and user.role != Role.ADMIN:
        raise PermissionDenied("Only the login that uploaded this file may import it.")
    if mode not in ImportMode.values:
        raise ValidationError({"mode": "Choose all_or_nothing or good_rows."})
    updated = ImportJob.objects.filter(pk=job.pk, dry_run=True, status=ImportStatus.DONE).update(
        dry_run=False, mode=mode, status=ImportStatus.QUEUED, processed_rows=0, error_rows=0, created_rows=0,
        errors=[], expiries=[], message="", finished=None)
    if not updated:
        raise ValidationError({"status": "Only a finished dry run can be imported."})
    schema = schema_current()
    transaction.on_commit(lambda: customer_import_run.delay(schema, job.pk))
    job.refresh_from_db()
    return job


@dataclass
class _Context:
    """Everything a row is checked against, loaded once per job (no query per row)."""

    operators: dict[str, Any]
    packages: dict[str, Any]
    offered: set[tuple[int, int]]
    usernames: set[str]
    ips: set[str]
    macs: set[str]
    definitions: list[Any]
    expiry_import: bool  # may this job's uploader set paid-until dates (Act.EXPIRY_IMPORT)?
    seen: dict[str, dict[str, int]] = field(default_factory=lambda: {"username": {}, "ip": {}, "mac": {}})


def _context(user: Any) -> _Context:
    from hierarchy import authority
    from hierarchy.models import CustomFieldDefinition, Package, PackageAssignment, Subscriber
    from hierarchy.selectors import operators_in_scope

    operators: dict[str, Any] = {}
    for node in operators_in_scope(user=user):
        operators[str(node.pk)] = node
        name = node.name.lower()
        # Two nodes with one name: the name alone is ambiguous; the row must give the id.
        operators[name] = AMBIGUOUS if name in operators else node
    packages: dict[str, Any] = {}
    for package in Package.objects.all():
        packages[str(package.pk)] = package
        packages[package.name.lower()] = package
    offered = set(PackageAssignment.objects.filter(active=True).values_list("operator_id", "package_id"))
    subs = Subscriber.objects.values_list("username", "ip_address", "mac_address")
    usernames, ips, macs = set(), set(), set()
    for username, ip, mac in subs:
        usernames.add(username)
        if ip:
            ips.add(ip)
        if mac:
            macs.add(mac.upper())
    return _Context(operators, packages, offered, usernames, ips, macs, list(CustomFieldDefinition.objects.all()),
                    expiry_import=authority.allowed(user, authority.Act.EXPIRY_IMPORT))


def _row_clean(row: dict[str, str], n: int, ctx: _Context) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    from hierarchy.models import USERNAME_VALIDATOR, ConnectionType
    from hierarchy.subscribers import custom_fields_clean, ip_normalize, mac_normalize

    errors: list[dict[str, Any]] = []

    def fail(name: str, message: str) -> None:
        errors.append({"row": n, "field": name, "message": message})

    values = {k.strip(): (v or "").strip() for k, v in row.items() if k}
    data: dict[str, Any] = {}
    for name in REQUIRED:
        if not values.get(name):
            fail(name, "Required.")
    username = values.get("username", "")
    try:
        USERNAME_VALIDATOR(username)
    except ValidationError as exc:
        fail("username", exc.messages[0])
    if username in ctx.usernames:
        fail("username", f"{username!r} already exists in this ISP.")
    elif username in ctx.seen["username"]:
        fail("username", f"Duplicate of row {ctx.seen['username'][username]} in this file.")
    owner = ctx.operators.get(values.get("owner", "").lower())
    package = ctx.packages.get(values.get("package", "").lower())
    if owner is AMBIGUOUS:
        fail("owner", f"Several nodes are called {values['owner']!r}; give the node's id.")
        owner = None
    elif values.get("owner") and owner is None:
        fail("owner", f"No node {values['owner']!r} in your part of the tree.")
    if values.get("package") and package is None:
        fail("package", f"No package {values['package']!r}.")
    if owner is not None and package is not None and (
        package.retired or (not owner.is_root and (owner.pk, package.pk) not in ctx.offered)
    ):
        fail("package", f"{package.name} is not offered by {owner.name}.")
    connection_type = values.get("connection_type") or ConnectionType.PPPOE
    if connection_type not in ConnectionType.values:
        fail("connection_type", "Choose pppoe, hotspot or static.")
    mac = ip = None
    try:
        mac = mac_normalize(values.get("mac_address"))
    except ValidationError as exc:
        fail("mac_address", exc.messages[0])
    try:
        ip = ip_normalize(values.get("ip_address"))
    except ValidationError as exc:
        fail("ip_address", exc.messages[0])
    if mac and mac in ctx.macs:
        fail("mac_address", f"{mac} is already bound to another customer.")
    elif mac and mac in ctx.seen["mac"]:
        fail("mac_address", f"Duplicate of row {ctx.seen['mac'][mac]} in this file.")
    if ip and ip in ctx.ips:
        fail("ip_address", f"{ip} is already assigned to another customer.")
    elif ip and ip in ctx.seen["ip"]:
        fail("ip_address", f"Duplicate of row {ctx.seen['ip'][ip]} in this file.")
    if connection_type == ConnectionType.STATIC and not ip:
        fail("ip_address", "A static-IP customer needs an IP address.")
    if connection_type == ConnectionType.HOTSPOT and not mac:
        fail("mac_address", "A hotspot customer is identified by its MAC address.")
    expires = None
    if values.get("expires_at") and not ctx.expiry_import:
        fail("expires_at", "Only the ISP's admins import paid-until dates; leave expires_at empty (the customer "
                           "starts expired until a recharge, payment or voucher sells it time).")
    elif values.get("expires_at"):
        raw = values["expires_at"]
        expires = parse_datetime(raw)
        day = None if expires else parse_date(raw)
        if day is not None:
            expires = datetime.combine(day, time(23, 59, 59))
        if expires is None:
            fail("expires_at", "Use YYYY-MM-DD or an ISO date-time.")
        elif timezone.is_naive(expires):
            expires = timezone.make_aware(expires)
    billing_day = 1
    if values.get("billing_day"):
        if not values["billing_day"].isdigit() or not 1 <= int(values["billing_day"]) <= 28:
            fail("billing_day", "A day between 1 and 28.")
        else:
            billing_day = int(values["billing_day"])
    try:
        custom = custom_fields_clean({k[7:]: v for k, v in values.items() if k.startswith("custom.")},
                                     ctx.definitions)
    except ValidationError as exc:
        custom = {}
        for message in exc.message_dict.get("custom_fields", []):
            fail("custom_fields", message)
    # Remember this row's keys even when it is bad, so later duplicates name it.
    for key, value in (("username", username), ("ip", ip), ("mac", mac)):
        if value:
            ctx.seen[key].setdefault(value, n)
    if errors:
        return None, errors
    data.update(username=username, password=values.get("password", ""), connection_type=connection_type,
                package=package, owner=owner, mac_address=mac, ip_address=ip,
                expires_at=expires if expires is not None else timezone.now(), imported_expiry=expires is not None,
                billing_day=billing_day, custom_fields=custom,
                **{k: values.get(k, "") for k in ("full_name", "mobile", "email", "address", "zone")})
    return data, []


def _finish(job: ImportJob, **fields: Any) -> None:
    ImportJob.objects.filter(pk=job.pk).update(finished=timezone.now(), **fields)


def import_job_run(*, job_id: int) -> str:
    """Check every row (progress saved as it goes), then insert in one transaction per the job's mode."""
    from hierarchy import authority
    from hierarchy.audit import AuditAction, AuditEvent
    from hierarchy.models import Subscriber

    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status not in (ImportStatus.QUEUED, ImportStatus.RUNNING):
        return job.status
    if not authority.allowed(job.created_by, authority.Act.CUSTOMER_IMPORT):
        _finish(job, status=ImportStatus.FAILED, message="The login that uploaded this file may no longer import.")
        return "refused"
    rows = list(csv.DictReader(io.StringIO(job.content)))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.RUNNING, total_rows=len(rows))
    ctx = _context(job.created_by)
    good: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    bad_rows = 0
    expiries: list[dict[str, Any]] = []
    for index, row in enumerate(rows, start=2):  # row 1 is the header
        data, row_errors = _row_clean(row, index, ctx)
        if data is None:
            bad_rows += 1
            errors.extend(row_errors)
        else:
            if data.pop("imported_expiry"):
                expiries.append({"row": index, "username": data["username"],
                                 "expires_at": data["expires_at"].isoformat()})
            good.append(data)
        if (index - 1) % PROGRESS_EVERY == 0:
            ImportJob.objects.filter(pk=job.pk).update(processed_rows=index - 1, error_rows=bad_rows)
    summary = {"processed_rows": len(rows), "error_rows": bad_rows, "errors": errors[:5000], "expiries": expiries}
    if job.dry_run:
        _finish(job, status=ImportStatus.DONE, message=f"Dry run: {len(good)} good row(s), {bad_rows} with errors.",
                **summary)
        return "dry-run"
    if bad_rows and job.mode == ImportMode.ALL_OR_NOTHING:
        _finish(job, status=ImportStatus.DONE, created_rows=0,
                message=f"Nothing imported: {bad_rows} row(s) have errors.", **{**summary, "expiries": []})
        return "rejected"
    try:
        with transaction.atomic():
            created = Subscriber.objects.bulk_create([Subscriber(**data) for data in good], batch_size=1000)
            actor = job.created_by
            set_expiry = {e["username"] for e in expiries}
            AuditEvent.objects.bulk_create([
                AuditEvent(object_type="customer", object_id=s.pk, object_repr=s.username, action=AuditAction.CREATE,
                           changes={"import_job": [None, job.pk],
                                    **({"expires_at": [None, s.expires_at.isoformat()]}
                                       if s.username in set_expiry and s.expires_at else {})},
                           actor=actor, actor_email=getattr(actor, "email", "system")) for s in created
            ], batch_size=1000)
    except IntegrityError:
        _finish(job, status=ImportStatus.FAILED, created_rows=0,
                message="Nothing imported: another change took one of these usernames, IPs or MACs meanwhile; "
                        "run the import again.", **{**summary, "expiries": []})
        return "conflict"
    note = f"; {len(expiries)} paid-until date(s) set (listed)" if expiries else ""
    _finish(job, status=ImportStatus.DONE, created_rows=len(created),
            message=f"Imported {len(created)} customer(s){note}; {bad_rows} row(s) skipped.", **summary)
    return "imported"
