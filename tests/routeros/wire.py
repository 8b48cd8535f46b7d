"""RouterOS API wire format: length-prefixed words, sentences ended by an empty word.

Written from the protocol description, not from librouteros, so the fake server
checks the real client rather than mirroring its bugs.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Sequence

ENCODING = "utf-8"


class PeerClosed(Exception):
    """The client closed the TCP connection (or it was dropped)."""


class WireError(Exception):
    """Bytes on the wire are not a valid RouterOS API word."""


def encode_length(length: int) -> bytes:
    if length < 0:
        raise WireError(f"negative word length {length}")
    if length < 0x80:
        return length.to_bytes(1, "big")
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length < 0x100000000:
        return b"\xf0" + length.to_bytes(4, "big")
    raise WireError(f"word of {length} bytes is too long for the API")


def extra_length_bytes(first: int) -> int:
    """How many bytes follow the first byte of an encoded length."""
    if first < 0x80:
        return 0
    if first < 0xC0:
        return 1
    if first < 0xE0:
        return 2
    if first < 0xF0:
        return 3
    if first == 0xF0:
        return 4
    raise WireError(f"reserved control byte 0x{first:02x}")


def decode_length(encoded: bytes) -> int:
    first = encoded[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        return int.from_bytes(encoded[:2], "big") & 0x3FFF
    if first < 0xE0:
        return int.from_bytes(encoded[:3], "big") & 0x1FFFFF
    if first < 0xF0:
        return int.from_bytes(encoded[:4], "big") & 0xFFFFFFF
    if first == 0xF0:
        return int.from_bytes(encoded[1:5], "big")
    raise WireError(f"reserved control byte 0x{first:02x}")


def encode_sentence(words: Iterable[str]) -> bytes:
    out = bytearray()
    for word in words:
        data = word.encode(ENCODING)
        out += encode_length(len(data))
        out += data
    out += b"\x00"
    return bytes(out)


def encode_sentences(sentences: Iterable[Sequence[str]]) -> bytes:
    return b"".join(encode_sentence(sentence) for sentence in sentences)


class SentenceReader:
    """Buffered reader of sentences from a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()

    def _take(self, count: int) -> bytes:
        while len(self._buffer) < count:
            try:
                chunk = self._sock.recv(65536)
            except OSError as exc:
                raise PeerClosed(str(exc)) from exc
            if not chunk:
                raise PeerClosed("connection closed by peer")
            self._buffer += chunk
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def read_word(self) -> str:
        head = self._take(1)
        extra = extra_length_bytes(head[0])
        if extra:
            head += self._take(extra)
        length = decode_length(head)
        return self._take(length).decode(ENCODING, errors="replace") if length else ""

    def read_sentence(self) -> list[str]:
        """Read words up to the empty word; an empty sentence is returned as []."""
        words: list[str] = []
        while (word := self.read_word()) != "":
            words.append(word)
        return words
