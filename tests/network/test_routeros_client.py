"""RouterClient against the fake RouterOS server, over the real API wire protocol."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from network.routeros import (
    RouterAuthFailed,
    RouterClient,
    RouterCommandFailed,
    RouterItemNotFound,
    RouterPermissionDenied,
    RouterUnreachable,
)
from network.routeros.rates import parse_pool_ranges, parse_rate_limit
from tests.routeros.fake_server import FakeRouter, FakeUser
from tests.routeros.seed import seed_isp

# The fake router listens on loopback: allowed explicitly (the egress guard refuses it by default).
pytestmark = pytest.mark.usefixtures("loopback_egress")

ADMIN = FakeUser("backhaul", "s3cret", "full")
OPERATOR = FakeUser("noc", "w-pass", "write")
AUDITOR = FakeUser("auditor", "look-only", "read")


@pytest.fixture
def router() -> Iterator[FakeRouter]:
    with FakeRouter(users=[ADMIN, OPERATOR, AUDITOR], identity="core-bng-1") as fake:
        yield fake


def client_for(router: FakeRouter, user: FakeUser = ADMIN, **options: Any) -> RouterClient:
    settings: dict[str, Any] = {"connect_timeout": 2.0, "timeout": 2.0, "attempts": 1, "backoff": 0.01}
    settings.update(options)
    return RouterClient("127.0.0.1", user.name, user.password, port=router.port, **settings)


@pytest.fixture
def client(router: FakeRouter) -> Iterator[RouterClient]:
    with client_for(router) as connected:
        yield connected


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# -- login ------------------------------------------------------------------------------


def test_login_then_identity_and_resource(client: RouterClient) -> None:
    assert client.identity().name == "core-bng-1"
    resource = client.resource()
    assert resource.version.startswith("7.")
    assert resource.board_name == "CCR2004-16G-2S+"
    assert resource.cpu_load == 3
    assert resource.free_memory is not None and resource.free_memory > 0


def test_bad_password_is_auth_failure_and_not_retried(router: FakeRouter) -> None:
    sleeps: list[float] = []
    bad = FakeUser(ADMIN.name, "wrong", "full")
    with pytest.raises(RouterAuthFailed) as caught:
        client_for(router, bad, attempts=3, sleep=sleeps.append).connect()
    assert f"rejected API user '{ADMIN.name}'" in str(caught.value)
    assert "invalid user name or password" in str(caught.value)
    assert len(router.commands_for("/login")) == 1
    assert sleeps == []


def test_login_password_is_masked_in_the_command_log(router: FakeRouter, client: RouterClient) -> None:
    (login,) = router.commands_for("/login")
    assert login.attributes == {"name": ADMIN.name, "password": "***"}
    assert "s3cret" not in repr(client) and "s3cret" not in repr(client.endpoint)


# -- generic menu operations ---------------------------------------------------------------


def test_print_filters_by_query_and_proplist(router: FakeRouter, client: RouterClient) -> None:
    router.seed(
        "/ppp/secret",
        [
            {"name": "alice", "password": "a", "profile": "plan-10M", "remote-address": "100.64.0.10"},
            {"name": "bob", "password": "b", "profile": "plan-10M"},
            {"name": "carol", "password": "c", "profile": "plan-20M", "disabled": "yes"},
        ],
    )
    assert [row["name"] for row in client.print("/ppp/secret", profile="plan-10M")] == ["alice", "bob"]
    assert [row["name"] for row in client.print("/ppp/secret", disabled=True)] == ["carol"]
    (alice,) = client.print("ppp secret", remote_address="100.64.0.10")
    assert alice["name"] == "alice" and str(alice[".id"]).startswith("*")
    names_only = client.print("/ppp/secret", proplist=("name",))
    assert names_only == [{"name": "alice"}, {"name": "bob"}, {"name": "carol"}]
    assert router.commands_for("/ppp/secret/print")[0].queries == ("?=profile=plan-10M",)


def test_add_set_remove_round_trip(router: FakeRouter, client: RouterClient) -> None:
    item_id = client.add("/ppp/secret", {"name": "dave", "password": "d", "profile": "plan-5M"})
    assert item_id.startswith("*")
    client.set("/ppp/secret", {"profile": "plan-50M", "comment": "upgraded"}, item_id=item_id)
    (row,) = router.rows("/ppp/secret")
    assert row["profile"] == "plan-50M" and row["comment"] == "upgraded"
    client.remove("/ppp/secret", item_id)
    assert router.rows("/ppp/secret") == []


def test_set_on_a_singleton_menu(router: FakeRouter, client: RouterClient) -> None:
    client.set("/radius/incoming", {"accept": True, "port": 3799})
    assert router.singleton("/radius/incoming")["accept"] == "true"


def test_duplicate_secret_name_is_a_command_failure(router: FakeRouter, client: RouterClient) -> None:
    client.add("/ppp/secret", {"name": "erin", "password": "e"})
    with pytest.raises(RouterCommandFailed) as caught:
        client.add("/ppp/secret", {"name": "erin", "password": "other"})
    assert caught.value.router_message == "failure: secret with the same name already exists"
    assert caught.value.command == "/ppp/secret/add"
    assert f"Router 127.0.0.1:{router.port} refused /ppp/secret/add" in str(caught.value)
    assert len(router.rows("/ppp/secret")) == 1


def test_unknown_menu_is_a_command_failure(client: RouterClient) -> None:
    with pytest.raises(RouterCommandFailed, match="no such command prefix"):
        client.print("/no/such/menu")


# -- permissions ---------------------------------------------------------------------------


def test_read_only_user_gets_permission_denied_on_write(router: FakeRouter) -> None:
    with client_for(router, AUDITOR) as auditor:
        assert len(auditor.print("/ppp/profile")) == 2  # reading is allowed
        rights = auditor.user_rights()
        assert (rights.group, rights.can_read, rights.can_write) == ("read", True, False)
        with pytest.raises(RouterPermissionDenied) as caught:
            auditor.add("/ppp/secret", {"name": "mallory", "password": "m"})
    assert "API user 'auditor' has no write permission (group 'read')" in str(caught.value)
    assert caught.value.group == "read"
    assert router.rows("/ppp/secret") == []


def test_user_rights_of_full_and_write_groups(router: FakeRouter, client: RouterClient) -> None:
    assert client.user_rights().can_write and client.user_rights().can_manage_users
    with client_for(router, OPERATOR) as operator:
        rights = operator.user_rights()
        assert rights.can_write and not rights.can_manage_users
        assert "policy" not in rights.policies  # '!policy' is a negation, not a grant


# -- reachability --------------------------------------------------------------------------


def test_nothing_listening_is_unreachable_after_retries_with_backoff() -> None:
    sleeps: list[float] = []
    client = RouterClient("127.0.0.1", "x", "y", port=free_port(), attempts=3, backoff=0.05, sleep=sleeps.append)
    started = time.monotonic()
    with pytest.raises(RouterUnreachable) as caught:
        client.connect()
    assert time.monotonic() - started < 2
    assert sleeps == [0.05, 0.1]
    assert "refused the connection" in str(caught.value)
    assert "gave up after 3 attempts" in str(caught.value)


def test_backoff_is_capped(router: FakeRouter) -> None:
    sleeps: list[float] = []
    router.set_unreachable(True)
    client = client_for(router, attempts=5, backoff=1.0, max_backoff=2.5, sleep=sleeps.append)
    with pytest.raises(RouterUnreachable):
        client.connect()
    assert sleeps == [1.0, 2.0, 2.5, 2.5]


def test_router_set_unreachable_then_back(router: FakeRouter) -> None:
    router.set_unreachable(True)
    started = time.monotonic()
    with pytest.raises(RouterUnreachable, match="gave up after 3 attempts"):
        client_for(router, attempts=3, backoff=0.01).connect()
    assert time.monotonic() - started < 2
    router.set_unreachable(False)
    with client_for(router) as client:
        assert client.identity().name == "core-bng-1"


def test_slow_router_times_out_with_operator_message(router: FakeRouter) -> None:
    router.latency = 0.5
    started = time.monotonic()
    with pytest.raises(RouterUnreachable) as caught:
        client_for(router, connect_timeout=0.2, timeout=0.2, attempts=2).connect()
    assert f"Router 127.0.0.1:{router.port} did not answer within 0.2 s" in str(caught.value)
    assert time.monotonic() - started < 3


def test_reply_timeout_on_an_open_session(router: FakeRouter) -> None:
    with client_for(router, connect_timeout=2.0, timeout=0.2) as client:
        router.latency = 0.4
        started = time.monotonic()
        with pytest.raises(RouterUnreachable, match=r"did not answer within 0\.2 s"):
            client.add("/ip/pool", {"name": "p1", "ranges": "10.9.0.2-10.9.0.254"})
        assert time.monotonic() - started < 1
    assert len(router.commands_for("/ip/pool/add")) == 1  # a write is never sent twice


def test_dropped_session_is_reopened_for_reads_but_not_for_writes(router: FakeRouter) -> None:
    with client_for(router) as client:
        router.set_unreachable(True)
        router.set_unreachable(False)
        assert client.identity().name == "core-bng-1"  # read retried on a new session
        router.set_unreachable(True)
        router.set_unreachable(False)
        with pytest.raises(RouterUnreachable, match="closed the API connection"):
            client.add("/ip/pool", {"name": "p1", "ranges": "10.9.0.2-10.9.0.254"})
        assert client.ip_pools() == []
    assert router.connections_accepted == 3


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A router-style self-signed certificate, made with the `cryptography` package (no openssl CLI)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "router")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_with_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed_certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    with FakeRouter(users=[ADMIN], ssl_context=server_tls) as fake:
        with client_for(fake, use_tls=True) as client:
            assert client.identity().name == "MikroTik"
        with pytest.raises(RouterUnreachable, match="TLS handshake"):
            client_for(fake, use_tls=True, verify_tls=True).connect()


# -- idempotent provisioning ---------------------------------------------------------------


def test_ensure_adds_once_then_reports_unchanged(router: FakeRouter, client: RouterClient) -> None:
    match = {"name": "plan-10M"}
    values = {"rate-limit": "10M/10M", "remote-address": "pppoe-pool", "only-one": "yes"}
    first = client.ensure("/ppp/profile", match, values)
    second = client.ensure("/ppp/profile", match, values)
    assert first.action == "added" and first.item_id
    assert (second.action, second.item_id, second.changes) == ("unchanged", first.item_id, {})
    assert [row["name"] for row in router.rows("/ppp/profile")].count("plan-10M") == 1
    assert len(router.commands_for("/ppp/profile/add")) == 1
    assert router.commands_for("/ppp/profile/set") == []


def test_ensure_sets_only_what_differs(router: FakeRouter, client: RouterClient) -> None:
    item_id = client.add("/ppp/secret", {"name": "frank", "password": "f", "profile": "plan-5M"})
    result = client.ensure(
        "/ppp/secret", {"name": "frank"}, {"password": "f", "profile": "plan-20M", "disabled": False}
    )
    assert result.action == "updated" and result.item_id == item_id
    assert result.changes == {"profile": ("plan-5M", "plan-20M")}
    (set_command,) = router.commands_for("/ppp/secret/set")
    assert set_command.attributes == {".id": item_id, "profile": "plan-20M"}
    again = client.ensure("/ppp/secret", {"name": "frank"}, {"profile": "plan-20M", "disabled": "no"})
    assert again.action == "unchanged"


def test_ensure_on_singleton_menu(router: FakeRouter, client: RouterClient) -> None:
    values = {"use-radius": True, "interim-update": "5m"}
    assert client.ensure("/ppp/aaa", {}, values).action == "updated"
    assert client.ensure("/ppp/aaa", {}, values).action == "unchanged"
    assert router.singleton("/ppp/aaa")["use-radius"] == "true"


def test_ensure_refuses_an_ambiguous_match(router: FakeRouter, client: RouterClient) -> None:
    router.seed("/ip/firewall/filter", [{"chain": "forward", "action": "drop"}] * 2)
    with pytest.raises(RouterCommandFailed, match="2 entries in /ip/firewall/filter"):
        client.ensure("/ip/firewall/filter", {"chain": "forward"}, {"action": "accept"})


# -- ISP operations on a full-size router ------------------------------------------------------


@pytest.fixture
def isp_router(router: FakeRouter) -> FakeRouter:
    seed_isp(router, secrets=10_000, profiles=50, online=20)
    return router


def test_lists_10000_secrets_quickly(isp_router: FakeRouter, client: RouterClient) -> None:
    started = time.perf_counter()
    secrets = client.ppp_secrets()
    elapsed = time.perf_counter() - started
    assert len(secrets) == 10_000
    assert secrets[42].name == "sub00042" and secrets[42].service == "pppoe"
    # ~0.3 s on an idle machine; the margin keeps it stable on a loaded, shared test host.
    assert elapsed < 3.0, f"listing 10,000 secrets took {elapsed:.2f} s"


def test_typed_lists(isp_router: FakeRouter, client: RouterClient) -> None:
    profiles = client.ppp_profiles()
    assert len(profiles) == 52  # 50 plans + default + default-encryption
    assert parse_rate_limit(profiles[-1].rate_limit).tx_kbps == 50_000
    pools = {pool.name: pool for pool in client.ip_pools()}
    assert parse_pool_ranges(pools["hotspot-pool"].ranges).size == 256
    (session,) = client.hotspot_active()
    assert session.user == "voucher-7F3K" and session.bytes_out == 73400320
    assert len(client.ppp_active()) == 20
    assert client.ppp_secrets(name="sub09999")[0].password == "pw09999"


def test_disable_and_enable_secret(isp_router: FakeRouter, client: RouterClient) -> None:
    client.disable_secret("sub00007")
    assert client.ppp_secrets(name="sub00007")[0].disabled is True
    client.enable_secret("sub00007")
    assert client.ppp_secrets(name="sub00007")[0].disabled is False
    with pytest.raises(RouterItemNotFound, match="PPP secret 'ghost' not found"):
        client.disable_secret("ghost")


def test_kick_ppp_removes_only_that_users_sessions(isp_router: FakeRouter, client: RouterClient) -> None:
    isp_router.seed("/ppp/active", [{"name": "sub00003", "service": "pppoe", "address": "100.64.9.3"}])
    assert client.kick_ppp("sub00003") == 2
    assert client.ppp_active(name="sub00003") == []
    assert len(client.ppp_active()) == 19
    assert client.kick_ppp("sub00003") == 0
