from typing import Any

from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    return {
        "platform_domain": settings.PLATFORM_DOMAIN,
        "current_tenant": tenant,
        "brand_name": tenant.name if tenant else "Backhaul",
        "brand_color": tenant.brand_color if tenant else "#0d6efd",
    }
