from django.urls import include, path

from accounts import views as account_views
from config.health import healthz
from portal import views as portal_views

urlpatterns = [
    path("", portal_views.dashboard, name="dashboard"),
    path("login/", account_views.TenantLoginView.as_view(), name="login"),
    path("logout/", account_views.logout_view, name="logout"),
    path("healthz", healthz, name="healthz"),
    path("api/", include("api.urls")),
    path("", include("portal.voucher_urls")),
    path("network/", include("portal.network_urls")),
    path("vouchers/", include("portal.voucher_panel_urls")),
    path("reports/", include("portal.report_views")),
]
