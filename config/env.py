"""Typed access to environment variables that fails loudly, naming the variable."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is not a boolean (use 1/0, true/false).")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Environment variable {name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def parse_database_url(name: str, url: str) -> dict[str, object]:
    """postgres://user:pass@host:port/db?options -> Django DATABASES entry.

    A unix-socket directory is given as ``postgresql://user@/db?host=/path/to/dir``.
    """
    parsed = urlparse(url)
    if parsed.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a postgresql:// URL, got scheme {parsed.scheme!r}."
        )
    db_name = unquote(parsed.path.lstrip("/"))
    if not db_name:
        raise ImproperlyConfigured(f"Environment variable {name} names no database: {url!r}.")
    query = {key: values[-1] for key, values in parse_qs(parsed.query).items()}
    host = query.pop("host", None) or (unquote(parsed.hostname) if parsed.hostname else "")
    try:
        port = parsed.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"Environment variable {name} has a malformed port: {url!r}.") from exc
    return {
        "ENGINE": "django_tenants.postgresql_backend",
        "NAME": db_name,
        "USER": unquote(parsed.username or ""),
        "PASSWORD": unquote(parsed.password or ""),
        "HOST": host,
        "PORT": str(port or ""),
        "OPTIONS": query,
    }


def parse_redis_url(name: str, url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured(
            f"Environment variable {name} must be a redis://, rediss:// or unix:// URL, got {url!r}."
        )
    if parsed.scheme == "unix" and not parsed.path:
        raise ImproperlyConfigured(f"Environment variable {name} names no socket path: {url!r}.")
    return url


def celery_broker_url(redis_url: str) -> str:
    """Celery (kombu) spells a unix-socket Redis as redis+socket://."""
    parsed = urlparse(redis_url)
    if parsed.scheme == "unix":
        query = f"?{parsed.query}" if parsed.query else ""
        return f"redis+socket://{parsed.path}{query}"
    return redis_url
