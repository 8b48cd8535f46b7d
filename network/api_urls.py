"""This app's REST endpoints, mounted under /api/v1/ by api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from network import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("nas/", api.NasListCreateView.as_view(), name="nas-list"),
    path("nas/<int:pk>/", api.NasDetailView.as_view(), name="nas-detail"),
    path("sessions/", api.SessionListView.as_view(), name="session-list"),
    path("sessions/usage/", api.UsageView.as_view(), name="session-usage"),
    path("radius-actions/", api.RadiusActionListView.as_view(), name="radius-action-list"),
]
