"""The fake router itself: wire encoding, queries and protocol details, checked with librouteros."""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Mapping

import librouteros
import pytest
from librouteros.exceptions import FatalError, TrapError
from librouteros.query import And, Key, Or

from tests.routeros.fake_server import FakeRouter, FakeUser
from tests.routeros.wire import SentenceReader, decode_length, encode_length, encode_sentence

USER = FakeUser("admin", "pw")


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    with FakeRouter(users=[USER]) as fake:
        fake.seed(
            "/ppp/secret",
            [
                {"name": "alice", "profile": "gold", "service": "pppoe"},
                {"name": "bob", "profile": "silver", "service": "pppoe", "disabled": "yes"},
                {"name": "carol", "profile": "gold", "service": "l2tp", "comment": "vip"},
            ],
        )
        yield fake


@pytest.fixture
def api(router: FakeRouter) -> Iterator[librouteros.api.Api]:
    connection = librouteros.connect("127.0.0.1", USER.name, USER.password, port=router.port, timeout=2)
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("length", "size"),
    [(0, 1), (0x7F, 1), (0x80, 2), (0x3FFF, 2), (0x4000, 3), (0x1FFFFF, 3), (0x200000, 4), (0xFFFFFFF, 4),
     (0x10000000, 5), (0xFFFFFFFF, 5)],
)  # fmt: skip
def test_length_encoding_boundaries(length: int, size: int) -> None:
    encoded = encode_length(length)
    assert len(encoded) == size
    assert decode_length(encoded) == length
    if size < 5:  # librouteros only implements 1-4 byte lengths
        assert librouteros.protocol.encode_length(length) == encoded


def names(rows: Iterable[Mapping[str, object]]) -> list[str]:
    return sorted(str(row["name"]) for row in rows)


def test_queries_with_stack_operations(api: librouteros.api.Api) -> None:
    secrets = api.path("ppp", "secret")
    name, profile, service = Key("name"), Key("profile"), Key("service")
    assert names(secrets.select(name).where(profile == "gold")) == ["alice", "carol"]
    assert names(secrets.select(name).where(Or(name == "alice", name == "bob"))) == ["alice", "bob"]
    assert names(secrets.select(name).where(And(profile == "gold", service == "l2tp"))) == ["carol"]
    assert names(secrets.select(name).where(profile != "gold")) == ["bob"]
    assert names(secrets.select(name).where(name.In("bob", "carol", "zed"))) == ["bob", "carol"]
    assert names(api.rawCmd("/ppp/secret/print", "?comment")) == ["carol"]
    assert names(api.rawCmd("/ppp/secret/print", "?-comment")) == ["alice", "bob"]
    assert names(api.rawCmd("/ppp/secret/print", "?disabled=yes")) == ["bob"]
    assert names(api.rawCmd("/ppp/secret/print", "?name=alice", "?name=bob", "?#|!")) == ["carol"]
    assert names(api.rawCmd("/ppp/secret/print", "?>name=b")) == ["bob", "carol"]
    with pytest.raises(TrapError, match="needs more values"):
        tuple(api.rawCmd("/ppp/secret/print", "?#|"))


def test_proplist_count_and_long_words(api: librouteros.api.Api, router: FakeRouter) -> None:
    rows = tuple(api.rawCmd("/ppp/secret/print", "=.proplist=.id,name"))
    assert rows[0] == {".id": "*1", "name": "alice"}
    assert tuple(api.rawCmd("/ppp/secret/print", "=count-only=")) == ({"ret": 3},)
    note = "x" * 20_000  # needs a 3-byte length on the wire
    item_id = api.path("ppp", "secret").add(name="dave", comment=note)
    assert router.rows("/ppp/secret")[-1]["comment"] == note
    assert tuple(api.path("ppp", "secret").select(Key("comment")).where(Key(".id") == item_id)) == ({"comment": note},)


def test_singletons_and_read_only_menus(api: librouteros.api.Api) -> None:
    api.path("system", "identity").update(name="edge-7")
    assert tuple(api.path("system", "identity")) == ({"name": "edge-7"},)
    with pytest.raises(TrapError, match="no such command"):
        api.path("system", "resource").update(cpu="x")
    with pytest.raises(TrapError, match="no such command"):
        api.path("ppp", "active").add(name="x")


def test_remove_by_name_and_missing_item(api: librouteros.api.Api, router: FakeRouter) -> None:
    tuple(api.rawCmd("/ppp/secret/remove", "=numbers=alice,bob"))
    assert [row["name"] for row in router.rows("/ppp/secret")] == ["carol"]
    with pytest.raises(TrapError, match="no such item"):
        api.path("ppp", "secret").remove("*99")


def test_tag_is_echoed_and_commands_need_login(router: FakeRouter) -> None:
    with socket.create_connection(("127.0.0.1", router.port), timeout=2) as sock:
        reader = SentenceReader(sock)
        sock.sendall(encode_sentence(["/login", "=name=admin", "=password=pw", ".tag=1"]))
        assert reader.read_sentence() == ["!done", ".tag=1"]
        sock.sendall(encode_sentence(["/system/identity/print", ".tag=abc"]))
        assert reader.read_sentence() == ["!re", "=name=MikroTik", ".tag=abc"]
        assert reader.read_sentence() == ["!done", ".tag=abc"]
    with pytest.raises(FatalError, match="not logged in"):
        librouteros.connect(
            "127.0.0.1", "", "", port=router.port, login_method=lambda api, u, p: tuple(api("/ip/pool/print"))
        )
