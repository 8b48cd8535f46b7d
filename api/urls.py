from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from api.views import MeView, TokenView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("v1/auth/token/", TokenView.as_view(), name="api-token"),
    path("v1/me/", MeView.as_view(), name="api-me"),
    path("v1/", include("hierarchy.api_urls")),
    path("v1/", include("ledger.api_urls")),
    path("v1/", include("ledger.billing.api_urls")),
    path("v1/", include("ledger.vouchers.api_urls")),
    path("v1/", include("network.api_urls")),
    path("v1/", include("network.router_api_urls")),
]
