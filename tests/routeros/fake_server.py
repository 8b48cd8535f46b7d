"""A fake MikroTik router speaking the real RouterOS API protocol over TCP.

The unmodified librouteros client connects to it, so tests exercise the same bytes a
real router would see. Start it with port 0 and read `.port`::

    with FakeRouter(users=[FakeUser("api", "secret", "full")]) as router:
        router.seed("/ppp/secret", [{"name": "alice", "password": "x"}])
        ... connect to 127.0.0.1:router.port ...
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tests.routeros.menus import (
    GROUP_POLICIES,
    WRITE_VERBS,
    CommandTrap,
    ListMenu,
    Menu,
    SingletonMenu,
    default_menus,
)
from tests.routeros.query import Row
from tests.routeros.wire import PeerClosed, SentenceReader, WireError, encode_sentences

Sentence = list[str]
BAD_LOGIN = "invalid user name or password (6)"
NO_PERMISSION = "not enough permissions (9)"


@dataclass(frozen=True)
class FakeUser:
    name: str
    password: str
    group: str = "full"


@dataclass(frozen=True)
class LoggedCommand:
    """One sentence a client sent; passwords are masked."""

    user: str | None
    command: str
    attributes: dict[str, str]
    queries: tuple[str, ...] = ()
    tag: str | None = None


@dataclass
class _Session:
    sock: socket.socket
    user: FakeUser | None = None


@dataclass
class _Request:
    command: str
    attributes: dict[str, str] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)
    tag: str | None = None

    @classmethod
    def parse(cls, words: Sequence[str]) -> _Request:
        request = cls(command=words[0])
        for word in words[1:]:
            if word.startswith("="):
                name, _, value = word[1:].partition("=")
                request.attributes[name] = value
            elif word.startswith("?"):
                request.queries.append(word)
            elif word.startswith(".tag="):
                request.tag = word.removeprefix(".tag=")
        return request


def _row_words(row: Row, proplist: Sequence[str] | None) -> Sentence:
    keys = proplist if proplist is not None else row.keys()
    return ["!re", *(f"={key}={row[key]}" for key in keys if key in row)]


class FakeRouter:
    def __init__(
        self,
        *,
        users: Iterable[FakeUser] = (FakeUser("admin", "admin"),),
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        latency: float = 0.0,
        identity: str = "MikroTik",
        version: str = "7.16.2 (stable)",
    ) -> None:
        self.host = host
        self.port = port
        self.latency = latency
        self.commands: list[LoggedCommand] = []
        self.connections_accepted = 0
        self._ssl_context = ssl_context
        self._menus: dict[str, Menu] = default_menus(identity=identity, version=version)
        self._users: dict[str, FakeUser] = {}
        self._lock = threading.RLock()
        self._sessions: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        for user in users:
            self.add_user(user)

    # -- controls for tests ---------------------------------------------------------

    def start(self) -> FakeRouter:
        self._listen()
        self._thread = threading.Thread(target=self._serve, name="fake-routeros", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._close_listener()
        self._drop_sessions()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> FakeRouter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_unreachable(self, unreachable: bool) -> None:
        """Refuse new connections and drop open ones, like a router that went offline."""
        if unreachable:
            self._close_listener()
            self._drop_sessions()
        elif self._listener is None:
            self._listen()

    def add_user(self, user: FakeUser) -> None:
        if user.group not in GROUP_POLICIES:
            raise ValueError(f"unknown group {user.group!r}; use one of {sorted(GROUP_POLICIES)}")
        with self._lock:
            self._users[user.name] = user
            self.list_menu("/user").insert({"name": user.name, "group": user.group})

    def list_menu(self, path: str) -> ListMenu:
        menu = self._menus.setdefault(path, ListMenu(path))
        if not isinstance(menu, ListMenu):
            raise TypeError(f"{path} is a singleton menu")
        return menu

    def seed(self, path: str, rows: Iterable[Mapping[str, str]]) -> list[str]:
        """Insert rows into a list menu (created if unknown); returns their ids."""
        with self._lock:
            menu = self.list_menu(path)
            return [menu.insert(row) for row in rows]

    def rows(self, path: str) -> list[Row]:
        with self._lock:
            return self.list_menu(path).print([])

    def singleton(self, path: str) -> Row:
        with self._lock:
            menu = self._menus[path]
            if not isinstance(menu, SingletonMenu):
                raise TypeError(f"{path} is a list menu")
            return dict(menu.values)

    def update_singleton(self, path: str, values: Mapping[str, str]) -> None:
        with self._lock:
            menu = self._menus.setdefault(path, SingletonMenu(path, {}))
            if not isinstance(menu, SingletonMenu):
                raise TypeError(f"{path} is a list menu")
            menu.values.update(values)

    def commands_for(self, command: str) -> list[LoggedCommand]:
        with self._lock:
            return [logged for logged in self.commands if logged.command == command]

    # -- networking -------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 2
        while True:
            try:
                listener.bind((self.host, self.port))
                break
            except OSError:
                # The old listener lingers while the accept thread's select() still holds it.
                if time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.01)
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes select() so the port is freed now
            listener.close()

    def _drop_sessions(self) -> None:
        with self._lock:
            sessions = list(self._sessions)
            self._sessions.clear()
        for sock in sessions:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            listener = self._listener
            if listener is None:
                self._stopping.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                conn, _ = listener.accept()
            except (OSError, ValueError):
                continue  # the listener was closed under us
            self.connections_accepted += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        sock = conn
        try:
            if self._ssl_context is not None:
                conn.settimeout(5)
                sock = self._ssl_context.wrap_socket(conn, server_side=True)
                sock.settimeout(None)
            with self._lock:
                self._sessions.add(sock)
            self._converse(_Session(sock), SentenceReader(sock))
        except (PeerClosed, WireError, OSError):
            pass
        finally:
            with self._lock:
                self._sessions.discard(sock)
            sock.close()

    def _converse(self, session: _Session, reader: SentenceReader) -> None:
        while True:
            words = reader.read_sentence()
            if not words:
                continue  # RouterOS ignores empty sentences
            request = _Request.parse(words)
            with self._lock:
                replies, keep_open = self._handle(session, request)
            if request.tag is not None:
                replies = [[*reply, f".tag={request.tag}"] for reply in replies]
            if self.latency:
                time.sleep(self.latency)
            session.sock.sendall(encode_sentences(replies))
            if not keep_open:
                return

    # -- commands -----------------------------------------------------------------------

    def _log(self, session: _Session, request: _Request) -> None:
        attributes = {k: ("***" if k == "password" else v) for k, v in request.attributes.items()}
        user = session.user.name if session.user else None
        self.commands.append(LoggedCommand(user, request.command, attributes, tuple(request.queries), request.tag))

    def _handle(self, session: _Session, request: _Request) -> tuple[list[Sentence], bool]:
        self._log(session, request)
        if request.command == "/login":
            return self._login(session, request.attributes), True
        if session.user is None:
            return [["!fatal", "not logged in"]], False
        if request.command == "/quit":
            return [["!fatal", "session terminated on request"]], False
        if request.command == "/cancel":
            return [["!done"]], True
        try:
            return self._run(session.user, request), True
        except CommandTrap as trap:
            words = ["!trap", f"=message={trap.message}"]
            if trap.category is not None:
                words.append(f"=category={trap.category}")
            return [words, ["!done"]], True

    def _login(self, session: _Session, attributes: Mapping[str, str]) -> list[Sentence]:
        user = self._users.get(attributes.get("name", ""))
        if user is None or user.password != attributes.get("password"):
            return [["!trap", f"=message={BAD_LOGIN}"], ["!done"]]
        session.user = user
        return [["!done"]]

    def _policies(self, user: FakeUser) -> set[str]:
        groups = self.list_menu("/user/group").print([f"?name={user.group}"])
        policy = groups[0].get("policy", "") if groups else GROUP_POLICIES[user.group]
        return set(policy.split(","))

    def _run(self, user: FakeUser, request: _Request) -> list[Sentence]:
        path, _, verb = request.command.rpartition("/")
        menu = self._menus.get(path)
        if menu is None or not path:
            raise CommandTrap("no such command prefix", category=0)
        if verb not in menu.verbs:
            raise CommandTrap("no such command", category=0)
        if verb in WRITE_VERBS:
            needed = "policy" if path.startswith("/user") else "write"
            if needed not in self._policies(user):
                raise CommandTrap(NO_PERMISSION)
        attributes = dict(request.attributes)
        proplist_text = attributes.pop(".proplist", None)
        count_only = attributes.pop("count-only", None) is not None
        result = menu.run(verb, attributes, request.queries)
        if isinstance(result, str):
            return [["!done", f"=ret={result}"]]
        if result is None:
            return [["!done"]]
        if count_only:
            return [["!done", f"=ret={len(result)}"]]
        proplist = proplist_text.split(",") if proplist_text is not None else None
        return [*(_row_words(row, proplist) for row in result), ["!done"]]
