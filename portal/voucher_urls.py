"""Voucher pages of the ISP's host: the customer portal's voucher page and the hotspot captive portal."""

from django.urls import path

from portal import voucher_views

urlpatterns = [
    path("portal/vouchers/", voucher_views.customer_vouchers, name="portal-vouchers"),
    path("portal/recharge/", voucher_views.customer_recharge, name="portal-recharge"),
    path("hotspot/", voucher_views.hotspot_login, name="hotspot-login"),
]
