"""config/crypto.py: secrets at rest and generated RADIUS secrets."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.crypto import (
    DecryptionFailed,
    encryption_keys,
    radius_secret_generate,
    secret_decrypt,
    secret_encrypt,
)


def test_round_trip_and_fresh_tokens():
    first, second = secret_encrypt("router-pass ü"), secret_encrypt("router-pass ü")
    assert first != second and "router-pass" not in first
    assert secret_decrypt(first) == secret_decrypt(second) == "router-pass ü"
    assert secret_encrypt("") == "" and secret_decrypt("") == ""


def test_tampered_or_foreign_tokens_are_refused(settings):
    token = secret_encrypt("x")
    with pytest.raises(DecryptionFailed, match="FIELD_ENCRYPTION_KEY"):
        secret_decrypt(token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key()]
    with pytest.raises(DecryptionFailed):
        secret_decrypt(token)


def test_key_rotation_keeps_old_tokens_readable(settings):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = secret_encrypt("kept")
    settings.FIELD_ENCRYPTION_KEYS = encryption_keys(f"{new.decode()}, {old.decode()}", secret_key="s", local=False)
    assert secret_decrypt(token) == "kept"
    assert Fernet(new).decrypt(secret_encrypt("fresh").encode()) == b"fresh"  # new tokens use the first key


def test_keys_fail_loudly_in_production_and_derive_locally():
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY is required in production"):
        encryption_keys("", secret_key="s" * 40, local=False)
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY: key 2 is not"):
        encryption_keys(f"{Fernet.generate_key().decode()},short", secret_key="s", local=False)
    derived = encryption_keys("", secret_key="s" * 40, local=True)
    assert derived == encryption_keys("", secret_key="s" * 40, local=True)
    assert derived != encryption_keys("", secret_key="t" * 40, local=True)
    Fernet(derived[0])  # a valid key


def test_radius_secrets_are_long_alphanumeric_and_unique():
    secrets = {radius_secret_generate() for _ in range(200)}
    assert len(secrets) == 200
    assert all(len(s) == 32 and s.isalnum() and s.isascii() for s in secrets)
    with pytest.raises(ValueError, match="too weak"):
        radius_secret_generate(8)
