"""Import from a router: IP pools, PPP profiles (→ packages) and PPP secrets (→ subscribers).

Reads everything first (and keeps an encrypted CSV copy of it), then writes in batches so progress is
visible. Re-running is safe: what already exists is reported as a duplicate, never created twice.

What the import may do is what the login that queued it may do (checked when it is queued and again when
it runs, as that login): master packages are created or rewritten only by those who edit them
(``Act.PACKAGE_EDIT``, ISP admins); anyone else's import uses only packages already offered to the node the
customers go under, and a secret whose profile is another package is refused. Service time is sold, never
imported: customers start with no time left (expired now) unless the login imports expiries
(``Act.EXPIRY_IMPORT``) and gives ``expires_at``; the summary lists each expiry set.
"""

from __future__ import annotations

import csv
import io
import ipaddress
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.crypto import secret_encrypt
from hierarchy import authority
from hierarchy.authority import Act
from hierarchy.models import (
    USERNAME_VALIDATOR,
    ConnectionType,
    Operator,
    Package,
    PackageAssignment,
    Subscriber,
    SubscriberStatus,
)
from network.models import RouterIpPool, RouterSnapshot
from network.routeros.rates import RateLimit, parse_pool_ranges, parse_rate_limit
from network.routers.jobs import JobContext, JobInputError, job_actor

BATCH = 1000
DETAIL_LIMIT = 200


def _offered(owner: Operator) -> Any:
    """Packages the owner node may sell: actively assigned to it."""
    return Package.objects.filter(retired=False, assignments__operator=owner, assignments__active=True)


def _expiry(raw: Any) -> datetime | None:
    if raw in (None, ""):
        return None
    value = raw if isinstance(raw, datetime) else parse_datetime(str(raw))
    if value is None:
        raise ValidationError({"expires_at": "Give an ISO date-time."})
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def login_of(actor: Any) -> Any:
    """The login behind an actor (a User or an audit Actor), None for the platform itself."""
    if authority.is_system(actor):
        return None
    return actor if hasattr(actor, "role") else getattr(actor, "user", None)


def import_params_check(*, actor: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters of an import as the actor may queue it (router_job_enqueue); PermissionDenied or
    ValidationError otherwise. ``owner_id`` defaults to the actor's node."""
    params = dict(params)
    login, owner_id = login_of(actor), params.get("owner_id")
    owner = (Operator.objects.filter(pk=int(owner_id)).first() if owner_id is not None
             else authority.user_node(user=login))
    if owner is None or (login is not None and not authority.node_in_scope(user=login, node=owner)):
        raise ValidationError({"owner_id": "No such node in your part of the tree."})
    authority.authorize(actor, Act.CUSTOMER_IMPORT, node=owner)
    params["owner_id"] = owner.pk
    expires_at = _expiry(params.get("expires_at"))
    if expires_at is not None:
        authority.authorize(actor, Act.EXPIRY_IMPORT, node=owner)
        params["expires_at"] = expires_at.isoformat()
    edits_packages = authority.allowed(actor, Act.PACKAGE_EDIT)
    params["create_packages"] = edits_packages
    package_id = params.get("default_package_id")
    if package_id is not None:
        packages = Package.objects.filter(pk=package_id, retired=False) if edits_packages else _offered(owner)
        if not packages.filter(pk=package_id).exists():
            raise ValidationError({"default_package_id": "No such package offered by that node."})
    return params


@dataclass(frozen=True)
class ImportRights:
    """What the login that queued the import may do, as it may now (checked when the job runs)."""

    edit_packages: bool
    expires_at: datetime | None
    offered: frozenset[int]  # packages the owner node sells (not looked up for package editors: any)


def _rights(context: JobContext, owner: Operator) -> ImportRights:
    params = context.params
    actor = job_actor(context.job)
    try:
        authority.authorize(actor, Act.CUSTOMER_IMPORT, node=owner)
        expires_at = _expiry(params.get("expires_at"))
        if expires_at is not None:
            authority.authorize(actor, Act.EXPIRY_IMPORT, node=owner)
    except (PermissionDenied, ValidationError) as exc:
        raise JobInputError(f"{getattr(exc, 'message', None) or exc}") from exc
    edits = authority.allowed(actor, Act.PACKAGE_EDIT)
    offered = frozenset(_offered(owner).values_list("pk", flat=True)) if not edits else frozenset()
    return ImportRights(edit_packages=edits, expires_at=expires_at, offered=offered)


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    skipped: int = 0
    duplicates: int = 0
    details: list[dict[str, str]] = field(default_factory=list)

    def note(self, name: str, outcome: str, reason: str) -> None:
        if len(self.details) < DETAIL_LIMIT:
            self.details.append({"name": name, "outcome": outcome, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _snapshot(context: JobContext, menu: str, rows: list[Any]) -> None:
    buffer = io.StringIO()
    records = [asdict(row) for row in rows]
    fieldnames = list(records[0]) if records else ["id"]
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(records)
    RouterSnapshot.objects.update_or_create(
        job=context.job, menu=menu,
        defaults={"rows": len(records), "csv_encrypted": secret_encrypt(buffer.getvalue())},
    )


def _import_pools(context: JobContext, pools: Iterable[Any]) -> Tally:
    tally = Tally()
    existing = {pool.name: pool for pool in RouterIpPool.objects.filter(nas=context.nas)}
    for pool in pools:
        try:
            ranges = parse_pool_ranges(pool.ranges)
        except ValueError as exc:
            tally.skipped += 1
            tally.note(pool.name, "skipped", str(exc))
            continue
        values = {"ranges": str(ranges), "size": ranges.size, "next_pool": pool.next_pool}
        current = existing.get(pool.name)
        if current is None:
            RouterIpPool.objects.create(nas=context.nas, name=pool.name, **values)
            tally.created += 1
        elif any(getattr(current, key) != value for key, value in values.items()):
            RouterIpPool.objects.filter(pk=current.pk).update(**values)
            tally.updated += 1
        else:
            tally.duplicates += 1
    return tally


def _package_fields(limit: RateLimit) -> dict[str, Any]:
    fields: dict[str, Any] = {"download_kbps": limit.download_kbps, "upload_kbps": limit.upload_kbps}
    burst = (limit.burst_tx_kbps, limit.burst_rx_kbps, limit.burst_threshold_tx_kbps,
             limit.burst_threshold_rx_kbps, limit.burst_time_tx_s)
    if all(value for value in burst):
        (fields["burst_download_kbps"], fields["burst_upload_kbps"], fields["burst_threshold_download_kbps"],
         fields["burst_threshold_upload_kbps"], fields["burst_time_seconds"]) = burst
    return fields


def _import_profiles(context: JobContext, profiles: Iterable[Any], owner: Operator, update: bool,
                     rights: ImportRights) -> tuple[Tally, dict[str, Package | None]]:
    """Packages for the router's profiles. A profile maps to None when its package exists but is not
    offered to the owner node (its secrets are refused)."""
    tally = Tally()
    by_profile: dict[str, Package | None] = {}
    create = rights.edit_packages
    existing = {package.name: package for package in Package.objects.all()}
    ancestors = [int(pk) for pk in owner.path.strip("/").split("/")[1:]]  # resellers above and at owner
    for profile in profiles:
        if not profile.rate_limit:
            tally.skipped += 1
            tally.note(profile.name, "skipped", "no rate-limit; its secrets get the default package")
            continue
        try:
            fields = _package_fields(parse_rate_limit(profile.rate_limit))
        except ValueError as exc:
            tally.skipped += 1
            tally.note(profile.name, "skipped", str(exc))
            continue
        if not fields["download_kbps"] or not fields["upload_kbps"]:
            tally.skipped += 1
            tally.note(profile.name, "skipped", f"rate-limit '{profile.rate_limit}' is unlimited in one direction")
            continue
        package = existing.get(profile.name)
        if package is None and not create:
            tally.skipped += 1
            tally.note(profile.name, "skipped", "no package of this name; only the ISP can create packages")
            continue
        if package is None:
            package = Package.objects.create(name=profile.name, type=ConnectionType.PPPOE, price=Decimal("0"),
                                             **fields)
            for operator_id in ancestors:
                PackageAssignment.objects.get_or_create(package=package, operator_id=operator_id,
                                                        defaults={"price": Decimal("0")})
            tally.created += 1
        elif not rights.edit_packages and package.pk not in rights.offered:
            tally.skipped += 1
            tally.note(profile.name, "refused", f"package '{package.name}' is not offered to {owner.name}")
            by_profile[profile.name] = None
            continue
        else:
            tally.duplicates += 1
            changed = {key: value for key, value in fields.items() if getattr(package, key) != value}
            if changed and update and not rights.edit_packages:
                tally.note(profile.name, "duplicate", f"differs in {sorted(changed)}; only the ISP changes its "
                           "master packages")
            elif changed and update:
                Package.objects.filter(pk=package.pk).update(**changed)
                tally.updated += 1
                tally.note(profile.name, "updated", f"rates changed: {sorted(changed)}")
            else:
                tally.note(profile.name, "duplicate", "a package with this name exists"
                           + (f"; differs in {sorted(changed)}" if changed else ""))
        by_profile[profile.name] = package
    return tally, by_profile


def _static_ip(remote_address: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(remote_address))
    except ValueError:
        return None  # empty or a pool name


def _import_secrets(context: JobContext, secrets: list[Any], *, owner: Operator,
                    packages: dict[str, Package | None], default_package: Package | None, include_disabled: bool,
                    update: bool, expires_at: datetime | None) -> tuple[Tally, list[dict[str, str]]]:
    tally = Tally()
    expiries: list[dict[str, str]] = []
    starts = timezone.now()
    names = [secret.name for secret in secrets]
    existing: dict[str, Subscriber] = {}
    for start in range(0, len(names), 5000):
        for sub in Subscriber.objects.filter(username__in=names[start:start + 5000]).select_related("owner"):
            existing[sub.username] = sub
    taken_ips = set(Subscriber.objects.filter(ip_address__isnull=False).values_list("ip_address", flat=True))
    to_create: list[Subscriber] = []
    to_update: list[Subscriber] = []
    total = len(secrets)
    for number, secret in enumerate(secrets, start=1):
        if number % BATCH == 0:
            context.progress(50 + int(40 * number / max(total, 1)), f"Checked {number} of {total} PPP secrets")
        if secret.disabled and not include_disabled:
            tally.skipped += 1
            tally.note(secret.name, "skipped", "disabled on the router")
            continue
        try:
            USERNAME_VALIDATOR(secret.name)
        except ValidationError:
            tally.skipped += 1
            tally.note(secret.name, "skipped", "not a valid subscriber username")
            continue
        if secret.profile in packages and packages[secret.profile] is None:
            tally.skipped += 1
            tally.note(secret.name, "refused", f"profile '{secret.profile}' is a package not offered to {owner.name}")
            continue
        package = packages.get(secret.profile) or default_package
        if package is None:
            tally.skipped += 1
            tally.note(secret.name, "skipped", f"profile '{secret.profile}' maps to no package; choose a default")
            continue
        current = existing.get(secret.name)
        if current is not None:
            tally.duplicates += 1
            if not update:
                tally.note(secret.name, "duplicate", "a subscriber with this username exists")
            elif not current.owner.path.startswith(owner.path):
                tally.note(secret.name, "duplicate", "exists under another node; left unchanged")
            elif (current.password, current.package_id) != (secret.password, package.pk):
                current.password, current.package = secret.password, package
                to_update.append(current)
            continue
        ip = _static_ip(secret.remote_address)
        if ip is not None and ip in taken_ips:
            tally.note(secret.name, "warning", f"static address {ip} already belongs to another subscriber")
            ip = None
        if ip is not None:
            taken_ips.add(ip)
        to_create.append(Subscriber(
            username=secret.name, password=secret.password, connection_type=ConnectionType.PPPOE,
            ip_address=ip, package=package, owner=owner, full_name=secret.comment[:150],
            status=SubscriberStatus.DISABLED if secret.disabled else SubscriberStatus.ACTIVE,
            # No time is imported unless the login may import expiries: the customer starts expired.
            expires_at=expires_at or starts,
        ))
        if expires_at is not None:
            expiries.append({"name": secret.name, "expires_at": expires_at.isoformat()})
        existing[secret.name] = to_create[-1]
    for start in range(0, len(to_create), BATCH):
        with transaction.atomic():
            Subscriber.objects.bulk_create(to_create[start:start + BATCH])
        tally.created += len(to_create[start:start + BATCH])
        context.progress(90 + int(9 * (start + BATCH) / max(len(to_create), 1)),
                         f"Created {tally.created} of {len(to_create)} subscribers")
    if to_update:
        with transaction.atomic():
            Subscriber.objects.bulk_update(to_update, ["password", "package"], batch_size=BATCH)
        tally.updated = len(to_update)
    return tally, expiries


def import_from_router(context: JobContext) -> dict[str, Any]:
    params = context.params
    owner = Operator.objects.filter(pk=int(params.get("owner_id") or 0)).first()
    if owner is None:
        raise JobInputError("The node the subscribers should belong to no longer exists.")
    rights = _rights(context, owner)
    default_package = None
    if params.get("default_package_id") is not None:
        default_package = Package.objects.filter(pk=params["default_package_id"]).first()
        if default_package is None:
            raise JobInputError("The default package no longer exists.")
        if not rights.edit_packages and default_package.pk not in rights.offered:
            raise JobInputError(f"The default package '{default_package.name}' is not offered to {owner.name}.")
    update = params.get("on_duplicate") == "update"
    client = context.client()
    context.progress(0, "Reading IP pools")
    pools = client.ip_pools()
    context.progress(5, "Reading PPP profiles")
    profiles = client.ppp_profiles()
    context.progress(10, "Reading PPP secrets")
    secrets = client.ppp_secrets()
    context.progress(40, f"Read {len(pools)} pools, {len(profiles)} profiles, {len(secrets)} secrets")
    for menu, rows in (("ip_pool", pools), ("ppp_profile", profiles), ("ppp_secret", secrets)):
        _snapshot(context, menu, rows)
    pool_tally = _import_pools(context, pools)
    profile_tally, packages = _import_profiles(context, profiles, owner, update, rights)
    context.progress(50, "Importing PPP secrets")
    secret_tally, expiries = _import_secrets(
        context, secrets, owner=owner, packages=packages, default_package=default_package,
        include_disabled=bool(params.get("include_disabled")), update=update, expires_at=rights.expires_at,
    )
    return {
        "read": {"ip_pools": len(pools), "ppp_profiles": len(profiles), "ppp_secrets": len(secrets)},
        "ip_pools": pool_tally.as_dict(),
        "packages": profile_tally.as_dict(),
        "subscribers": secret_tally.as_dict(),
        # Every expiry the import set (only a login that imports expiries sets any; the others' customers
        # start expired and are sold time like any other).
        "expiries_set": expiries,
    }
