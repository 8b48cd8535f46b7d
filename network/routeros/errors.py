"""What can go wrong talking to a MikroTik router, phrased for an ISP operator."""

from __future__ import annotations


class RouterError(Exception):
    """Base class: the router at `address` ("host:port") could not do what we asked."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.message = message
        self.address = address


class RouterUnreachable(RouterError):
    """No API session: refused, timed out, dropped, TLS failure or not a RouterOS API port."""


class RouterAddressRefused(RouterError):
    """The egress guard (network.egress) refuses the router's address: no connection was attempted and
    retrying will not help."""


class RouterAuthFailed(RouterError):
    """The router rejected the API user name or password."""


class RouterPermissionDenied(RouterError):
    """The API user's group lacks the policy the command needs (usually `write`)."""

    def __init__(self, message: str, *, address: str, user: str, group: str | None) -> None:
        super().__init__(message, address=address)
        self.user = user
        self.group = group


class RouterCommandFailed(RouterError):
    """The router answered the command with `!trap` (duplicate name, bad value, ...)."""

    def __init__(
        self,
        message: str,
        *,
        address: str,
        command: str,
        router_message: str,
        category: int | None = None,
    ) -> None:
        super().__init__(message, address=address)
        self.command = command
        self.router_message = router_message
        self.category = category


class RouterItemNotFound(RouterCommandFailed):
    """The item we were asked to change (e.g. a PPP secret by name) is not on the router."""
