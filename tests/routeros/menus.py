"""In-memory RouterOS menus (`/ppp/secret`, `/system/identity`, ...) for the fake router."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.routeros.query import QueryError, Row, compile_query

WRITE_VERBS = frozenset({"add", "set", "remove", "enable", "disable", "unset"})
LIST_VERBS = frozenset({"print", "getall", *WRITE_VERBS})
# RouterOS v7 prints booleans as true/false whatever the client sent.
BOOLEAN_PROPERTIES = frozenset(
    {"disabled", "use-radius", "accounting", "accept", "dynamic", "invalid", "radius", "log", "blocked"}
)
SELECTOR_KEYS = frozenset({".id", "numbers"})


class CommandTrap(Exception):
    """A command failed; the server answers `!trap` with this message."""

    def __init__(self, message: str, category: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.category = category


def normalise(values: Mapping[str, str]) -> Row:
    out: Row = {}
    for key, value in values.items():
        if key in BOOLEAN_PROPERTIES and value in ("yes", "no", "true", "false"):
            value = "true" if value in ("yes", "true") else "false"
        out[key] = value
    return out


def filter_rows(rows: Iterable[Row], queries: Sequence[str]) -> list[Row]:
    if not queries:
        return list(rows)
    try:
        query = compile_query(queries)
    except QueryError as exc:
        raise CommandTrap(str(exc), category=1) from exc
    return [row for row in rows if query.matches(row)]


@dataclass
class ListMenu:
    """A menu of items with `.id`s, e.g. `/ppp/secret`."""

    path: str
    verbs: frozenset[str] = LIST_VERBS
    defaults: Mapping[str, str] = field(default_factory=dict)
    unique: tuple[str, ...] = ()
    duplicate_message: str = "failure: already have such entry"
    items: dict[str, Row] = field(default_factory=dict)
    _index: dict[tuple[str, ...], str] = field(default_factory=dict)
    _next_id: int = 1

    def _key(self, row: Row) -> tuple[str, ...] | None:
        if not self.unique or any(name not in row for name in self.unique):
            return None
        return tuple(row[name] for name in self.unique)

    def insert(self, values: Mapping[str, str], item_id: str | None = None) -> str:
        row = normalise(values)
        row.pop(".id", None)
        row.update((key, value) for key, value in self.defaults.items() if key not in row)
        key = self._key(row)
        if key is not None and key in self._index:
            raise CommandTrap(self.duplicate_message)
        if item_id is None:
            item_id = f"*{self._next_id:X}"
            self._next_id += 1
        if key is not None:
            self._index[key] = item_id
        self.items[item_id] = row
        return item_id

    def resolve(self, attrs: Mapping[str, str]) -> list[str]:
        """Item ids named by `=.id=` or `=numbers=` (ids or names, comma separated)."""
        selector = attrs.get(".id", attrs.get("numbers"))
        if selector is None:
            raise CommandTrap("missing =.id= or =numbers= argument", category=1)
        ids: list[str] = []
        for part in filter(None, (p.strip() for p in selector.split(","))):
            if part in self.items:
                ids.append(part)
                continue
            by_name = [item_id for item_id, row in self.items.items() if row.get("name") == part]
            if not by_name:
                raise CommandTrap("no such item")
            ids.extend(by_name)
        return ids

    def update(self, item_id: str, values: Mapping[str, str]) -> None:
        row = self.items[item_id]
        new_row = {**row, **normalise(values)}
        old_key, new_key = self._key(row), self._key(new_row)
        if new_key != old_key and new_key is not None and new_key in self._index:
            raise CommandTrap(self.duplicate_message)
        if old_key is not None:
            self._index.pop(old_key, None)
        if new_key is not None:
            self._index[new_key] = item_id
        self.items[item_id] = new_row

    def delete(self, item_id: str) -> None:
        row = self.items.pop(item_id)
        key = self._key(row)
        if key is not None:
            self._index.pop(key, None)

    def print(self, queries: Sequence[str]) -> list[Row]:
        rows = ({".id": item_id, **row} for item_id, row in self.items.items())
        return filter_rows(rows, queries)

    def run(self, verb: str, attrs: Mapping[str, str], queries: Sequence[str]) -> list[Row] | str | None:
        values = {k: v for k, v in attrs.items() if k not in SELECTOR_KEYS}
        if verb in ("print", "getall"):
            return self.print(queries)
        if verb == "add":
            return self.insert(values)
        ids = self.resolve(attrs)
        for item_id in ids:
            if verb == "set":
                self.update(item_id, values)
            elif verb == "remove":
                self.delete(item_id)
            elif verb in ("enable", "disable"):
                self.update(item_id, {"disabled": "true" if verb == "disable" else "false"})
            elif verb == "unset":
                names = attrs.get("value-name", "").split(",")
                self.items[item_id] = {k: v for k, v in self.items[item_id].items() if k not in names}
        return None


@dataclass
class SingletonMenu:
    """A menu with one set of values and no `.id`, e.g. `/system/identity`."""

    path: str
    values: Row
    verbs: frozenset[str] = frozenset({"print", "getall", "set"})

    def run(self, verb: str, attrs: Mapping[str, str], queries: Sequence[str]) -> list[Row] | str | None:
        if verb in ("print", "getall"):
            return filter_rows([dict(self.values)], queries)
        self.values.update(normalise(attrs))
        return None


Menu = ListMenu | SingletonMenu

GROUP_POLICIES = {
    "full": "local,telnet,ssh,ftp,reboot,read,write,policy,test,winbox,password,web,sniff,sensitive,api,romon,rest-api",
    "write": "local,telnet,ssh,ftp,reboot,read,write,test,winbox,password,web,sniff,api,romon,rest-api,"
    "!policy,!sensitive",
    "read": "local,telnet,ssh,reboot,read,test,winbox,password,web,sniff,sensitive,api,romon,rest-api,"
    "!ftp,!write,!policy",
}


def _named(path: str, noun: str, **defaults: str) -> ListMenu:
    return ListMenu(
        path,
        defaults=defaults,
        unique=("name",),
        duplicate_message=f"failure: {noun} with the same name already exists",
    )


def default_menus(*, identity: str, version: str) -> dict[str, Menu]:
    ppp_profiles = _named("/ppp/profile", "profile", **{"only-one": "default"})
    ppp_profiles.insert({"name": "default"}, item_id="*0")
    ppp_profiles.insert({"name": "default-encryption", "use-encryption": "yes"}, item_id="*FFFFFFFE")
    hotspot_profiles = _named("/ip/hotspot/profile", "profile", **{"login-by": "cookie,http-chap"})
    hotspot_profiles.insert({"name": "default"}, item_id="*0")
    groups = _named("/user/group", "group")
    for name, policy in GROUP_POLICIES.items():
        groups.insert({"name": name, "policy": policy})
    menus: list[Menu] = [
        _named("/ppp/secret", "secret", service="any", profile="default", disabled="false"),
        ppp_profiles,
        _named("/ip/pool", "pool"),
        _named("/user", "user", disabled="false"),
        groups,
        hotspot_profiles,
        _named("/ip/hotspot/user", "user", profile="default", disabled="false"),
        _named("/queue/simple", "queue", disabled="false"),
        ListMenu("/ppp/active", verbs=frozenset({"print", "getall", "remove"})),
        ListMenu("/ip/hotspot/active", verbs=frozenset({"print", "getall", "remove"})),
        ListMenu("/ip/hotspot/walled-garden", defaults={"action": "allow", "disabled": "false"}),
        ListMenu("/ip/hotspot/walled-garden/ip", defaults={"action": "accept", "disabled": "false"}),
        ListMenu("/ip/firewall/filter", defaults={"disabled": "false"}),
        ListMenu("/ip/firewall/nat", defaults={"disabled": "false"}),
        ListMenu("/ip/firewall/mangle", defaults={"disabled": "false"}),
        ListMenu("/ip/firewall/address-list", defaults={"disabled": "false"}, unique=("list", "address")),
        ListMenu("/ip/address", defaults={"disabled": "false"}),
        ListMenu("/radius", defaults={"disabled": "false", "authentication-port": "1812"}),
        SingletonMenu("/system/identity", {"name": identity}),
        SingletonMenu(
            "/system/resource",
            {
                "uptime": "1w2d3h4m5s",
                "version": version,
                "build-time": "2024-11-25 12:00:00",
                "free-memory": "824180736",
                "total-memory": "1073741824",
                "cpu": "ARM64",
                "cpu-count": "4",
                "cpu-load": "3",
                "free-hdd-space": "87412736",
                "total-hdd-space": "134217728",
                "architecture-name": "arm64",
                "board-name": "CCR2004-16G-2S+",
                "platform": "MikroTik",
            },
            verbs=frozenset({"print", "getall"}),
        ),
        SingletonMenu(
            "/ppp/aaa",
            {
                "use-radius": "false",
                "accounting": "true",
                "interim-update": "0s",
                "enable-ipv6-accounting": "false",
            },
        ),
        SingletonMenu("/radius/incoming", {"accept": "false", "port": "3799"}),
    ]
    return {menu.path: menu for menu in menus}
