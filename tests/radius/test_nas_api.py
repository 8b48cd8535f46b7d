"""POST /api/v1/nas/ and friends: registry sync, platform-wide unique address, scope, and a new or
changed NAS taking effect in the running FreeRADIUS with no manual step."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from pyrad import packet as rp

from network.models import Nas as NasRow
from tests.radius.conftest import NAS_CACHE_SECONDS, api_call, api_get, isp
from tests.radius.support import Database, Nas, RadiusServer, reply_attrs, start_server

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("committed")]


def _registry(address: str) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tenant_schema, secret FROM radius.nas WHERE address = %s::inet", [address])
        return list(cursor.fetchall())


def test_nas_added_through_the_api_answers_at_once(radius_server: RadiusServer) -> None:
    beta = isp("beta")
    late = Nas("127.0.0.5", "late-secret-1", radius_server)
    assert late.pap("carol", "pppoe-secret", timeout=1, retries=1) is None

    response = api_call(beta, beta.admin, "post", "/api/v1/nas/",
                        {"name": "Tower 5", "address": "127.0.0.5", "secret": "late-secret-1"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["owner"] == beta.root.pk and "secret" not in body
    assert _registry("127.0.0.5") == [("isp_beta", "late-secret-1")]
    reply = late.pap("carol", "pppoe-secret")
    assert reply is not None and reply.code == rp.AccessAccept
    assert reply_attrs(reply)["Mikrotik-Rate-Limit"] == ["5000k/20000k"]


def test_address_is_unique_across_isps_with_a_clear_400() -> None:
    alpha = isp("alpha")
    response = api_call(alpha, alpha.admin, "post", "/api/v1/nas/",
                        {"name": "Stolen", "address": "127.0.0.3", "secret": "whatever-1"})  # beta's NAS

    assert response.status_code == 400
    assert response.json()["errors"] == {"address": ["This address is already registered as a NAS."]}
    assert _registry("127.0.0.3")[0][0] == "isp_beta"
    with schema_context(alpha.schema):
        assert not NasRow.objects.filter(address="127.0.0.3").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "address": "not-an-ip", "secret": "secret-123"}, "address"),
        ({"name": "x", "address": "10.20.0.1", "secret": "short"}, "secret"),
        ({"name": "", "address": "10.20.0.2", "secret": "secret-123"}, "name"),
        ({"name": "x", "address": "10.20.0.3"}, "secret"),
    ],
)
def test_bad_input_is_a_400_and_changes_nothing(body: dict[str, str], field: str) -> None:
    alpha = isp("alpha")
    response = api_call(alpha, alpha.admin, "post", "/api/v1/nas/", body)
    assert response.status_code == 400 and field in response.json()["errors"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM radius.nas WHERE address << '10.20.0.0/24'")
        assert cursor.fetchone() == (0,)


def test_the_isp_registers_nases_and_its_resellers_see_theirs_read_only() -> None:
    alpha = isp("alpha")
    refused = api_call(alpha, alpha.reseller_user, "post", "/api/v1/nas/",
                       {"name": "Reseller POP", "address": "10.30.0.1", "secret": "reseller-secret"})
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    response = api_call(alpha, alpha.admin, "post", "/api/v1/nas/",
                        {"name": "Reseller POP", "address": "10.30.0.1", "secret": "reseller-secret",
                         "owner": alpha.reseller.pk})
    assert response.status_code == 201 and response.json()["owner"] == alpha.reseller.pk
    nas_id = response.json()["id"]

    assert nas_id in {n["id"] for n in api_get(alpha, alpha.admin, "/api/v1/nas/").json()["results"]}
    assert nas_id in {n["id"] for n in api_get(alpha, alpha.reseller_user, "/api/v1/nas/").json()["results"]}
    assert api_call(alpha, alpha.reseller_user, "delete", f"/api/v1/nas/{nas_id}/").status_code == 403
    assert nas_id not in {n["id"] for n in api_get(alpha, alpha.sibling_user, "/api/v1/nas/").json()["results"]}
    assert api_call(alpha, alpha.sibling_user, "delete", f"/api/v1/nas/{nas_id}/").status_code == 404
    assert api_call(alpha, alpha.customer_user, "post", "/api/v1/nas/",
                    {"name": "Mine", "address": "10.30.0.2", "secret": "customer-secret"}).status_code == 403
    beta = isp("beta")
    assert api_get(beta, beta.admin, f"/api/v1/nas/{nas_id}/").status_code == 404
    # A node that does not exist as owner is refused.
    assert api_call(alpha, alpha.admin, "post", "/api/v1/nas/",
                    {"name": "x", "address": "10.30.0.3", "secret": "secret-123",
                     "owner": 999999}).status_code == 400
    assert api_call(alpha, alpha.admin, "delete", f"/api/v1/nas/{nas_id}/").status_code == 204


def test_secret_change_and_removal_take_effect_after_the_cache_lifetime(radius_server: RadiusServer) -> None:
    alpha = isp("alpha")
    created = api_call(alpha, alpha.admin, "post", "/api/v1/nas/",
                       {"name": "Rotating", "address": "127.0.0.8", "secret": "rotate-secret-1"}).json()
    old, new = Nas("127.0.0.8", "rotate-secret-1", radius_server), Nas("127.0.0.8", "rotate-secret-2", radius_server)
    assert (r := old.pap("carol", "pppoe-secret")) is not None and r.code == rp.AccessAccept

    patched = api_call(alpha, alpha.admin, "patch", f"/api/v1/nas/{created['id']}/", {"secret": "rotate-secret-2"})
    assert patched.status_code == 200
    time.sleep(NAS_CACHE_SECONDS + 1.1)
    assert old.pap("carol", "pppoe-secret", timeout=1, retries=1) is None
    assert (r := new.pap("carol", "pppoe-secret")) is not None and r.code == rp.AccessAccept

    assert api_call(alpha, alpha.admin, "delete", f"/api/v1/nas/{created['id']}/").status_code == 204
    assert _registry("127.0.0.8") == []
    # Authorization reads radius.nas live, so even a cached client gets nothing from the tenant.
    assert (r := new.pap("carol", "pppoe-secret")) is None or r.code == rp.AccessReject
    time.sleep(NAS_CACHE_SECONDS + 1.1)
    assert new.pap("carol", "pppoe-secret", timeout=1, retries=1) is None


def test_read_clients_loads_nas_rows_at_start_only(radius_db: Database, tmp_path: Path) -> None:
    # The alternative to dynamic clients, kept working: client_query over radius.nas at start.
    server = start_server(radius_db, tmp_path, nas_networks=[], read_clients=True, reject_delay=0, threads=4)
    try:
        nas_beta = Nas("127.0.0.3", "secret-beta-1", server)
        assert (r := nas_beta.pap("carol", "pppoe-secret")) is not None and r.code == rp.AccessAccept
    finally:
        server.stop()
