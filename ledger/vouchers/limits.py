"""Brute-force limit on voucher redemption, in Redis: at most ``MAX_FAILURES`` wrong PINs per
``WINDOW_SECONDS`` per client address and per customer (or hotspot device), counted per ISP.

Each attempt takes a slot first (INCR, atomic), so even simultaneous guesses cannot get past the
limit; an attempt that did not fail on its PIN (it redeemed, or was refused for another reason) gives
its slot back. While either counter is full every attempt is refused (HTTP 429 / a form error with the
wait), right or wrong PIN, so a guesser learns nothing more. The window starts at the first failure."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings

from tenants.db import schema_current

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many wrong PINs; try again in {max(1, (retry_after + 59) // 60)} minutes.")
        self.retry_after = retry_after


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def _keys(*, address: str | None, who: str) -> list[str]:
    base = f"vouchers:pin-failures:{schema_current()}"
    return [f"{base}:who:{who}"] + ([f"{base}:addr:{address}"] if address else [])


def _give_back(client: redis.Redis, keys: list[str]) -> None:
    pipe = client.pipeline()
    for key in keys:
        pipe.decr(key)
    pipe.execute()


@contextmanager
def pin_attempt(*, address: str | None, who: str) -> Iterator[list[bool]]:
    """Take a slot on both counters for one attempt (TooManyAttempts if either is full). The caller sets
    ``outcome[0] = True`` when the PIN was wrong; otherwise the slot is given back on exit."""
    client = _client(settings.REDIS_URL)
    keys = _keys(address=address, who=who)
    pipe = client.pipeline()
    for key in keys:
        pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)  # INCR keeps this expiry
        pipe.incr(key)
    counts = pipe.execute()[1::2]
    if any(int(count) > MAX_FAILURES for count in counts):
        _give_back(client, keys)
        ttl = max(int(client.ttl(key) or 0) for key in keys)
        raise TooManyAttempts(ttl if ttl > 0 else WINDOW_SECONDS)
    outcome = [False]
    try:
        yield outcome
    finally:
        if not outcome[0]:
            _give_back(client, keys)


def wrong_guess(*, address: str | None, who: str) -> None:
    """Count a failure outside an attempt (e.g. an unknown hotspot username)."""
    with pin_attempt(address=address, who=who) as outcome:
        outcome[0] = True
