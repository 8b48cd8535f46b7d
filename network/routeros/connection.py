"""Opening a logged-in RouterOS API session and turning failures into RouterErrors.

Built from librouteros parts rather than `librouteros.connect` so that the connect
timeout and the per-read timeout are separate, and replies are read through a buffer
(librouteros reads 1-3 bytes per recv; a 10,000-secret print would take seconds).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field

from librouteros.api import Api
from librouteros.exceptions import (
    ConnectionClosed,
    FatalError,
    LibRouterosError,
    MultiTrapError,
    TrapError,
)
from librouteros.login import plain
from librouteros.protocol import ApiProtocol

from network.egress import EgressRefused, tcp_connect
from network.routeros.errors import RouterAddressRefused, RouterAuthFailed, RouterUnreachable

API_PORT = 8728
API_SSL_PORT = 8729


@dataclass(frozen=True)
class RouterEndpoint:
    host: str
    username: str
    password: str = field(repr=False)
    port: int
    use_tls: bool = False
    verify_tls: bool = False
    ca_file: str | None = None
    connect_timeout: float = 5.0
    timeout: float = 10.0
    encoding: str = "utf-8"

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class BufferedTransport:
    """Drop-in for librouteros' SocketTransport that reads the socket in large chunks."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._data = b""
        self._pos = 0

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()

    def read(self, length: int) -> bytes:
        end = self._pos + length
        while len(self._data) < end:
            chunk = self.sock.recv(max(65536, end - len(self._data)))
            if not chunk:
                raise ConnectionClosed("Connection unexpectedly closed.")
            self._data = self._data[self._pos :] + chunk
            end -= self._pos
            self._pos = 0
        out = self._data[self._pos : end]
        self._pos = end
        return out


def tls_context(endpoint: RouterEndpoint) -> ssl.SSLContext:
    if endpoint.verify_tls:
        return ssl.create_default_context(cafile=endpoint.ca_file)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Routers with self-signed certificates are the norm; a router with no certificate
    # on the api-ssl service only offers anonymous DH ciphers, so allow those too.
    context.set_ciphers("HIGH:!eNULL:@SECLEVEL=0")
    return context


def trap_text(exc: TrapError | MultiTrapError) -> str:
    traps = exc.traps if isinstance(exc, MultiTrapError) else (exc,)
    return "; ".join(str(trap) for trap in traps)


def trap_category(exc: TrapError | MultiTrapError) -> int | None:
    trap = exc.traps[0] if isinstance(exc, MultiTrapError) else exc
    return trap.category if isinstance(trap.category, int) else None


def _seconds(value: float) -> str:
    return f"{value:g} s"


def unreachable(endpoint: RouterEndpoint, exc: BaseException, *, phase: str) -> RouterUnreachable:
    """Describe a network-level failure; `phase` is "connect" or "reply"."""
    where = endpoint.address
    if isinstance(exc, TimeoutError):
        limit = endpoint.connect_timeout if phase == "connect" else endpoint.timeout
        message = f"Router {where} did not answer within {_seconds(limit)}"
    elif isinstance(exc, ConnectionRefusedError):
        service = "api-ssl" if endpoint.use_tls else "api"
        message = (
            f"Router {where} refused the connection; is the '{service}' service enabled "
            f"on port {endpoint.port} and allowed from this server?"
        )
    elif isinstance(exc, ssl.SSLError):
        message = f"TLS handshake with router {where} failed: {exc.reason or exc}"
    elif isinstance(exc, socket.gaierror):
        message = f"Router address '{endpoint.host}' could not be resolved: {exc.strerror}"
    elif isinstance(exc, FatalError):
        message = f"Router {where} ended the API session: {exc}"
    elif isinstance(exc, (ConnectionClosed, ConnectionResetError, BrokenPipeError)):
        message = f"Router {where} closed the API connection"
    elif isinstance(exc, LibRouterosError):
        message = f"Router {where} sent a reply that is not RouterOS API; is port {endpoint.port} the API port?"
    elif isinstance(exc, OSError):
        message = f"Router {where} is unreachable: {exc.strerror or exc}"
    else:
        message = f"Router {where} failed: {exc}"
    return RouterUnreachable(message, address=where)


def is_network_error(exc: BaseException) -> bool:
    """Failures worth a reconnect and retry: the network or the API session, never a !trap."""
    if isinstance(exc, (TrapError, MultiTrapError)):
        return False
    return isinstance(exc, (OSError, LibRouterosError))


def open_session(endpoint: RouterEndpoint) -> Api:
    """Connect and log in once; raises RouterAddressRefused (the egress guard: the host resolves to an
    address the platform does not connect to), RouterUnreachable or RouterAuthFailed."""
    try:
        sock = tcp_connect(endpoint.host, endpoint.port, timeout=endpoint.connect_timeout, what="Router")
    except EgressRefused as exc:
        raise RouterAddressRefused(exc.message, address=endpoint.address) from exc
    except ValueError as exc:  # CR, LF or NUL in the host
        raise RouterAddressRefused(str(exc), address=endpoint.address) from exc
    except OSError as exc:
        raise unreachable(endpoint, exc, phase="connect") from exc
    try:
        if endpoint.use_tls:
            server_name = endpoint.host if endpoint.verify_tls else None
            sock = tls_context(endpoint).wrap_socket(sock, server_hostname=server_name)
        api = Api(ApiProtocol(BufferedTransport(sock), encoding=endpoint.encoding))
        plain(api, endpoint.username, endpoint.password)
        sock.settimeout(endpoint.timeout)
    except (TrapError, MultiTrapError) as exc:
        sock.close()
        raise RouterAuthFailed(
            f"Router {endpoint.address} rejected API user '{endpoint.username}': {trap_text(exc)}",
            address=endpoint.address,
        ) from exc
    except Exception as exc:
        sock.close()
        if is_network_error(exc):
            raise unreachable(endpoint, exc, phase="connect") from exc
        raise
    return api
