from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request


class TenantTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`. Tokens live in each ISP's own schema, so a key is only found on its
    own ISP's hosts; on the platform host there is no ISP and no token is accepted."""

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        if getattr(request._request, "tenant", None) is None:
            if request.META.get("HTTP_AUTHORIZATION", "").startswith(self.keyword):
                raise exceptions.AuthenticationFailed("API tokens are only valid on an ISP's own host.")
            return None
        result = super().authenticate(request)
        if result is not None:
            from hierarchy.selectors import user_login_allowed

            if not user_login_allowed(user=result[0]):
                raise exceptions.AuthenticationFailed("Your reseller account is suspended.")
        return result
