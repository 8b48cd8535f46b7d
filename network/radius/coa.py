"""RFC 5176 Disconnect-Request and CoA-Request to a NAS (pyrad).

The NAS address is the tenant's to choose, so it passes the egress guard (network.egress) first: the
request goes only to the checked address, never to loopback, link-local or the platform's own networks.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from pathlib import Path

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary

from network.egress import EgressRefused, resolve

DICTIONARY = Path(__file__).with_name("dictionary")


@functools.cache
def dictionary() -> Dictionary:
    return Dictionary(str(DICTIONARY))


@dataclass(frozen=True)
class CoaResult:
    acked: bool
    error: str = ""


class NasUnreachable(Exception):
    """No answer from the NAS (retry later)."""


class NasAddressRefused(Exception):
    """The egress guard refuses the NAS's address; nothing was sent and retrying will not help."""


def coa_send(
    *,
    address: str,
    port: int,
    secret: str,
    disconnect: bool,
    username: str,
    session_id: str = "",
    attributes: dict[str, str] | None = None,
    timeout: float = 2.0,
    retries: int = 2,
) -> CoaResult:
    """Send one request; ACK → acked, NAK → not acked with its Error-Cause; silence raises NasUnreachable,
    a refused address NasAddressRefused."""
    try:
        destination = resolve(address, port, what="NAS")
    except (EgressRefused, ValueError) as exc:
        raise NasAddressRefused(getattr(exc, "message", str(exc))) from exc
    address = str(destination.address)
    client = Client(server=address, secret=secret.encode(), dict=dictionary(), coaport=port)
    client.timeout = timeout
    client.retries = retries
    code = packet.DisconnectRequest if disconnect else packet.CoARequest
    request = client.CreateCoAPacket(code=code)
    request["User-Name"] = username
    if session_id:
        request["Acct-Session-Id"] = session_id
    request["Event-Timestamp"] = int(time.time())
    for name, value in (attributes or {}).items():
        request[name] = value
    try:
        reply = client.SendPacket(request)
    except Timeout as exc:
        raise NasUnreachable(f"no answer from {address}:{port}") from exc
    except OSError as exc:
        raise NasUnreachable(f"{address}:{port}: {exc}") from exc
    if reply.code in (packet.DisconnectACK, packet.CoAACK):
        return CoaResult(acked=True)
    cause = reply.get("Error-Cause", [""])[0] if "Error-Cause" in reply else ""
    return CoaResult(acked=False, error=f"NAK (Error-Cause {cause})" if cause else "NAK")
