"""Settings for the test suite: the `test` profile of the embedded services unless URLs are given."""

import os

os.environ.setdefault("BACKHAUL_MODE", "test")

from config.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed; Argon2 is tested on its own
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Router jobs: retry quickly so tests of an unreachable router finish in seconds.
ROUTER_CONNECT_TIMEOUT = 2
ROUTER_TIMEOUT = 10
ROUTER_JOB_RETRY_BASE_SECONDS = 1
ROUTER_JOB_RETRY_MAX_SECONDS = 2
