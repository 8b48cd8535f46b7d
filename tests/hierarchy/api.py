"""A small JSON API client for one persona on its ISP's host."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from tests.conftest import host_client


class Api:
    def __init__(self, host: str, schema: str, user: Any, ip: str = "10.9.0.1") -> None:
        with schema_context(schema):
            self.token = Token.objects.get_or_create(user=user)[0].key
        self.client: Client = host_client(host)
        self.headers: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Token {self.token}", "REMOTE_ADDR": ip}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"/api/v1/{path}", params or {}, **self.headers)

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"/api/v1/{path}", body or {}, content_type="application/json", **self.headers)

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.patch(f"/api/v1/{path}", body, content_type="application/json", **self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(f"/api/v1/{path}", **self.headers)


def api_for(isp: Any, user: Any, ip: str = "10.9.0.1") -> Api:
    return Api(isp.host, isp.schema, user, ip)
