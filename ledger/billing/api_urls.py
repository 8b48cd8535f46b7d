"""Billing endpoints, mounted under /api/v1/ by api/urls.py."""

from django.urls import URLPattern, URLResolver, path

from ledger.billing import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("invoices/", api.InvoiceList.as_view(), name="billing-invoices"),
    path("invoices/<int:pk>/", api.InvoiceDetail.as_view(), name="billing-invoice"),
    path("invoices/<int:pk>/pdf/", api.InvoicePdf.as_view(), name="billing-invoice-pdf"),
    path("invoices/<int:pk>/void/", api.InvoiceVoid.as_view(), name="billing-invoice-void"),
    path("invoices/<int:pk>/credit-notes/", api.InvoiceCreditNoteCreate.as_view(), name="billing-invoice-credit"),
    path("invoices/<int:pk>/pay/", api.InvoicePay.as_view(), name="billing-invoice-pay"),
    path("credit-notes/", api.CreditNoteList.as_view(), name="billing-credit-notes"),
    path("customers/<int:pk>/package-change/preview/", api.PackageChangePreview.as_view(),
         name="billing-package-change-preview"),
    path("customers/<int:pk>/package-change/", api.PackageChangeConfirm.as_view(), name="billing-package-change"),
    path("customers/<int:pk>/billing-profile/", api.CustomerBillingProfile.as_view(), name="billing-profile"),
    path("customers/<int:pk>/billing-model/", api.CustomerBillingModel.as_view(), name="billing-model"),
    path("promo-codes/", api.PromoCodeListCreate.as_view(), name="billing-promo-codes"),
    path("promo-codes/redeem/", api.PromoCodeRedeem.as_view(), name="billing-promo-redeem"),
    path("promo-codes/<int:pk>/", api.PromoCodeDetail.as_view(), name="billing-promo-code"),
    path("billing/settings/", api.BillingSettingsView.as_view(), name="billing-settings"),
    path("reports/receivables-aging/", api.ReceivablesAging.as_view(), name="report-receivables-aging"),
]
