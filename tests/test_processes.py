"""The real processes: the web server as `make run` starts it, and a Celery worker through Redis."""

from __future__ import annotations

import subprocess
import urllib.request

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from accounts.tasks import user_welcome_send
from config.run import web_command
from tests.support import processes
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.slow


def _get(port: int, host: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_web_server_serves_the_demo_isp(django_db_setup):
    env = processes.child_env()
    subprocess.run([processes.python(), "manage.py", "seed_demo"], cwd=processes.BASE_DIR, env=env,
                   check=True, capture_output=True)
    port = processes.free_port()
    server = subprocess.Popen(web_command(port, workers=1), cwd=processes.BASE_DIR, env=env)
    try:
        processes.wait_for_port(port, server)
        status, body = _get(port, "demo.localhost", "/login/")
        assert status == 200 and b"Demo ISP" in body and b"csrfmiddlewaretoken" in body
        status, body = _get(port, "demo.localhost", "/healthz")
        assert status == 200 and b'"database": "ok"' in body and b'"redis": "ok"' in body
        assert _get(port, "localhost", "/signup/")[0] == 200
        assert _get(port, "demo.localhost", "/static/vendor/bootstrap.min.css")[0] == 200
    finally:
        processes.stop(server)


def test_celery_task_runs_in_the_right_tenant_schema(alpha, beta, celery_worker_process, django_db_blocker):
    # Committed data (the worker is another process), unique to this test.
    with django_db_blocker.unblock():
        with schema_context(alpha.schema):
            target = User.objects.create_user(email="welcome-me@alpha.test", password=PASSWORD,
                                              role=Role.SUPPORT)
        with schema_context(beta.schema):
            # Beta gets a row with the same primary key, which must stay untouched.
            if not User.objects.filter(pk=target.pk).exists():
                twin = User.objects.create_user(email="twin@beta.test", password=PASSWORD, role=Role.SUPPORT)
                User.objects.filter(pk=twin.pk).update(id=target.pk)
            twin_before = User.objects.get(pk=target.pk).welcomed_at
    try:
        result = user_welcome_send.delay(alpha.schema, target.pk)
        assert result.get(timeout=60) == alpha.schema
        with django_db_blocker.unblock():
            with schema_context(alpha.schema):
                assert User.objects.get(pk=target.pk).welcomed_at is not None
            with schema_context(beta.schema):
                assert User.objects.get(pk=target.pk).welcomed_at == twin_before
    finally:
        with django_db_blocker.unblock():
            with schema_context(alpha.schema):
                User.objects.filter(pk=target.pk).delete()
            with schema_context(beta.schema):
                User.objects.filter(email="twin@beta.test").delete()


def test_task_for_a_missing_tenant_fails_loudly(celery_worker_process):
    result = user_welcome_send.delay("isp_does_not_exist", 1)
    with pytest.raises(Exception, match="isp_does_not_exist"):
        result.get(timeout=60)
