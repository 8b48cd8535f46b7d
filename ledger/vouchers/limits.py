"""Brute-force limit on voucher redemption, in Redis: at most ``MAX_FAILURES`` wrong PINs per
``WINDOW_SECONDS`` per client address and per customer (or hotspot identity), counted per ISP.
While either counter is full every attempt is refused (HTTP 429 / a form error with the wait), right or
wrong PIN, so a guesser learns nothing more."""

from __future__ import annotations

import functools

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
    keys = [f"{base}:who:{who}"]
    if address:
        keys.append(f"{base}:addr:{address}")
    return keys


def redeem_allowed(*, address: str | None, who: str) -> None:
    """Raise TooManyAttempts while the address or the customer has used up its wrong guesses."""
    client = _client(settings.REDIS_URL)
    for key in _keys(address=address, who=who):
        count = client.get(key)
        if count is not None and int(count) >= MAX_FAILURES:
            ttl = client.ttl(key)
            raise TooManyAttempts(int(ttl) if ttl and int(ttl) > 0 else WINDOW_SECONDS)


def redeem_failed(*, address: str | None, who: str) -> None:
    client = _client(settings.REDIS_URL)
    pipe = client.pipeline()
    for key in _keys(address=address, who=who):
        pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)  # the window starts at the first failure
        pipe.incr(key)  # keeps the key's expiry
    pipe.execute()
