"""Router and router-job endpoints, mounted under /api/v1/ by api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from network import router_api as views

urlpatterns: list[URLPattern | URLResolver] = [
    path("routers/", views.RouterListView.as_view(), name="router-list"),
    path("routers/<int:pk>/", views.RouterDetailView.as_view(), name="router-detail"),
    path("routers/<int:pk>/test-connection/", views.TestConnectionView.as_view(), name="router-test"),
    path("routers/<int:pk>/provision/", views.ProvisionView.as_view(), name="router-provision"),
    path("routers/<int:pk>/import/", views.ImportView.as_view(), name="router-import"),
    path("routers/<int:pk>/migrate-to-radius/", views.MigrateToRadiusView.as_view(), name="router-migrate"),
    path("routers/<int:pk>/live/", views.LiveView.as_view(), name="router-live"),
    path("routers/<int:pk>/subscribers/<str:username>/suspend/", views.SubscriberSuspendView.as_view(),
         name="router-subscriber-suspend"),
    path("routers/<int:pk>/subscribers/<str:username>/reactivate/", views.SubscriberReactivateView.as_view(),
         name="router-subscriber-reactivate"),
    path("router-jobs/", views.RouterJobListView.as_view(), name="router-job-list"),
    path("router-jobs/<int:pk>/", views.RouterJobDetailView.as_view(), name="router-job-detail"),
    path("router-jobs/<int:pk>/cancel/", views.RouterJobCancelView.as_view(), name="router-job-cancel"),
    path("router-jobs/<int:pk>/snapshots/<str:menu>.csv", views.RouterJobSnapshotView.as_view(),
         name="router-job-snapshot"),
]
