"""This app's REST endpoints, mounted under /api/v1/ by api/urls.py."""

from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from hierarchy.api import OperatorViewSet, PackageAssignmentViewSet, PackageViewSet, UserViewSet
from hierarchy.api_customers import CustomerImportViewSet, CustomerViewSet

router = SimpleRouter(use_regex_path=False)
router.register("operators", OperatorViewSet, basename="operator")
router.register("users", UserViewSet, basename="user")
router.register("packages", PackageViewSet, basename="package")
router.register("package-assignments", PackageAssignmentViewSet, basename="package-assignment")
router.register("customers", CustomerViewSet, basename="customer")
router.register("customer-imports", CustomerImportViewSet, basename="customer-import")

urlpatterns: list[URLPattern | URLResolver] = [path("", include(router.urls))]
