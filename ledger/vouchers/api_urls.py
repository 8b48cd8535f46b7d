"""Voucher and recharge endpoints, mounted under /api/v1/ by api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from ledger.vouchers import api, reports

urlpatterns: list[URLPattern | URLResolver] = [
    path("voucher-batches/", api.BatchListCreate.as_view(), name="voucher-batches"),
    path("voucher-batches/<int:pk>/", api.BatchDetail.as_view(), name="voucher-batch"),
    path("voucher-batches/<int:pk>/pdf/", api.BatchPdf.as_view(), name="voucher-batch-pdf"),
    path("voucher-batches/<int:pk>/assign/", api.BatchAssign.as_view(), name="voucher-batch-assign"),
    path("vouchers/", api.VoucherList.as_view(), name="vouchers"),
    path("vouchers/redeem/", api.VoucherRedeem.as_view(), name="voucher-redeem"),
    path("vouchers/<int:pk>/sell/", api.VoucherSell.as_view(), name="voucher-sell"),
    path("vouchers/<int:pk>/void/", api.VoucherVoid.as_view(), name="voucher-void"),
    path("recharges/", api.RechargeListCreate.as_view(), name="recharges"),
    path("recharges/self/", api.SelfRecharge.as_view(), name="recharges-self"),
    path("reports/vouchers/stock/", reports.VoucherStock.as_view(), name="report-voucher-stock"),
    path("reports/vouchers/sales/", reports.VoucherSales.as_view(), name="report-voucher-sales"),
    path("reports/recharges/", reports.Recharges.as_view(), name="report-recharges"),
]
