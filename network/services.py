"""Writes on NASes and RADIUS actions.

The network belongs to the ISP: registering, changing or removing a NAS is ``Act.NAS_REGISTER`` (ISP
admins, and logins granted ``hierarchy.manage_network`` on the ISP's node), checked here against the
required ``actor``. A NAS address passes the egress guard (network.egress): the platform sends CoA /
Disconnect there, so loopback, link-local and the platform's own networks are refused.

A tenant's ``Nas`` rows are mirrored into the shared registry ``radius.nas`` in the same
transaction (FreeRADIUS's dynamic clients read it, so a change needs no reload). The registry's
UNIQUE(address) is what keeps a NAS address platform-wide unique: two ISPs racing for one
address cannot both win.
"""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from hierarchy.authority import Act, authorize
from hierarchy.models import Operator, Subscriber
from network import egress
from network.models import DisconnectRequest, Nas, NasType, RadiusActionKind
from tenants.db import schema_current, violated_constraint

_ADDRESS_TAKEN = "This address is already registered as a NAS."


def _clean(*, name: str, address: str, secret: str, coa_port: int, nas_type: str) -> tuple[str, str]:
    errors: dict[str, str] = {}
    name = name.strip()
    if not name or len(name) > 80:
        errors["name"] = "Enter a name of 1-80 characters."
    try:
        parsed = ipaddress.ip_address(str(address).strip())
        address = str(parsed)
        reason = egress.refusal(parsed)
        if reason is not None:
            errors["address"] = f"{address} is {reason}; the platform does not send RADIUS requests there."
    except ValueError:
        errors["address"] = "Enter a valid IPv4 or IPv6 address."
    if not 6 <= len(secret) <= 128 or not secret.isprintable():
        errors["secret"] = "The shared secret must be 6-128 printable characters."  # noqa: S105 - a message
    if not 0 < int(coa_port) < 65536:
        errors["coa_port"] = "Enter a port between 1 and 65535."
    if nas_type not in NasType.values:
        errors["nas_type"] = f"Choose one of {', '.join(NasType.values)}."
    if errors:
        raise ValidationError(errors)
    return name, address


def _registry_remove(*, address: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM radius.nas WHERE address = %s::inet AND tenant_schema = %s", [address, schema_current()]
        )


def _registry_add(nas: Nas) -> None:
    # Every router is registered, RADIUS or not: the registry keeps addresses platform-wide unique, and
    # a router migrated to RADIUS later must already be known to FreeRADIUS when it is probed.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO radius.nas (address, secret, tenant_schema, nas_type, description, coa_port)"
            " VALUES (%s::inet, %s, %s, %s, %s, %s)",
            [nas.address, nas.secret, schema_current(), nas.nas_type, nas.name, nas.coa_port],
        )


def _save(nas: Nas, *, old_address: str | None) -> Nas:
    try:
        with transaction.atomic():
            nas.save()
            if old_address is not None:
                _registry_remove(address=old_address)
            _registry_add(nas)
    except IntegrityError as exc:
        constraint = violated_constraint(exc)
        if "address" in constraint:
            raise ValidationError({"address": _ADDRESS_TAKEN}) from exc
        raise
    return nas


def nas_create(
    *,
    actor: Any,
    owner: Operator,
    name: str,
    address: str,
    secret: str,
    nas_type: str = NasType.MIKROTIK,
    coa_port: int = 3799,
    zone: str = "",
    uses_radius: bool = True,
) -> Nas:
    """Register a NAS of this ISP; FreeRADIUS answers it from its next packet on."""
    authorize(actor, Act.NAS_REGISTER, node=owner)
    name, address = _clean(name=name, address=address, secret=secret, coa_port=coa_port, nas_type=nas_type)
    nas = Nas(name=name, address=address, secret=secret, nas_type=nas_type, coa_port=coa_port, zone=zone,
              owner=owner, uses_radius=uses_radius)
    return _save(nas, old_address=None)


def nas_update(*, actor: Any, nas: Nas, **changes: Any) -> Nas:
    """Change a NAS (address, secret, ports...); the registry follows in the same transaction."""
    authorize(actor, Act.NAS_REGISTER, node=nas.owner)
    allowed = {"name", "address", "secret", "nas_type", "coa_port", "zone", "uses_radius"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({field: "This field cannot be changed here." for field in sorted(unknown)})
    old_address = nas.address
    for field, value in changes.items():
        setattr(nas, field, value)
    nas.name, nas.address = _clean(name=nas.name, address=nas.address, secret=nas.secret,
                                   coa_port=nas.coa_port, nas_type=nas.nas_type)
    return _save(nas, old_address=old_address)


def nas_delete(*, actor: Any, nas: Nas) -> None:
    authorize(actor, Act.NAS_REGISTER, node=nas.owner)
    with transaction.atomic():
        _registry_remove(address=nas.address)
        nas.delete()


# --- Disconnect / CoA --------------------------------------------------------------------------


def _open_sessions(*, username: str) -> list[tuple[str, str]]:
    """(NAS address, Acct-Session-Id) of this tenant's open sessions for a login."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT host(clientipaddress), acctsessionid FROM radius.radacct"
            " WHERE tenant = %s AND username = %s AND acctstoptime IS NULL",
            [schema_current(), username],
        )
        return [(row[0], row[1]) for row in cursor.fetchall()]


def _rate_limit(*, subscriber: Subscriber) -> str | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT value FROM radreply WHERE username = %s AND attribute = 'Mikrotik-Rate-Limit'",
            [_radius_username(subscriber)],
        )
        row = cursor.fetchone()
    return str(row[0]) if row else None


def _radius_username(subscriber: Subscriber) -> str:
    if subscriber.connection_type == "hotspot" and subscriber.mac_address:
        return "".join(c for c in subscriber.mac_address.lower() if c in "0123456789abcdef")
    return subscriber.username


def _queue(*, kind: str, subscriber: Subscriber, attributes: dict[str, str]) -> list[DisconnectRequest]:
    from network.tasks import radius_action_send

    names = {subscriber.username}
    if subscriber.mac_address:
        names.add(subscriber.mac_address)
    sessions = [s for name in sorted(names) for s in _open_sessions(username=name)]
    nases = {n.address: n for n in Nas.objects.filter(address__in=[address for address, _ in sessions])}
    actions = []
    for address, session_id in sessions:
        action = DisconnectRequest.objects.create(
            kind=kind, subscriber=subscriber, username=subscriber.username, nas=nases.get(address),
            nas_address=address, acct_session_id=session_id, attributes=attributes,
        )
        actions.append(action)
        transaction.on_commit(functools.partial(radius_action_send.delay, schema_current(), action.pk))
    return actions


def tenant_sessions_disconnect() -> list[DisconnectRequest]:
    """Send a Disconnect-Request for every open session of the current tenant (the ISP was
    suspended), after the caller's transaction commits; logged and retried like any other."""
    from network.tasks import radius_action_send

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT host(a.clientipaddress), a.acctsessionid, a.username, s.id FROM radius.radacct AS a"
            " LEFT JOIN hierarchy_subscriber AS s ON a.username IN (s.username, s.mac_address)"
            " WHERE a.tenant = %s AND a.acctstoptime IS NULL ORDER BY a.radacctid",
            [schema_current()],
        )
        sessions = cursor.fetchall()
    nases = {n.address: n for n in Nas.objects.filter(address__in={row[0] for row in sessions})}
    actions = []
    with transaction.atomic():
        for address, session_id, username, subscriber_id in sessions:
            action = DisconnectRequest.objects.create(
                kind=RadiusActionKind.DISCONNECT, subscriber_id=subscriber_id, username=username or "",
                nas=nases.get(address), nas_address=address, acct_session_id=session_id, attributes={},
            )
            actions.append(action)
            transaction.on_commit(functools.partial(radius_action_send.delay, schema_current(), action.pk))
    return actions


def subscriber_disconnect(*, subscriber: Subscriber) -> list[DisconnectRequest]:
    """Send a Disconnect-Request (RFC 5176) for each open session of the subscriber, after the
    caller's transaction commits. The hook for suspension, expiry and non-payment."""
    return _queue(kind=RadiusActionKind.DISCONNECT, subscriber=subscriber, attributes={})


def session_disconnect(
    *, actor: Any, subscriber: Subscriber, username: str, nas_address: str, acct_session_id: str
) -> DisconnectRequest:
    """Drop one live session (the panel's Disconnect button): a Disconnect-Request to its NAS after
    the caller's transaction commits, logged and retried like the others."""
    from network.tasks import radius_action_send

    authorize(actor, Act.SESSION_DISCONNECT, node=subscriber.owner)

    action = DisconnectRequest.objects.create(
        kind=RadiusActionKind.DISCONNECT, subscriber=subscriber, username=username,
        nas=Nas.objects.filter(address=nas_address).first(), nas_address=nas_address,
        acct_session_id=acct_session_id, attributes={},
    )
    transaction.on_commit(functools.partial(radius_action_send.delay, schema_current(), action.pk))
    return action


def subscriber_rate_change(*, subscriber: Subscriber) -> list[DisconnectRequest]:
    """Send a CoA-Request with the subscriber's current rate (from the radreply view) to each NAS
    holding an open session; call after a package change."""
    rate = _rate_limit(subscriber=subscriber)
    if rate is None:  # no service any more: drop the session instead
        return subscriber_disconnect(subscriber=subscriber)
    return _queue(kind=RadiusActionKind.COA, subscriber=subscriber, attributes={"Mikrotik-Rate-Limit": rate})


def sessions_close_stale(*, interim_seconds: int) -> int:
    """Close this tenant's open sessions silent for 3 interim intervals (the NAS's own interval
    when accounting has seen one, else ``interim_seconds``): a NAS that lost its Stop would
    otherwise keep them online forever."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE radius.radacct SET acctstoptime = COALESCE(acctupdatetime, acctstarttime),"
            " acctterminatecause = 'Stale-Session'"
            " WHERE tenant = %s AND acctstoptime IS NULL"
            " AND COALESCE(acctupdatetime, acctstarttime)"
            "     < now() - 3 * make_interval(secs => COALESCE(NULLIF(acctinterval, 0), %s))",
            [schema_current(), interim_seconds],
        )
        return int(cursor.rowcount)
