import pytest

from tests.conftest import host_client

pytestmark = pytest.mark.django_db


def test_healthz_on_platform_and_tenant_hosts(alpha):
    for host in ("localhost", alpha.host):
        response = host_client(host).get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


def test_healthz_reports_a_broken_redis(alpha, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:1/0"}}
    from django.core.cache import caches

    caches._settings = None
    try:
        response = host_client(alpha.host).get("/healthz")
        assert response.status_code == 503
        assert response.json()["redis"].startswith("error") and response.json()["database"] == "ok"
    finally:
        caches._settings = None
