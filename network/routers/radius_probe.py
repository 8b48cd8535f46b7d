"""Does our RADIUS server answer for a given NAS? Asked before a router is moved onto RADIUS.

`settings.ROUTER_RADIUS_PROBE` names the function (keyword arguments nas, username, password); the
default sends a real Access-Request with the NAS's secret to RADIUS_SERVER_ADDRESS:RADIUS_AUTH_PORT,
from the NAS's own address when this host has it (FreeRADIUS identifies clients by source address).
"""

from __future__ import annotations

import contextlib
import ipaddress
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from network.models import Nas

DICTIONARY = Path(__file__).with_name("radius.dictionary")


class RadiusProbeFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RadiusProbe(Protocol):
    def __call__(self, *, nas: Nas, username: str, password: str) -> None: ...


def radius_probe_configured() -> RadiusProbe:
    probe: RadiusProbe = import_string(settings.ROUTER_RADIUS_PROBE)
    return probe


def radius_probe_pyrad(*, nas: Nas, username: str, password: str, timeout: float = 2.0) -> None:
    """Raises RadiusProbeFailed unless the server answers Access-Accept for `username`."""
    from pyrad.client import Client, Timeout
    from pyrad.dictionary import Dictionary
    from pyrad.packet import AccessAccept, AccessRequest

    server = f"{settings.RADIUS_SERVER_ADDRESS}:{settings.RADIUS_AUTH_PORT}"
    client = Client(server=settings.RADIUS_SERVER_ADDRESS, authport=settings.RADIUS_AUTH_PORT,
                    secret=nas.secret.encode(), dict=Dictionary(str(DICTIONARY)))
    client.timeout = timeout
    client.retries = 2
    # When the NAS address is not ours the server sees this host instead (a lab setup).
    with contextlib.suppress(OSError):
        client.bind((nas.address, 0))
    request = client.CreateAuthPacket(code=AccessRequest, User_Name=username, NAS_Identifier=nas.name)
    request["User-Password"] = request.PwCrypt(password)
    if isinstance(ipaddress.ip_address(nas.address), ipaddress.IPv4Address):
        request["NAS-IP-Address"] = nas.address
    try:
        reply = client.SendPacket(request)
    except Timeout as exc:
        raise RadiusProbeFailed(
            f"RADIUS server {server} did not answer an Access-Request for router {nas.address}; is the router "
            "registered as a RADIUS client with this secret?"
        ) from exc
    except OSError as exc:
        raise RadiusProbeFailed(f"RADIUS server {server} cannot be reached: {exc.strerror or exc}") from exc
    if reply.code != AccessAccept:
        message = "; ".join(str(item) for item in reply.get("Reply-Message", []))
        raise RadiusProbeFailed(
            f"RADIUS server {server} rejected test subscriber '{username}'" + (f": {message}" if message else "")
        )
