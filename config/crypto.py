"""Secrets at rest (router API passwords, copies of what a router gave us) and generated secrets.

Values are Fernet tokens (AES-128-CBC + HMAC-SHA256, with a timestamp). The key comes from
FIELD_ENCRYPTION_KEY (urlsafe base64 of 32 bytes, as `Fernet.generate_key()` prints it). Several
comma-separated keys allow rotation: the first encrypts, all decrypt. In development and test, when the
variable is unset, a key is derived from SECRET_KEY so local data stays readable between runs; in
production settings refuse to start without it (see `encryption_keys`).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import secrets
import string

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

RADIUS_SECRET_ALPHABET = string.ascii_letters + string.digits
RADIUS_SECRET_LENGTH = 32


class DecryptionFailed(Exception):
    """A stored token was not made with any configured key (wrong key, or the value was altered)."""


def encryption_keys(raw: str, *, secret_key: str, local: bool) -> list[bytes]:
    """The Fernet keys from FIELD_ENCRYPTION_KEY's text; raises ImproperlyConfigured naming the variable."""
    if not raw.strip():
        if not local:
            raise ImproperlyConfigured(
                "Environment variable FIELD_ENCRYPTION_KEY is required in production "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            )
        digest = hashlib.sha256(b"backhaul-field-encryption:" + secret_key.encode()).digest()
        return [base64.urlsafe_b64encode(digest)]
    keys: list[bytes] = []
    for position, key in enumerate((part.strip() for part in raw.split(",")), start=1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ImproperlyConfigured(
                f"Environment variable FIELD_ENCRYPTION_KEY: key {position} is not urlsafe base64 of 32 bytes."
            )
        keys.append(key.encode())
    return keys


@functools.cache
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def secret_encrypt(plaintext: str) -> str:
    """A Fernet token (ASCII) for `plaintext`; "" stays "" so optional fields stay empty."""
    if plaintext == "":
        return ""
    return _current().encrypt(plaintext.encode()).decode("ascii")


def secret_decrypt(token: str) -> str:
    if token == "":
        return ""
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise DecryptionFailed(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY; was the key changed "
            "without keeping the old one after a comma?"
        ) from exc


def radius_secret_generate(length: int = RADIUS_SECRET_LENGTH) -> str:
    """A RADIUS shared secret: letters and digits only (some NAS UIs mangle punctuation), ~190 bits."""
    if length < 16:
        raise ValueError("a RADIUS secret shorter than 16 characters is too weak")
    return "".join(secrets.choice(RADIUS_SECRET_ALPHABET) for _ in range(length))
