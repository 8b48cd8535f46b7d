"""Settings fail at start-up, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import BASE_DIR

CHECK = "import django; django.setup(); from django.conf import settings; print(settings.DEBUG)"


def _start(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    base.pop("BACKHAUL_MODE", None)
    return subprocess.run([sys.executable, "-c", CHECK], cwd=BASE_DIR, capture_output=True, text=True,
                          env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", **env}, check=False)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "DATABASE_URL": "postgresql://u@h:notaport/db"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x" * 40, "REDIS_URL": "memcache://x"}, "REDIS_URL"),
        ({"SECRET_KEY": "x" * 40, "DEBUG": "maybe"}, "DEBUG"),
        ({"BACKHAUL_MODE": "staging"}, "BACKHAUL_MODE"),
        ({"SECRET_KEY": "x" * 40, "PLATFORM_DOMAIN": "http://x"}, "PLATFORM_DOMAIN"),
        ({"SECRET_KEY": "x" * 40}, "FIELD_ENCRYPTION_KEY"),
        ({"SECRET_KEY": "x" * 40, "FIELD_ENCRYPTION_KEY": "not-a-key"}, "FIELD_ENCRYPTION_KEY"),
    ],
)
def test_bad_environment_fails_naming_the_variable(env, variable):
    result = _start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and variable in result.stderr


def test_production_defaults_are_safe():
    result = subprocess.run(
        [sys.executable, "-c", CHECK + "; print(settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE)"],
        cwd=BASE_DIR, capture_output=True, text=True, check=False,
        env={**{k: v for k, v in os.environ.items() if k != "BACKHAUL_MODE"},
             "DJANGO_SETTINGS_MODULE": "config.settings", "SECRET_KEY": "y" * 40,
             "FIELD_ENCRYPTION_KEY": "1vOw5m6q3d0G1lO8yNnF0q0m0sDqGm2r0H2qZbq4tO0="},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True"]
