"""Fill a FakeRouter with a plausible ISP configuration of any size."""

from __future__ import annotations

from tests.routeros.fake_server import FakeRouter


def seed_isp(router: FakeRouter, *, secrets: int = 10_000, profiles: int = 50, online: int = 100) -> None:
    """PPPoE subscribers, speed profiles, pools, sessions, hotspot and firewall basics."""
    router.seed(
        "/ip/pool",
        [
            {"name": "pppoe-pool", "ranges": "100.64.0.2-100.64.63.254"},
            {"name": "hotspot-pool", "ranges": "10.5.50.0/24"},
            {"name": "expired-pool", "ranges": "172.16.255.2-172.16.255.254"},
        ],
    )
    router.seed(
        "/ppp/profile",
        [
            {
                "name": f"plan-{n}M",
                "local-address": "100.64.0.1",
                "remote-address": "pppoe-pool",
                "rate-limit": f"{n}M/{n}M",
                "only-one": "yes",
            }
            for n in range(1, profiles + 1)
        ],
    )
    router.seed(
        "/ppp/secret",
        [
            {
                "name": f"sub{i:05d}",
                "password": f"pw{i:05d}",
                "service": "pppoe",
                "profile": f"plan-{i % profiles + 1}M" if profiles else "default",
                "comment": f"account {i}",
            }
            for i in range(secrets)
        ],
    )
    router.seed(
        "/ppp/active",
        [
            {
                "name": f"sub{i:05d}",
                "service": "pppoe",
                "caller-id": f"AA:BB:CC:00:{i // 256 % 256:02X}:{i % 256:02X}",
                "address": f"100.64.{i // 250}.{i % 250 + 2}",
                "uptime": "3h12m5s",
                "encoding": "",
                "session-id": f"0x81{i:06X}",
                "radius": "false",
            }
            for i in range(min(online, secrets))
        ],
    )
    router.seed(
        "/ip/hotspot/active",
        [
            {
                "server": "hotspot1",
                "user": "voucher-7F3K",
                "address": "10.5.50.23",
                "mac-address": "DE:AD:BE:EF:00:01",
                "login-by": "http-chap",
                "uptime": "25m3s",
                "bytes-in": "1048576",
                "bytes-out": "73400320",
            }
        ],
    )
    router.seed("/ip/hotspot/profile", [{"name": "hsprof1", "hotspot-address": "10.5.50.1"}])
    router.seed("/ip/hotspot/walled-garden", [{"dst-host": "*.backhaul.example", "action": "allow"}])
    router.seed(
        "/ip/firewall/filter",
        [
            {"chain": "input", "action": "accept", "connection-state": "established,related"},
            {"chain": "forward", "action": "drop", "src-address-list": "expired", "comment": "expired"},
        ],
    )
    router.seed(
        "/ip/firewall/nat",
        [{"chain": "srcnat", "action": "masquerade", "out-interface": "ether1"}],
    )
    router.seed(
        "/ip/firewall/address-list",
        [{"list": "expired", "address": "100.64.9.9", "comment": "sub00042"}],
    )
    router.seed(
        "/radius",
        [{"service": "ppp,hotspot", "address": "192.0.2.10", "secret": "radsecret", "timeout": "300ms"}],
    )
