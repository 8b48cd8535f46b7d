"""Staff panel pages for voucher batches (portal.voucher_panel_views), under /vouchers/."""

from django.urls import path

from portal import voucher_panel_views

app_name = "voucher_panel"

urlpatterns = [
    path("", voucher_panel_views.batches, name="batches"),
    path("<int:pk>/", voucher_panel_views.batch, name="batch"),
]
