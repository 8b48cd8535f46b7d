"""The public site on the platform host: home, ISP signup, health."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tenants.forms import SignupForm
from tenants.services import tenant_create


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "public/home.html")


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenant = tenant_create(
                name=data["name"], slug=data["slug"], admin_name=data["admin_name"],
                admin_email=data["admin_email"], admin_password=data["admin_password"],
            )
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            port = request.get_port()
            suffix = "" if port in {"80", "443"} else f":{port}"
            login_url = f"{request.scheme}://{tenant.slug}.{settings.PLATFORM_DOMAIN}{suffix}/login/"
            return render(
                request, "public/signup_done.html",
                {"tenant": tenant, "admin_email": data["admin_email"], "login_url": login_url},
                status=201,
            )
    return render(request, "public/signup.html", {"form": form}, status=400 if form.errors else 200)


def _errors_to_form(form: SignupForm, exc: ValidationError) -> None:
    mapping = {"admin_password": "admin_password", "slug": "slug", "name": "name"}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(mapping.get(field), errors)
    else:
        # Password validators raise a plain list.
        form.add_error("admin_password", exc.messages)
