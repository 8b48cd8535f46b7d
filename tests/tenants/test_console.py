from __future__ import annotations

import pytest
from django_tenants.utils import schema_context

from accounts.models import Role, User
from hierarchy.models import Subscriber
from tenants.models import Tenant
from tests.conftest import host_client
from tests.support.personas import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return User.objects.create_superuser(email="ops@platform.test", password=PASSWORD, full_name="Ops")


def _signed_in(email: str) -> object:
    client = host_client("localhost")
    response = client.post("/superadmin/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def test_console_lists_tenants_with_counts(operator, alpha, beta):
    with schema_context(alpha.schema):
        users = User.objects.count()
        Subscriber.objects.create(username="dave", package=alpha.package, owner=alpha.reseller)
        User.objects.create_user(email="c2@alpha.test", password=PASSWORD, role=Role.SUPPORT)
    client = _signed_in(operator.email)
    page = client.get("/superadmin/").content.decode()
    assert "Alpha Net" in page and "Beta Fiber" in page
    row = page[page.index('data-tenant="alpha"'):]
    row = row[: row.index("</tr>")]
    cells = [c.split(">")[-1] for c in row.split("</td>")]
    assert cells[4] == str(users + 1) and cells[5] == "2"  # logins; subscribers (carol, dave)


def test_console_suspend_and_unsuspend(operator, alpha):
    client = _signed_in(operator.email)
    assert client.post(f"/superadmin/tenants/{alpha.tenant.pk}/suspend/", {"reason": "test"}).status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "suspended"
    assert host_client(alpha.host).get("/login/").status_code == 403
    assert client.post(f"/superadmin/tenants/{alpha.tenant.pk}/unsuspend/").status_code == 302
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "active"


def test_console_requires_an_operator(alpha):
    client = host_client("localhost")
    assert client.get("/superadmin/").status_code == 302
    # A public-schema user who is not a platform operator.
    User.objects.create_user(email="nobody@platform.test", password=PASSWORD, role=Role.SUPPORT)
    response = client.post("/superadmin/login/", {"username": "nobody@platform.test", "password": PASSWORD})
    assert response.status_code == 200 and b"platform operators" in response.content
    # An ISP admin's credentials mean nothing on the platform host.
    response = client.post("/superadmin/login/", {"username": alpha.admin.email, "password": PASSWORD})
    assert response.status_code == 200
    assert client.post(f"/superadmin/tenants/{alpha.tenant.pk}/suspend/").status_code == 302  # to login
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == "active"


def test_console_pages_are_not_served_on_tenant_hosts(alpha):
    assert host_client(alpha.host).get("/superadmin/").status_code == 404
