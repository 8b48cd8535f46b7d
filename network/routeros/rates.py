"""MikroTik rate-limit strings and IP pool ranges, parsed and formatted.

rate-limit: `rx[/tx] [burst-rx[/burst-tx] [threshold-rx[/threshold-tx] [time-rx[/time-tx]
[priority [min-rx[/min-tx]]]]]]`. From the router's side, rx is what the subscriber
uploads and tx what it downloads. Rates take k, M or G (powers of 1000 bits/s); a plain
number is bits/s. We keep rates in whole kbps.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_RATE = re.compile(r"(\d+(?:\.\d+)?)([kKmMgG]?)")
_TIME = re.compile(r"(\d+)([smh]?)")
_UNIT_KBPS = {"": Decimal("0.001"), "k": Decimal(1), "m": Decimal(1000), "g": Decimal(1_000_000)}
_TIME_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600}
_GRAMMAR = "rx/tx [burst-rx/burst-tx [threshold-rx/threshold-tx [time-rx/time-tx [priority [min-rx/min-tx]]]]]"


@dataclass(frozen=True)
class RateLimit:
    """A rate-limit in kbps; optional parts are None when the string left them out."""

    rx_kbps: int
    tx_kbps: int
    burst_rx_kbps: int | None = None
    burst_tx_kbps: int | None = None
    burst_threshold_rx_kbps: int | None = None
    burst_threshold_tx_kbps: int | None = None
    burst_time_rx_s: int | None = None
    burst_time_tx_s: int | None = None
    priority: int | None = None
    min_rx_kbps: int | None = None
    min_tx_kbps: int | None = None

    @property
    def upload_kbps(self) -> int:
        return self.rx_kbps

    @property
    def download_kbps(self) -> int:
        return self.tx_kbps

    def __str__(self) -> str:
        return format_rate_limit(self)


def parse_rate(token: str) -> int:
    """'10M' -> 10000, '512k' -> 512, '64000' (bits/s) -> 64, '0' -> 0 (unlimited)."""
    match = _RATE.fullmatch(token.strip())
    if match is None:
        raise ValueError(f"'{token}' is not a rate; use a number with an optional k, M or G, e.g. 10M or 512k")
    kbps = Decimal(match.group(1)) * _UNIT_KBPS[match.group(2).lower()]
    if kbps != kbps.to_integral_value():
        raise ValueError(f"rate '{token}' is {kbps} kbps; rates must be whole kbps (e.g. 1500k, not 1500500)")
    return int(kbps)


def format_rate(kbps: int) -> str:
    """10000 -> '10M', 1500 -> '1500k', 0 -> '0'."""
    if kbps < 0:
        raise ValueError(f"rate cannot be negative ({kbps} kbps)")
    if kbps == 0:
        return "0"
    if kbps % 1_000_000 == 0:
        return f"{kbps // 1_000_000}G"
    if kbps % 1000 == 0:
        return f"{kbps // 1000}M"
    return f"{kbps}k"


def _parse_time(token: str) -> int:
    match = _TIME.fullmatch(token)
    if match is None:
        raise ValueError(f"'{token}' is not a burst time; use seconds, e.g. 16 or 16s")
    return int(match.group(1)) * _TIME_SECONDS[match.group(2)]


def _pair(token: str, what: str, parse: Callable[[str], int]) -> tuple[int, int]:
    rx_text, slash, tx_text = token.partition("/")
    if not rx_text or (slash and not tx_text) or "/" in tx_text:
        raise ValueError(f"{what} '{token}' must be 'rx/tx' or a single value for both")
    try:
        rx = parse(rx_text)
        tx = parse(tx_text) if slash else rx
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from exc
    return rx, tx


def parse_rate_limit(text: str) -> RateLimit:
    """Parse a MikroTik rate-limit string such as '10M/20M 15M/30M 8M/16M 16/16 5 2M/4M'."""
    tokens = text.split()
    if not tokens:
        raise ValueError(f"rate-limit is empty; expected {_GRAMMAR}, e.g. 10M/10M")
    if len(tokens) > 6:
        raise ValueError(f"rate-limit '{text}' has {len(tokens)} parts; at most 6 are allowed: {_GRAMMAR}")
    try:
        rx, tx = _pair(tokens[0], "rate", parse_rate)
        values: dict[str, int] = {"rx_kbps": rx, "tx_kbps": tx}
        if len(tokens) > 1:
            values["burst_rx_kbps"], values["burst_tx_kbps"] = _pair(tokens[1], "burst rate", parse_rate)
        if len(tokens) > 2:
            threshold = _pair(tokens[2], "burst threshold", parse_rate)
            values["burst_threshold_rx_kbps"], values["burst_threshold_tx_kbps"] = threshold
        if len(tokens) > 3:
            values["burst_time_rx_s"], values["burst_time_tx_s"] = _pair(tokens[3], "burst time", _parse_time)
        if len(tokens) > 4:
            if not tokens[4].isdigit() or not 1 <= int(tokens[4]) <= 8:
                raise ValueError(f"priority '{tokens[4]}' must be a whole number from 1 (highest) to 8")
            values["priority"] = int(tokens[4])
        if len(tokens) > 5:
            values["min_rx_kbps"], values["min_tx_kbps"] = _pair(tokens[5], "minimum rate", parse_rate)
    except ValueError as exc:
        raise ValueError(f"rate-limit '{text}': {exc}") from exc
    return RateLimit(**values)


def format_rate_limit(limit: RateLimit) -> str:
    """The canonical RouterOS string; gaps before a later part are filled with 0/0 (priority 8)."""
    groups: list[str | None] = [
        f"{format_rate(limit.rx_kbps)}/{format_rate(limit.tx_kbps)}",
        _format_pair(limit.burst_rx_kbps, limit.burst_tx_kbps, format_rate),
        _format_pair(limit.burst_threshold_rx_kbps, limit.burst_threshold_tx_kbps, format_rate),
        _format_pair(limit.burst_time_rx_s, limit.burst_time_tx_s, str),
        str(limit.priority) if limit.priority is not None else None,
        _format_pair(limit.min_rx_kbps, limit.min_tx_kbps, format_rate),
    ]
    while groups[-1] is None:
        groups.pop()
    fillers = ["0/0", "0/0", "0/0", "0/0", "8", "0/0"]
    return " ".join(group if group is not None else fillers[i] for i, group in enumerate(groups))


def _format_pair(rx: int | None, tx: int | None, show: Callable[[int], str]) -> str | None:
    if rx is None and tx is None:
        return None
    rx = rx or 0
    return f"{show(rx)}/{show(tx if tx is not None else rx)}"


@dataclass(frozen=True)
class PoolRanges:
    """The address ranges of an IP pool, in the router's order, as inclusive (start, end) pairs."""

    ranges: tuple[tuple[IPAddress, IPAddress], ...]

    @property
    def size(self) -> int:
        return sum(int(end) - int(start) + 1 for start, end in self.ranges)

    def __contains__(self, address: object) -> bool:
        if isinstance(address, str):
            address = ipaddress.ip_address(address)
        if not isinstance(address, ipaddress.IPv4Address | ipaddress.IPv6Address):
            return False
        return any(
            start.version == address.version and int(start) <= int(address) <= int(end) for start, end in self.ranges
        )

    def __str__(self) -> str:
        return format_pool_ranges(self)


def _parse_address(text: str, item: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        if text.strip() == item:
            raise ValueError(f"'{item}' is not an IP address, a-b range or address/prefix") from None
        raise ValueError(f"'{text.strip()}' in '{item}' is not an IP address") from None


def _parse_pool_item(item: str) -> tuple[IPAddress, IPAddress]:
    if "/" in item:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError as exc:
            if "host bits set" in str(exc):
                suggestion = ipaddress.ip_network(item, strict=False)
                raise ValueError(f"'{item}' has host bits set; did you mean {suggestion}?") from None
            raise ValueError(f"'{item}' is not an address/prefix such as 10.1.0.0/24") from None
        return network.network_address, network.broadcast_address
    if "-" in item:
        start_text, _, end_text = item.partition("-")
        start, end = _parse_address(start_text, item), _parse_address(end_text, item)
        if start.version != end.version:
            raise ValueError(f"range '{item}' mixes IPv4 and IPv6")
        if int(start) > int(end):
            raise ValueError(f"range '{item}' starts after it ends; write it as {end}-{start}")
        return start, end
    address = _parse_address(item, item)
    return address, address


def parse_pool_ranges(text: str) -> PoolRanges:
    """Parse `/ip pool` ranges: '10.0.0.2-10.0.0.254', '10.1.0.0/24', a single address, or a comma list."""
    items = [item.strip() for item in text.split(",")]
    if not text.strip():
        raise ValueError("pool ranges are empty; expected e.g. 10.0.0.2-10.0.0.254 or 10.1.0.0/24")
    if any(not item for item in items):
        raise ValueError(f"pool ranges '{text}' have an empty entry between commas")
    ranges = tuple(_parse_pool_item(item) for item in items)
    if len({start.version for start, _ in ranges}) > 1:
        raise ValueError(f"pool ranges '{text}' mix IPv4 and IPv6")
    ordered = sorted(ranges, key=lambda pair: int(pair[0]))
    for (prev_start, prev_end), (start, end) in itertools.pairwise(ordered):
        if int(start) <= int(prev_end):
            raise ValueError(f"pool ranges '{text}' overlap: {prev_start}-{prev_end} and {start}-{end}")
    return PoolRanges(ranges)


def format_pool_ranges(pool: PoolRanges) -> str:
    return ",".join(str(start) if start == end else f"{start}-{end}" for start, end in pool.ranges)
