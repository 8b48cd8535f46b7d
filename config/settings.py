"""Backhaul settings, read from the environment.

BACKHAUL_MODE selects defaults: ``production`` (the default: DEBUG off, secure cookies, SECRET_KEY
required), ``development`` (what `make run` sets) and ``test``. DATABASE_URL and REDIS_URL default to the
embedded PostgreSQL/Redis of the mode's profile under ``.data/``.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import embedded
from config.crypto import encryption_keys
from config.env import (
    celery_broker_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    parse_database_url,
    parse_redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

MODE = env_str("BACKHAUL_MODE", "production")
if MODE not in {"production", "development", "test"}:
    raise ImproperlyConfigured(
        f"Environment variable BACKHAUL_MODE={MODE!r} must be production, development or test."
    )
PROFILE = "test" if MODE == "test" else "dev"
LOCAL = MODE != "production"


def _local_secret_key() -> str:
    path = embedded.data_dir(PROFILE) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY", _local_secret_key() if LOCAL else None)
if not LOCAL and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("Environment variable SECRET_KEY must be at least 32 characters long.")
DEBUG = env_bool("DEBUG", MODE == "development")

PLATFORM_DOMAIN = env_str("PLATFORM_DOMAIN", "localhost").lower()
if not PLATFORM_DOMAIN or "/" in PLATFORM_DOMAIN or ":" in PLATFORM_DOMAIN:
    raise ImproperlyConfigured(f"Environment variable PLATFORM_DOMAIN={PLATFORM_DOMAIN!r} is not a host name.")
# Tenant custom domains are validated by the tenant middleware; Django's check stays as a backstop.
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"] if LOCAL else [PLATFORM_DOMAIN, f".{PLATFORM_DOMAIN}"])

DATABASES = {
    "default": parse_database_url(
        "DATABASE_URL", env_str("DATABASE_URL", embedded.database_url(PROFILE))
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0 if LOCAL else 60)
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_backhaul")}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)

REDIS_URL = parse_redis_url("REDIS_URL", env_str("REDIS_URL", embedded.redis_url(PROFILE)))

SHARED_APPS = [
    "django_tenants",
    "tenants",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "axes",
    "guardian",
    "accounts",
    "network.radius",  # label radius_registry: the shared `radius` schema
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "rest_framework.authtoken",
    "axes",
    "guardian",
    "accounts",
    "hierarchy",
    "ledger",
    "ledger.billing",
    "ledger.vouchers",
    "network",
    "portal",
    "api",
]
# "tenants" first: the first app wins a management-command name clash, and our `migrate` (which also
# keeps the tenant template schema current) must replace django-tenants' own.
INSTALLED_APPS = ["tenants"] + [
    app for app in dict.fromkeys(SHARED_APPS + TENANT_APPS) if app != "tenants"
]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_NAME = "public"
TENANT_BASE_SCHEMA = "tenant_template"
TENANT_CREATION_FAKES_MIGRATIONS = True
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"

MIDDLEWARE = [
    "tenants.middleware.TenantRoutingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.platform",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.NodeStatusBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"

# django-axes: lock a username+IP pair after repeated failures, per tenant schema (its tables are
# tenant tables).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_VERBOSE = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not LOCAL)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not LOCAL)
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not LOCAL:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 3600)
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS",
    [f"http://*.{PLATFORM_DOMAIN}:8000", f"http://{PLATFORM_DOMAIN}:8000"] if LOCAL else [],
)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
    }
}

CELERY_BROKER_URL = celery_broker_url(REDIS_URL)
CELERY_RESULT_BACKEND = celery_broker_url(REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Fans out one network.tasks.radius_sessions_close_stale per tenant.
    "radius-stale-sessions": {"task": "network.tasks.radius_stale_sessions_all", "schedule": 300.0},
    # Every ISP's books: Σ balances = 0 per currency, cached balances = Σ postings (ledger/tasks.py).
    "ledger-check": {"task": "ledger.check_all", "schedule": 3600.0},
    # Stripe events whose handling failed (answered 5xx; Stripe retries as well), per ISP (ledger/tasks.py).
    "stripe-events-retry": {"task": "ledger.stripe_events_retry_all", "schedule": 300.0},
    # Monthly invoices (idempotent, hourly so each ISP's own midnight is caught) and late fees (ledger/billing).
    "billing-run": {"task": "billing.run_all", "schedule": 3600.0},
    "billing-late-fees": {"task": "billing.late_fees_all", "schedule": 86400.0},
}

# FreeRADIUS connects as this least-privilege role (created by the radius_registry migration).
RADIUS_DB_ROLE = env_str("RADIUS_DB_ROLE", "backhaul_radius")
RADIUS_DB_PASSWORD = env_str("RADIUS_DB_PASSWORD", "")
# Interim-Update interval the NASes are configured with; sessions silent for 3 of them are closed.
RADIUS_INTERIM_SECONDS = env_int("RADIUS_INTERIM_SECONDS", 300)
# Disconnect/CoA: seconds to wait for the NAS per try, first retry delay (doubles, 5 attempts).
RADIUS_COA_TIMEOUT = float(env_int("RADIUS_COA_TIMEOUT_MS", 2000)) / 1000
RADIUS_COA_RETRY_SECONDS = env_int("RADIUS_COA_RETRY_SECONDS", 10)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.TenantTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "api.exceptions.json_exception_handler",
    "DEFAULT_THROTTLE_RATES": {"token": env_str("API_TOKEN_THROTTLE", "10/min"), "user": "2000/min"},
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Backhaul API",
    "DESCRIPTION": "Billing and network API of one ISP on Backhaul. Every endpoint is scoped to the "
    "caller's place in the ISP's role tree.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RouterStatusEnum": "network.models.RouterStatus",
        "RouterJobStatusEnum": "network.routers.models.JobStatus",
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "templates" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if LOCAL
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = LOCAL
# Uploaded files (the default storage above): journal-entry attachments under ledger/<schema>/…
MEDIA_ROOT = env_str("MEDIA_ROOT", str(embedded.data_dir(PROFILE) / "media"))
LEDGER_ATTACHMENT_MAX_BYTES = env_int("LEDGER_ATTACHMENT_MAX_BYTES", 5 * 1024 * 1024)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if LOCAL else "django.core.mail.backends.smtp.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"noreply@{PLATFORM_DOMAIN}")

# Secrets at rest (config/crypto.py): required in production, derived from SECRET_KEY locally.
FIELD_ENCRYPTION_KEYS = encryption_keys(
    env_str("FIELD_ENCRYPTION_KEY", ""), secret_key=SECRET_KEY, local=LOCAL
)

# MikroTik routers (network/routers/): where they send RADIUS, and how router jobs retry.
RADIUS_SERVER_ADDRESS = env_str("RADIUS_SERVER_ADDRESS", "127.0.0.1")
RADIUS_AUTH_PORT = env_int("RADIUS_AUTH_PORT", 1812)
RADIUS_ACCT_PORT = env_int("RADIUS_ACCT_PORT", 1813)
ROUTER_CONNECT_TIMEOUT = env_int("ROUTER_CONNECT_TIMEOUT", 5)
ROUTER_TIMEOUT = env_int("ROUTER_TIMEOUT", 30)
ROUTER_JOB_MAX_ATTEMPTS = env_int("ROUTER_JOB_MAX_ATTEMPTS", 8)
ROUTER_JOB_RETRY_BASE_SECONDS = env_int("ROUTER_JOB_RETRY_BASE_SECONDS", 30)
ROUTER_JOB_RETRY_MAX_SECONDS = env_int("ROUTER_JOB_RETRY_MAX_SECONDS", 1800)
ROUTER_SUSPENDED_RANGES = env_str("ROUTER_SUSPENDED_RANGES", "172.31.255.2-172.31.255.254")
ROUTER_RADIUS_PROBE = env_str("ROUTER_RADIUS_PROBE", "network.routers.radius_probe.radius_probe_pyrad")

# The egress guard (network/egress.py) for every connection a tenant can point the platform at (router API,
# CoA / Disconnect, later SMS and webhook URLs). Loopback, link-local / cloud metadata, multicast, unspecified
# and reserved addresses are refused in every mode; DENY adds the platform's own networks (comma-separated
# CIDRs), ALLOW lets the named networks through anyway (a lab router on 127.0.0.0/8).
BACKHAUL_EGRESS_DENY = env_list("BACKHAUL_EGRESS_DENY", [])
BACKHAUL_EGRESS_ALLOW = env_list("BACKHAUL_EGRESS_ALLOW", [])
for _name, _cidrs in (("BACKHAUL_EGRESS_DENY", BACKHAUL_EGRESS_DENY), ("BACKHAUL_EGRESS_ALLOW", BACKHAUL_EGRESS_ALLOW)):
    for _cidr in _cidrs:
        try:
            ipaddress.ip_network(_cidr, strict=False)
        except ValueError as _exc:
            raise ImproperlyConfigured(
                f"Environment variable {_name}: {_cidr!r} is not an IP network (use e.g. 10.20.0.0/16)."
            ) from _exc

# Subdomains an ISP may not take: they collide with platform hosts or would confuse subscribers.
RESERVED_SUBDOMAINS = frozenset(
    {
        "www", "api", "admin", "superadmin", "public", "static", "media", "mail", "smtp", "imap", "pop",
        "ftp", "ns1", "ns2", "dns", "radius", "portal", "app", "status", "help", "support", "billing",
        "login", "signup", "auth", "dashboard", "docs", "blog", "cdn", "assets", "test", "dev", "staging",
        "tenant_template", "template", "root", "system", "backhaul",
    }
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# django-tenants: set the search_path once per tenant switch, not before every query (halves the round
# trips of a request).
TENANT_LIMIT_SET_CALLS = True
