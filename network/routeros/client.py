"""RouterClient: one API session to one MikroTik router, with typed operations.

    with RouterClient("10.0.0.1", "backhaul", "secret", timeout=5) as router:
        router.ensure("/ppp/profile", {"name": "plan-10M"}, {"rate-limit": "10M/10M"})
        router.disable_secret("sub00042")

Connection failures are retried with exponential backoff; `!trap` replies are not.
Reads are retried once on a fresh session if the connection drops mid-command; writes
are not, because the router may already have applied them.
A client is not thread-safe: use one per thread or task.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence

from librouteros.api import Api
from librouteros.exceptions import MultiTrapError, TrapError
from librouteros.protocol import cast_to_api, compose_word
from librouteros.types import ROSType

from network.routeros.connection import (
    API_PORT,
    API_SSL_PORT,
    RouterEndpoint,
    is_network_error,
    open_session,
    trap_category,
    trap_text,
    unreachable,
)
from network.routeros.errors import (
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
    Row,
    text,
)

WRITE_VERBS = frozenset({"add", "set", "remove", "enable", "disable", "unset", "move"})
NO_SUCH_ITEM = "no such item"


def menu_path(path: str) -> str:
    """'/ppp/secret', 'ppp/secret' and '/ppp secret' all name the same menu."""
    parts = [part for part in path.replace(" ", "/").split("/") if part]
    if not parts:
        raise ValueError(f"{path!r} is not a RouterOS menu path (expected e.g. '/ppp/secret')")
    return "/" + "/".join(parts)


def api_text(value: ROSType | None) -> str | None:
    """A value as the router would print it, with yes/no and true/false unified."""
    if value is None:
        return None
    printed = str(cast_to_api(value))
    return {"true": "yes", "false": "no"}.get(printed, printed)


class RouterClient:
    def __init__(
        self,
        host: str,
        username: str,
        password: str,
        *,
        port: int | None = None,
        use_tls: bool = False,
        verify_tls: bool = False,
        ca_file: str | None = None,
        connect_timeout: float = 5.0,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        encoding: str = "utf-8",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {attempts}")
        self.endpoint = RouterEndpoint(
            host=host,
            username=username,
            password=password,
            port=port if port is not None else (API_SSL_PORT if use_tls else API_PORT),
            use_tls=use_tls,
            verify_tls=verify_tls,
            ca_file=ca_file,
            connect_timeout=connect_timeout,
            timeout=timeout,
            encoding=encoding,
        )
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._sleep = sleep
        self._api: Api | None = None

    def __repr__(self) -> str:
        return f"<RouterClient {self.endpoint.username}@{self.address}>"

    @property
    def address(self) -> str:
        return self.endpoint.address

    # -- session ----------------------------------------------------------------------

    def connect(self) -> None:
        """Open the session if needed, retrying network failures with backoff."""
        if self._api is not None:
            return
        for attempt in range(1, self.attempts + 1):
            try:
                self._api = open_session(self.endpoint)
                return
            except RouterUnreachable as exc:
                if attempt == self.attempts:
                    if self.attempts == 1:
                        raise
                    raise RouterUnreachable(
                        f"{exc.message} (gave up after {self.attempts} attempts)", address=self.address
                    ) from exc
                self._sleep(min(self.backoff * 2 ** (attempt - 1), self.max_backoff))

    def close(self) -> None:
        api, self._api = self._api, None
        if api is not None:
            with contextlib.suppress(OSError):  # closing a dead socket; nothing to recover
                api.close()

    def __enter__(self) -> RouterClient:
        self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _call(self, command: str, words: Sequence[str], *, idempotent: bool) -> list[Row]:
        tries = 2 if idempotent else 1
        for attempt in range(1, tries + 1):
            self.connect()
            api = self._api
            if api is None:  # connect() either sets it or raises
                raise RouterUnreachable(f"Router {self.address} has no API session", address=self.address)
            try:
                return list(api.rawCmd(command, *words))
            except (TrapError, MultiTrapError) as exc:
                raise self._trap_error(command, exc) from exc
            except Exception as exc:
                if not is_network_error(exc):
                    raise
                self.close()
                if attempt == tries:
                    raise unreachable(self.endpoint, exc, phase="reply") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _trap_error(self, command: str, exc: TrapError | MultiTrapError) -> RouterError:
        message = trap_text(exc)
        if "not enough permissions" in message:
            group: str | None
            try:
                group = self.user_rights().group
            except RouterError:
                group = None
            verb = command.rsplit("/", 1)[-1]
            what = "write permission" if verb in WRITE_VERBS else f"permission to run {command}"
            group_text = f"group '{group}'" if group else "group unknown"
            return RouterPermissionDenied(
                f"API user '{self.endpoint.username}' has no {what} ({group_text}) on router {self.address}",
                address=self.address,
                user=self.endpoint.username,
                group=group,
            )
        return RouterCommandFailed(
            f"Router {self.address} refused {command}: {message}",
            address=self.address,
            command=command,
            router_message=message,
            category=trap_category(exc),
        )

    # -- generic menu operations ----------------------------------------------------------

    def print(self, path: str, *, proplist: Sequence[str] = (), **where: ROSType) -> list[Row]:
        """Rows of a menu where every given property equals its value (`_` in names → `-`)."""
        return self._print(path, {key.replace("_", "-"): value for key, value in where.items()}, proplist)

    def _print(self, path: str, where: Mapping[str, ROSType], proplist: Sequence[str] = ()) -> list[Row]:
        words = [f"=.proplist={','.join(proplist)}"] if proplist else []
        words.extend(f"?={key}={cast_to_api(value)}" for key, value in where.items())
        return self._call(f"{menu_path(path)}/print", words, idempotent=True)

    def add(self, path: str, values: Mapping[str, ROSType]) -> str:
        """Add an item; returns its `.id` (e.g. '*1A')."""
        rows = self._call(f"{menu_path(path)}/add", [compose_word(k, v) for k, v in values.items()], idempotent=False)
        return text(rows[0], "ret") if rows else ""

    def set(self, path: str, values: Mapping[str, ROSType], *, item_id: str | None = None) -> None:
        """Change an item (`item_id`) or, without one, a singleton menu like /system/identity."""
        words = [compose_word(".id", item_id)] if item_id is not None else []
        words.extend(compose_word(k, v) for k, v in values.items())
        self._call(f"{menu_path(path)}/set", words, idempotent=False)

    def remove(self, path: str, *item_ids: str) -> None:
        if item_ids:
            self._call(f"{menu_path(path)}/remove", [compose_word(".id", ",".join(item_ids))], idempotent=False)

    def disable(self, path: str, *item_ids: str) -> None:
        """Disable items by `.id` in one command (e.g. thousands of PPP secrets at once)."""
        if item_ids:
            self._call(f"{menu_path(path)}/disable", [compose_word(".id", ",".join(item_ids))], idempotent=False)

    def enable(self, path: str, *item_ids: str) -> None:
        if item_ids:
            self._call(f"{menu_path(path)}/enable", [compose_word(".id", ",".join(item_ids))], idempotent=False)

    def ensure(self, path: str, match: Mapping[str, ROSType], values: Mapping[str, ROSType]) -> EnsureResult:
        """Make the item matching `match` have `values`: add it if missing, set only what differs.

        Running it again changes nothing. An empty `match` addresses a singleton menu.
        Give values in the form the router prints them, or every run will report a change.
        """
        rows = self._print(path, match)
        if len(rows) > 1:
            raise RouterCommandFailed(
                f"{len(rows)} entries in {menu_path(path)} on router {self.address} match "
                f"{dict(match)}; refusing to guess which one to change",
                address=self.address,
                command=f"{menu_path(path)}/print",
                router_message="ambiguous match",
            )
        if not rows:
            if not match:
                raise RouterItemNotFound(
                    f"{menu_path(path)} on router {self.address} has no settings to change",
                    address=self.address,
                    command=f"{menu_path(path)}/print",
                    router_message=NO_SUCH_ITEM,
                )
            desired = {**match, **values}
            item_id = self.add(path, desired)
            added: dict[str, tuple[str | None, str]] = {
                key: (None, api_text(value) or "") for key, value in desired.items()
            }
            return EnsureResult(item_id=item_id, action="added", changes=added)
        row = rows[0]
        row_id = text(row, ".id") or None  # singleton menus have no .id
        changes = {
            key: (api_text(row.get(key)), api_text(value) or "")
            for key, value in values.items()
            if (api_text(row.get(key)) or "") != (api_text(value) or "")
        }
        if not changes:
            return EnsureResult(item_id=row_id, action="unchanged", changes={})
        self.set(path, {key: values[key] for key in changes}, item_id=row_id)
        return EnsureResult(item_id=row_id, action="updated", changes=changes)

    def _single(self, path: str) -> Row:
        rows = self._print(path, {})
        if not rows:
            raise RouterCommandFailed(
                f"Router {self.address} returned nothing for {path}",
                address=self.address,
                command=f"{path}/print",
                router_message="empty reply",
            )
        return rows[0]

    def _ids_named(self, path: str, name: str, label: str) -> list[str]:
        rows = self._print(path, {"name": name}, (".id",))
        if not rows:
            raise RouterItemNotFound(
                f"{label} '{name}' not found on router {self.address}",
                address=self.address,
                command=f"{path}/print",
                router_message=NO_SUCH_ITEM,
            )
        return [text(row, ".id") for row in rows]

    # -- typed operations -----------------------------------------------------------------

    def identity(self) -> RouterIdentity:
        return RouterIdentity(name=text(self._single("/system/identity"), "name"))

    def resource(self) -> RouterResource:
        return RouterResource.from_row(self._single("/system/resource"))

    def user_rights(self) -> ApiUserRights:
        """Policies of the logged-in API user's group, e.g. to check `can_write` up front."""
        username = self.endpoint.username
        users = self._print("/user", {"name": username}, ("name", "group"))
        if not users:
            raise RouterItemNotFound(
                f"API user '{username}' is not a local user on router {self.address}; "
                "its rights cannot be read (RADIUS login?)",
                address=self.address,
                command="/user/print",
                router_message=NO_SUCH_ITEM,
            )
        group = text(users[0], "group")
        groups = self._print("/user/group", {"name": group}, ("name", "policy"))
        policy = text(groups[0], "policy") if groups else ""
        policies = frozenset(p for p in policy.split(",") if p and not p.startswith("!"))
        return ApiUserRights(user=username, group=group, policies=policies)

    def ppp_secrets(self, name: str | None = None) -> list[PppSecret]:
        where = {"name": name} if name is not None else {}
        return [PppSecret.from_row(row) for row in self._print("/ppp/secret", where, PppSecret.PROPERTIES)]

    def ppp_profiles(self) -> list[PppProfile]:
        return [PppProfile.from_row(row) for row in self._print("/ppp/profile", {}, PppProfile.PROPERTIES)]

    def ip_pools(self) -> list[IpPool]:
        return [IpPool.from_row(row) for row in self._print("/ip/pool", {}, IpPool.PROPERTIES)]

    def ppp_active(self, name: str | None = None) -> list[PppSession]:
        where = {"name": name} if name is not None else {}
        return [PppSession.from_row(row) for row in self._print("/ppp/active", where, PppSession.PROPERTIES)]

    def hotspot_active(self) -> list[HotspotSession]:
        rows = self._print("/ip/hotspot/active", {}, HotspotSession.PROPERTIES)
        return [HotspotSession.from_row(row) for row in rows]

    def disable_secret(self, name: str) -> None:
        """Disable a PPP secret so it cannot log in again (does not end its session)."""
        ids = self._ids_named("/ppp/secret", name, "PPP secret")
        self._call("/ppp/secret/disable", [compose_word(".id", ",".join(ids))], idempotent=False)

    def enable_secret(self, name: str) -> None:
        ids = self._ids_named("/ppp/secret", name, "PPP secret")
        self._call("/ppp/secret/enable", [compose_word(".id", ",".join(ids))], idempotent=False)

    def kick_ppp(self, name: str) -> int:
        """End every PPP session of `name`; returns how many were ended."""
        ids = [text(row, ".id") for row in self._print("/ppp/active", {"name": name}, (".id",))]
        kicked = 0
        for item_id in ids:
            try:
                self.remove("/ppp/active", item_id)
                kicked += 1
            except RouterCommandFailed as exc:
                # A session that ended on its own between print and remove is not an error.
                if NO_SUCH_ITEM not in exc.router_message:
                    raise
        return kicked
