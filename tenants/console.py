"""The superadmin console (platform operators only, on the platform host)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.forms import EmailAuthenticationForm
from tenants.models import Tenant
from tenants.selectors import tenants_with_counts
from tenants.services import tenant_suspend, tenant_unsuspend


def operator_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return HttpResponseRedirect(f"{reverse('superadmin:login')}?next={request.path}")
        if not getattr(user, "is_platform_operator", False):
            return render(request, "403.html", {"message": "Platform operators only."}, status=403)
        return view(request, *args, **kwargs)

    return wrapped


class OperatorLoginView(LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = False
    extra_context = {"heading": "Platform operator sign-in"}

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        if not getattr(form.get_user(), "is_platform_operator", False):
            form.add_error(None, "This console is for platform operators.")
            return self.form_invalid(form)
        return super().form_valid(form)

    def get_default_redirect_url(self) -> str:
        return reverse("superadmin:tenants")


@require_POST
def operator_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("superadmin:login")


@operator_required
def tenant_list(request: HttpRequest) -> HttpResponse:
    return render(request, "superadmin/tenants.html", {"rows": tenants_with_counts()})


@require_POST
@operator_required
def tenant_suspend_view(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = tenant_suspend(tenant=get_object_or_404(Tenant, pk=pk), reason=request.POST.get("reason", ""))
    messages.warning(request, f"{tenant.name} is suspended.")
    return redirect("superadmin:tenants")


@require_POST
@operator_required
def tenant_unsuspend_view(request: HttpRequest, pk: int) -> HttpResponse:
    tenant = tenant_unsuspend(tenant=get_object_or_404(Tenant, pk=pk))
    messages.success(request, f"{tenant.name} is active again.")
    return redirect("superadmin:tenants")
