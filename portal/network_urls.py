"""Panel pages for network data (portal.network_views), under /network/."""

from django.urls import path

from portal import network_views

app_name = "network_panel"

urlpatterns = [
    path("online/", network_views.online, name="online"),
    path("sessions/<int:pk>/disconnect/", network_views.session_disconnect, name="session_disconnect"),
    path("customers/<int:pk>/", network_views.customer, name="customer"),
    path("quota-alerts/", network_views.quota_alerts, name="quota_alerts"),
]
