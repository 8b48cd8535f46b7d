"""A RouterClient for a Nas row, which can record (and in a dry run only record) what it would write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from config.crypto import secret_decrypt
from network.models import Nas
from network.routeros import RouterClient
from network.routeros.client import WRITE_VERBS
from network.routeros.records import Row

MASKED_PROPERTIES = frozenset({"secret", "password"})


def command_text(command: str, words: Sequence[str]) -> str:
    """An API sentence as one line, with secrets masked: '/radius/add =address=10.0.0.1 =secret=***'."""
    shown = []
    for word in words:
        name, _, _ = word[1:].partition("=")
        shown.append(f"={name}=***" if word.startswith("=") and name in MASKED_PROPERTIES else word)
    return " ".join([command, *shown])


class RecordingRouterClient(RouterClient):
    """Keeps the sentence of every write; with `dry_run` it sends only reads."""

    def __init__(self, *args: Any, dry_run: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dry_run = dry_run
        self.writes: list[str] = []

    def _call(self, command: str, words: Sequence[str], *, idempotent: bool) -> list[Row]:
        verb = command.rsplit("/", 1)[-1]
        if verb in WRITE_VERBS:
            self.writes.append(command_text(command, words))
            if self.dry_run:
                return [{"ret": "*dry-run"}] if verb == "add" else []
        return super()._call(command, words, idempotent=idempotent)


def router_client_for(nas: Nas, *, dry_run: bool = False) -> RecordingRouterClient:
    """Connects on first use; retries a refused or timed-out connection twice before giving up."""
    return RecordingRouterClient(
        nas.address,
        nas.api_username,
        secret_decrypt(nas.api_password_encrypted),
        port=nas.api_port,
        use_tls=nas.api_tls,
        connect_timeout=settings.ROUTER_CONNECT_TIMEOUT,
        timeout=settings.ROUTER_TIMEOUT,
        attempts=2,
        backoff=0.5,
        dry_run=dry_run,
    )
