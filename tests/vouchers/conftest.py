from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings


@pytest.fixture(autouse=True)
def _forget_pin_failures() -> Iterator[None]:
    """Wrong-PIN counters live in Redis, outside the test's transaction."""
    client = redis.Redis.from_url(settings.REDIS_URL)

    def clear() -> None:
        for key in client.scan_iter(match="*vouchers:pin-failures:*"):
            client.delete(key)

    clear()
    yield
    clear()
