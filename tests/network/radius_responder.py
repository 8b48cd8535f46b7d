"""A tiny RADIUS authentication server for tests: real UDP, real RADIUS packets (built and checked by pyrad).

Like FreeRADIUS it knows its clients by source address and secret: a packet from an unknown address
is dropped, and so is one whose password does not decrypt with the client's secret.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from pyrad.dictionary import Dictionary
from pyrad.packet import AccessAccept, AccessReject, AccessRequest, AuthPacket, PacketError

from network.routers.radius_probe import DICTIONARY


@dataclass
class RadiusResponder:
    clients: dict[str, str] = field(default_factory=dict)  # source address -> shared secret
    users: dict[str, str] = field(default_factory=dict)  # username -> password
    address: str = "127.0.0.1"
    requests: list[tuple[str, str]] = field(default_factory=list)  # (client address, username)
    port: int = 0

    def __post_init__(self) -> None:
        self._dictionary = Dictionary(str(DICTIONARY))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((self.address, 0))
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RadiusResponder:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            secret = self.clients.get(peer[0])
            if secret is None:
                continue  # unknown client: FreeRADIUS ignores it, the NAS times out
            try:
                packet = AuthPacket(packet=data, secret=secret.encode(), dict=self._dictionary)
            except PacketError:
                continue
            if packet.code != AccessRequest:
                continue
            username = packet["User-Name"][0]
            password = packet.PwDecrypt(packet["User-Password"][0])
            self.requests.append((peer[0], username))
            reply = packet.CreateReply()
            reply.code = AccessAccept if self.users.get(username) == password else AccessReject
            if reply.code == AccessReject:
                reply["Reply-Message"] = "unknown user or wrong password"
            self._sock.sendto(reply.ReplyPacket(), peer)
