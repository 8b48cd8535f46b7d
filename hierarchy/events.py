"""What other apps do when a customer's service changes, as a handler table the owning app fills.

hierarchy does not import the network: the network app registers its CoA / Disconnect senders here in
its ``AppConfig.ready`` (``network.apps``), and the subscriber services call ``subscriber_changed`` after
their write. With no handler registered (an app not installed), nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from hierarchy.models import Subscriber


class SubscriberChange(StrEnum):
    RATE = "rate"  # package changed: the live session's rate follows (CoA)
    ACCESS_LOST = "access_lost"  # suspended or disabled: the live session is dropped (Disconnect)


Handler = Callable[..., Any]
_HANDLERS: dict[SubscriberChange, list[Handler]] = {change: [] for change in SubscriberChange}


def on_subscriber_changed(change: SubscriberChange, handler: Handler) -> None:
    """Register ``handler(subscriber=...)`` for ``change`` (once; registering again is a no-op)."""
    if handler not in _HANDLERS[change]:
        _HANDLERS[change].append(handler)


def subscriber_changed(*, subscriber: Subscriber, change: SubscriberChange) -> None:
    for handler in _HANDLERS[change]:
        handler(subscriber=subscriber)
