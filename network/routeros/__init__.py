"""MikroTik RouterOS API access for Backhaul: a typed client over librouteros."""

from network.routeros.client import RouterClient, menu_path
from network.routeros.errors import (
    RouterAddressRefused,
    RouterAuthFailed,
    RouterCommandFailed,
    RouterError,
    RouterItemNotFound,
    RouterPermissionDenied,
    RouterUnreachable,
)
from network.routeros.records import (
    ApiUserRights,
    EnsureResult,
    HotspotSession,
    IpPool,
    PppProfile,
    PppSecret,
    PppSession,
    RouterIdentity,
    RouterResource,
)

__all__ = [
    "ApiUserRights",
    "EnsureResult",
    "HotspotSession",
    "IpPool",
    "PppProfile",
    "PppSecret",
    "PppSession",
    "RouterAddressRefused",
    "RouterAuthFailed",
    "RouterClient",
    "RouterCommandFailed",
    "RouterError",
    "RouterIdentity",
    "RouterItemNotFound",
    "RouterPermissionDenied",
    "RouterResource",
    "RouterUnreachable",
    "menu_path",
]
