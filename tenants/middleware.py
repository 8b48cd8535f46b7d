"""Route each request by its host: the platform host to the public site, an ISP's host to its schema.

Unknown hosts get a 404 and a suspended ISP's hosts answer 403 (JSON under /api/), before any
session, login or token is looked at.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import set_urlconf

from tenants.db import schema_use_public, schema_use_tenant
from tenants.selectors import tenant_for_host


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def is_platform_host(host: str) -> bool:
    return host in {settings.PLATFORM_DOMAIN, f"www.{settings.PLATFORM_DOMAIN}"} or _is_ip(host)


class TenantRoutingMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        schema_use_public()
        try:
            host = request.get_host().rsplit(":", 1)[0].lower() if request.get_host() else ""
        except DisallowedHost:
            return HttpResponse("Unknown host", status=400, content_type="text/plain")
        request.tenant = None  # type: ignore[attr-defined]
        if is_platform_host(host):
            request.urlconf = settings.PUBLIC_SCHEMA_URLCONF
            set_urlconf(request.urlconf)
            return self.get_response(request)

        tenant = tenant_for_host(host=host)
        if tenant is None:
            return render(request, "tenants/unknown_host.html", {"host": host}, status=404)
        if not tenant.is_active:
            if request.path.startswith("/api/"):
                return JsonResponse(
                    {"detail": f"{tenant.name} is suspended on this platform.", "code": "tenant_suspended"},
                    status=403,
                )
            return render(request, "tenants/suspended.html", {"tenant": tenant}, status=403)
        tenant.domain_url = host
        request.tenant = tenant  # type: ignore[attr-defined]
        schema_use_tenant(tenant)
        request.urlconf = settings.ROOT_URLCONF
        set_urlconf(request.urlconf)
        try:
            return self.get_response(request)
        finally:
            schema_use_public()
