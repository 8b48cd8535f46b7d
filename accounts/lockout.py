"""What a locked-out sign-in attempt gets (django-axes): JSON on the API, a page elsewhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"detail": "Too many failed sign-in attempts; try again in 15 minutes.", "code": "locked_out"},
            status=429,
        )
    return render(request, "accounts/locked_out.html", status=429)
