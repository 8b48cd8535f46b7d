"""Typed views of RouterOS menu rows, built from librouteros reply dicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from librouteros.types import ROSType

Row = dict[str, ROSType]


def text(row: Mapping[str, ROSType], key: str) -> str:
    value = row.get(key, "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def number(row: Mapping[str, ROSType], key: str) -> int | None:
    value = row.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except ValueError:
        return None


def flag(row: Mapping[str, ROSType], key: str) -> bool:
    value = row.get(key, False)
    if isinstance(value, str):
        return value in ("yes", "true")
    return bool(value)


@dataclass(frozen=True)
class RouterIdentity:
    name: str


@dataclass(frozen=True)
class RouterResource:
    version: str
    uptime: str
    board_name: str
    cpu_load: int | None
    free_memory: int | None
    total_memory: int | None
    architecture: str

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> RouterResource:
        return cls(
            version=text(row, "version"),
            uptime=text(row, "uptime"),
            board_name=text(row, "board-name"),
            cpu_load=number(row, "cpu-load"),
            free_memory=number(row, "free-memory"),
            total_memory=number(row, "total-memory"),
            architecture=text(row, "architecture-name"),
        )


@dataclass(frozen=True)
class ApiUserRights:
    """Policies of the API user's group; `!write` style negations are left out."""

    user: str
    group: str
    policies: frozenset[str]

    @property
    def can_read(self) -> bool:
        return "read" in self.policies

    @property
    def can_write(self) -> bool:
        return "write" in self.policies

    @property
    def can_manage_users(self) -> bool:
        return "policy" in self.policies


@dataclass(frozen=True)
class PppSecret:
    PROPERTIES: ClassVar[tuple[str, ...]] = (
        ".id", "name", "password", "service", "profile", "local-address", "remote-address",
        "caller-id", "disabled", "comment",
    )  # fmt: skip

    id: str
    name: str
    password: str
    service: str
    profile: str
    local_address: str
    remote_address: str
    caller_id: str
    disabled: bool
    comment: str

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> PppSecret:
        return cls(
            id=text(row, ".id"),
            name=text(row, "name"),
            password=text(row, "password"),
            service=text(row, "service"),
            profile=text(row, "profile"),
            local_address=text(row, "local-address"),
            remote_address=text(row, "remote-address"),
            caller_id=text(row, "caller-id"),
            disabled=flag(row, "disabled"),
            comment=text(row, "comment"),
        )


@dataclass(frozen=True)
class PppProfile:
    PROPERTIES: ClassVar[tuple[str, ...]] = (
        ".id", "name", "local-address", "remote-address", "rate-limit", "only-one", "comment",
    )  # fmt: skip

    id: str
    name: str
    local_address: str
    remote_address: str
    rate_limit: str
    only_one: str
    comment: str

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> PppProfile:
        return cls(
            id=text(row, ".id"),
            name=text(row, "name"),
            local_address=text(row, "local-address"),
            remote_address=text(row, "remote-address"),
            rate_limit=text(row, "rate-limit"),
            only_one=text(row, "only-one"),
            comment=text(row, "comment"),
        )


@dataclass(frozen=True)
class IpPool:
    """`ranges` is the router's text; parse it with `rates.parse_pool_ranges`."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (".id", "name", "ranges", "next-pool", "comment")

    id: str
    name: str
    ranges: str
    next_pool: str
    comment: str

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> IpPool:
        return cls(
            id=text(row, ".id"),
            name=text(row, "name"),
            ranges=text(row, "ranges"),
            next_pool=text(row, "next-pool"),
            comment=text(row, "comment"),
        )


@dataclass(frozen=True)
class PppSession:
    """One row of `/ppp/active`: a connected PPPoE/L2TP/... subscriber."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (
        ".id", "name", "service", "caller-id", "address", "uptime", "session-id", "radius",
    )  # fmt: skip

    id: str
    name: str
    service: str
    caller_id: str
    address: str
    uptime: str
    session_id: str
    radius: bool

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> PppSession:
        return cls(
            id=text(row, ".id"),
            name=text(row, "name"),
            service=text(row, "service"),
            caller_id=text(row, "caller-id"),
            address=text(row, "address"),
            uptime=text(row, "uptime"),
            session_id=text(row, "session-id"),
            radius=flag(row, "radius"),
        )


@dataclass(frozen=True)
class HotspotSession:
    """One row of `/ip/hotspot/active`."""

    PROPERTIES: ClassVar[tuple[str, ...]] = (
        ".id", "server", "user", "address", "mac-address", "login-by", "uptime", "bytes-in", "bytes-out",
    )  # fmt: skip

    id: str
    server: str
    user: str
    address: str
    mac_address: str
    login_by: str
    uptime: str
    bytes_in: int | None
    bytes_out: int | None

    @classmethod
    def from_row(cls, row: Mapping[str, ROSType]) -> HotspotSession:
        return cls(
            id=text(row, ".id"),
            server=text(row, "server"),
            user=text(row, "user"),
            address=text(row, "address"),
            mac_address=text(row, "mac-address"),
            login_by=text(row, "login-by"),
            uptime=text(row, "uptime"),
            bytes_in=number(row, "bytes-in"),
            bytes_out=number(row, "bytes-out"),
        )


@dataclass(frozen=True)
class EnsureResult:
    """What `RouterClient.ensure` did: `action` is "added", "updated" or "unchanged"."""

    item_id: str | None
    action: Literal["added", "updated", "unchanged"]
    changes: dict[str, tuple[str | None, str]]
