"""The one egress guard: every outbound connection a tenant can point the platform at goes through here.

A tenant chooses router addresses (RouterOS API), NAS addresses (CoA / Disconnect) and, later, SMS and
webhook URLs. Without a guard, "my router is at 169.254.169.254" makes the worker talk to the cloud's
metadata service, and "127.0.0.1:6379" to the platform's own Redis (server-side request forgery).

Refused in every mode, development included: loopback, link-local (169.254.0.0/16 with the cloud
metadata address, fe80::/10), multicast, unspecified (0.0.0.0, ::, 0.0.0.0/8), reserved and broadcast,
a few cloud metadata addresses outside link-local, and the platform's own networks
(``settings.BACKHAUL_EGRESS_DENY``). ``settings.BACKHAUL_EGRESS_ALLOW`` lists the networks the platform
operator allows anyway (a lab router on loopback, the test suite's fake routers).

A host name is resolved once; every address it resolves to is checked, and the connection goes to a
checked address, never to the name again (a second lookup could answer differently: DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata services that are not link-local (AWS over IPv6, Alibaba Cloud).
METADATA_NETWORKS: tuple[IPNetwork, ...] = (
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),
)
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")  # "this host on this network": Linux connects 0.x to itself
UNSAFE_TEXT = ("\r", "\n", "\0")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")


class EgressRefused(Exception):
    """The platform will not connect there; ``message`` says why, for the operator."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.message = message
        self.address = address


@dataclass(frozen=True)
class Destination:
    """A checked place to connect to: the name as given and the address to use instead of it."""

    host: str
    address: IPAddress
    port: int

    @property
    def sockaddr(self) -> tuple[str, int]:
        return str(self.address), self.port


def networks(cidrs: Iterable[str], *, setting: str) -> list[IPNetwork]:
    """Parse a list of CIDRs (a setting); a bad entry names the setting."""
    parsed = []
    for cidr in cidrs:
        try:
            parsed.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError as exc:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(f"{setting}: {cidr!r} is not an IP network (use e.g. 10.0.0.0/8).") from exc
    return parsed


def _inside(address: IPAddress, nets: Iterable[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in nets)


def refusal(address: IPAddress) -> str | None:
    """Why the platform must not connect to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if _inside(address, networks(settings.BACKHAUL_EGRESS_ALLOW, setting="BACKHAUL_EGRESS_ALLOW")):
        return None
    if address.is_unspecified or _inside(address, [THIS_NETWORK]):
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address (this server itself)"
    if address.is_link_local or _inside(address, METADATA_NETWORKS):
        return "a link-local address (cloud metadata and the host's own link)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved or address == ipaddress.IPv4Address("255.255.255.255"):
        return "a reserved or broadcast address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a reserved or broadcast address"
    if _inside(address, networks(settings.BACKHAUL_EGRESS_DENY, setting="BACKHAUL_EGRESS_DENY")):
        return "one of the platform's own networks"
    return None


def address_check(address: str | IPAddress, *, what: str = "Address") -> IPAddress:
    """The address as an ``ip_address``; raises EgressRefused if the platform may not connect to it."""
    parsed = ipaddress.ip_address(str(address).strip()) if isinstance(address, str) else address
    reason = refusal(parsed)
    if reason is not None:
        raise EgressRefused(f"{what} {parsed} is {reason}; the platform does not connect there.", address=str(parsed))
    return parsed


def text_check(value: str, *, what: str) -> None:
    """Router address, user and password go into a protocol's words: no CR, LF or NUL."""
    if any(char in value for char in UNSAFE_TEXT):
        raise ValueError(f"{what} must not contain line breaks or NUL characters.")


def _resolve(host: str, port: int) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise EgressRefused(f"Host name '{host}' could not be resolved.", address=host) from exc
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def resolve(host: str, port: int, *, what: str = "Address") -> Destination:
    """Resolve ``host`` once (an IP literal is not looked up), refuse it if ANY of its addresses is refused,
    and return the first one to connect to."""
    text_check(host, what=what)
    host = host.strip()
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        if not HOST_NAME.match(host):
            raise EgressRefused(f"{what} '{host}' is neither an IP address nor a host name.", address=host) from None
        addresses = _resolve(host, port)
        if not addresses:
            raise EgressRefused(f"Host name '{host}' has no address.", address=host) from None
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = f"{host} ({address})" if str(address) != host else host
            raise EgressRefused(f"{what} {shown} is {reason}; the platform does not connect there.",
                                address=str(address))
    return Destination(host=host, address=addresses[0], port=port)


def tcp_connect(host: str, port: int, *, timeout: float, what: str = "Address") -> socket.socket:
    """A TCP connection to a checked address of ``host`` (the name is never looked up a second time)."""
    destination = resolve(host, port, what=what)
    return socket.create_connection(destination.sockaddr, timeout=timeout)


def url_check(url: str, *, schemes: tuple[str, ...] = ("https",)) -> Destination:
    """For SMS gateway and webhook URLs: the scheme is allowed and the host passes the guard. Connect to the
    returned address (with the URL's host name only as the TLS server name / Host header)."""
    text_check(url, what="URL")
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise EgressRefused(f"URL must start with {' or '.join(f'{s}://' for s in schemes)}.", address=url)
    if not parts.hostname:
        raise EgressRefused("URL has no host name.", address=url)
    if parts.username or parts.password:
        raise EgressRefused("URL must not carry a user name or password.", address=url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise EgressRefused("URL has an invalid port.", address=url) from exc
    return resolve(parts.hostname, port, what="URL host")
