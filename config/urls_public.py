from django.urls import include, path

from config.health import healthz
from ledger.webhooks import stripe_webhook_for_tenant
from tenants import console, views

superadmin_patterns = (
    [
        path("", console.tenant_list, name="tenants"),
        path("login/", console.OperatorLoginView.as_view(), name="login"),
        path("logout/", console.operator_logout, name="logout"),
        path("tenants/<int:pk>/suspend/", console.tenant_suspend_view, name="tenant_suspend"),
        path("tenants/<int:pk>/unsuspend/", console.tenant_unsuspend_view, name="tenant_unsuspend"),
    ],
    "superadmin",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("signup/", views.signup, name="signup"),
    path("superadmin/", include(superadmin_patterns)),
    path("healthz", healthz, name="healthz"),
    path("stripe/webhook/<slug:slug>/", stripe_webhook_for_tenant, name="stripe-webhook"),
]
