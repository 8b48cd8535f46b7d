"""A NAS's RFC 5176 side for tests: a pyrad-based UDP listener that verifies Disconnect/CoA
requests with its shared secret, records them and answers ACK (or NAK, or nothing)."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from pyrad import packet as rp

from tests.radius.support import pyrad_dictionary


@dataclass
class Received:
    code: int
    attributes: dict[str, list[Any]]


@dataclass
class FakeNas:
    address: str
    port: int
    secret: str
    answer: str = "ack"  # "ack", "nak" or "silent"
    received: list[Received] = field(default_factory=list)
    _sock: socket.socket | None = None
    _thread: threading.Thread | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> FakeNas:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.address, self.port))
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._event.set()
        if self._thread is not None:
            self._thread.join()
        if self._sock is not None:
            self._sock.close()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._event.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            request = rp.CoAPacket(secret=self.secret.encode(), dict=pyrad_dictionary(), packet=data)
            if not request.VerifyCoARequest():
                continue  # wrong secret: a real NAS drops it
            self.received.append(Received(request.code, {k: request[k] for k in request.keys()}))  # noqa: SIM118
            if self.answer == "silent":
                continue
            reply = request.CreateReply()
            if self.answer == "nak":
                reply.code = rp.DisconnectNAK if request.code == rp.DisconnectRequest else rp.CoANAK
                reply["Error-Cause"] = "Session-Context-Not-Found"
            self._sock.sendto(reply.ReplyPacket(), peer)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        import time

        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received
