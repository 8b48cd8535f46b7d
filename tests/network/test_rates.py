"""MikroTik rate-limit strings and IP pool ranges."""

from __future__ import annotations

import ipaddress

import pytest

from network.routeros.rates import (
    RateLimit,
    format_rate,
    format_rate_limit,
    parse_pool_ranges,
    parse_rate,
    parse_rate_limit,
)

# -- single rates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kbps"),
    [
        ("10M", 10_000),
        ("10m", 10_000),
        ("512k", 512),
        ("512K", 512),
        ("1G", 1_000_000),
        ("1.5M", 1_500),
        ("64000", 64),  # plain numbers are bits/s
        ("0", 0),
    ],
)
def test_parse_rate(text: str, kbps: int) -> None:
    assert parse_rate(text) == kbps


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10X", "'10X' is not a rate"),
        ("", "'' is not a rate"),
        ("-5M", "is not a rate"),
        ("1500500", "whole kbps"),
        ("0.5k", "whole kbps"),
    ],
)
def test_parse_rate_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rate(text)


@pytest.mark.parametrize(
    ("kbps", "text"), [(0, "0"), (512, "512k"), (1500, "1500k"), (10_000, "10M"), (2_000_000, "2G")]
)
def test_format_rate(kbps: int, text: str) -> None:
    assert format_rate(kbps) == text


def test_format_rate_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_rate(-1)


# -- rate-limit strings ----------------------------------------------------------------------------


def test_parse_simple_rate_limit() -> None:
    limit = parse_rate_limit("5M/20M")
    assert limit == RateLimit(rx_kbps=5_000, tx_kbps=20_000)
    assert (limit.upload_kbps, limit.download_kbps) == (5_000, 20_000)


def test_single_value_applies_to_both_directions() -> None:
    assert parse_rate_limit("2M") == RateLimit(rx_kbps=2_000, tx_kbps=2_000)


def test_parse_full_rate_limit() -> None:
    limit = parse_rate_limit("10M/20M 15M/30M 8M/16M 16/32 5 2M/4M")
    assert limit == RateLimit(
        rx_kbps=10_000,
        tx_kbps=20_000,
        burst_rx_kbps=15_000,
        burst_tx_kbps=30_000,
        burst_threshold_rx_kbps=8_000,
        burst_threshold_tx_kbps=16_000,
        burst_time_rx_s=16,
        burst_time_tx_s=32,
        priority=5,
        min_rx_kbps=2_000,
        min_tx_kbps=4_000,
    )


def test_burst_time_units_and_extra_whitespace() -> None:
    limit = parse_rate_limit("  1M/2M   2M/4M 512k/1M 1m/30s ")
    assert (limit.burst_time_rx_s, limit.burst_time_tx_s) == (60, 30)
    assert limit.priority is None and limit.min_rx_kbps is None


@pytest.mark.parametrize(
    "text",
    [
        "10M/10M",
        "512k/1M",
        "10M/20M 15M/30M 8M/16M 16/32 5 2M/4M",
        "1G/1G 0/0 0/0 0/0 8 100M/100M",
        "0/0",
    ],
)
def test_canonical_strings_round_trip(text: str) -> None:
    assert format_rate_limit(parse_rate_limit(text)) == text


def test_format_fills_gaps_before_later_parts() -> None:
    limit = RateLimit(rx_kbps=10_000, tx_kbps=10_000, min_rx_kbps=1_000, min_tx_kbps=2_000)
    assert str(limit) == "10M/10M 0/0 0/0 0/0 8 1M/2M"
    assert format_rate_limit(parse_rate_limit("1000k/2048k 3000000")) == "1M/2048k 3M/3M"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "rate-limit is empty"),
        ("   ", "rate-limit is empty"),
        ("10M/10M/10M", "must be 'rx/tx'"),
        ("10M/", "must be 'rx/tx'"),
        ("/10M", "must be 'rx/tx'"),
        ("fast/slow", "'fast' is not a rate"),
        ("10M/10M 20M/20M 5M/5M 10/10 9", "priority '9' must be a whole number from 1"),
        ("10M/10M 20M/20M 5M/5M 10/10 0", "priority '0'"),
        ("10M/10M 20M/20M 5M/5M ten/10", "'ten' is not a burst time"),
        ("1M 1M 1M 1 1 1M 1M", "has 7 parts; at most 6"),
    ],
)
def test_parse_rate_limit_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rate_limit(text)


def test_rate_limit_errors_quote_the_whole_string() -> None:
    with pytest.raises(ValueError, match=r"rate-limit '10M/10Q': rate: '10Q' is not a rate"):
        parse_rate_limit("10M/10Q")


# -- IP pool ranges ---------------------------------------------------------------------------------


def test_dash_range() -> None:
    pool = parse_pool_ranges("10.0.0.2-10.0.0.254")
    assert pool.ranges == ((ipaddress.ip_address("10.0.0.2"), ipaddress.ip_address("10.0.0.254")),)
    assert pool.size == 253


def test_prefix_covers_every_address_in_it() -> None:
    pool = parse_pool_ranges("10.1.0.0/24")
    assert pool.size == 256
    assert "10.1.0.0" in pool and "10.1.0.255" in pool and "10.1.1.0" not in pool


def test_comma_list_of_mixed_forms_keeps_router_order() -> None:
    pool = parse_pool_ranges("100.64.1.0/30, 100.64.0.10-100.64.0.19,100.64.0.5")
    assert pool.size == 4 + 10 + 1
    assert [str(start) for start, _ in pool.ranges] == ["100.64.1.0", "100.64.0.10", "100.64.0.5"]
    assert str(pool) == "100.64.1.0-100.64.1.3,100.64.0.10-100.64.0.19,100.64.0.5"


def test_single_address_and_host_prefix() -> None:
    assert parse_pool_ranges("192.0.2.7").size == 1
    assert parse_pool_ranges("192.0.2.7/32").size == 1


def test_ipv6_ranges() -> None:
    pool = parse_pool_ranges("2001:db8::10-2001:db8::1f")
    assert pool.size == 16
    assert "2001:db8::15" in pool and "10.0.0.1" not in pool


def test_large_prefix_size() -> None:
    assert parse_pool_ranges("100.64.0.0/10").size == 2**22


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "pool ranges are empty"),
        ("10.0.0.1-10.0.0.9,", "empty entry between commas"),
        ("10.0.0.300-10.0.0.400", "'10.0.0.300' in '10.0.0.300-10.0.0.400' is not an IP address"),
        ("10.0.0.9-10.0.0.1", "starts after it ends; write it as 10.0.0.1-10.0.0.9"),
        ("10.1.0.5/24", r"has host bits set; did you mean 10.1.0.0/24\?"),
        ("10.1.0.0/33", "not an address/prefix"),
        ("10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6"),
        ("10.0.0.1,2001:db8::1", "mix IPv4 and IPv6"),
        ("10.0.0.0/24,10.0.0.200-10.0.1.10", "overlap: 10.0.0.0-10.0.0.255 and 10.0.0.200-10.0.1.10"),
        ("10.0.0.5,10.0.0.5", "overlap"),
        ("pool-a", "'pool' in 'pool-a' is not an IP address"),
        ("gateway", "'gateway' is not an IP address, a-b range or address/prefix"),
    ],
)
def test_parse_pool_ranges_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_pool_ranges(text)
