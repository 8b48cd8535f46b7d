"""This app's REST endpoints, mounted under /api/v1/ by api/urls.py. The hierarchy app owns
/operators/ CRUD; only the wallet top-up action lives here."""

from django.urls import URLPattern, URLResolver, path

from ledger import api, reports, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("payments/", api.PaymentListCreate.as_view(), name="ledger-payments"),
    path("payments/<int:pk>/", api.PaymentDetail.as_view(), name="ledger-payment"),
    path("payments/<int:pk>/refund/", api.PaymentRefund.as_view(), name="ledger-payment-refund"),
    path("operators/<int:pk>/topup/", api.OperatorTopup.as_view(), name="ledger-operator-topup"),
    path("ledger/accounts/", api.AccountList.as_view(), name="ledger-accounts"),
    path("ledger/entries/", api.JournalEntryList.as_view(), name="ledger-entries"),
    path("ledger/entries/<int:pk>/", api.JournalEntryDetail.as_view(), name="ledger-entry"),
    path("ledger/entries/<int:pk>/attachments/", api.EntryAttachmentCreate.as_view(), name="ledger-entry-attachments"),
    path("ledger/entries/<int:pk>/attachments/<int:attachment_id>/", api.EntryAttachmentDownload.as_view(),
         name="ledger-entry-attachment"),
    path("ledger/settlements/", api.SettlementListCreate.as_view(), name="ledger-settlements"),
    path("reports/trial-balance/", reports.TrialBalance.as_view(), name="report-trial-balance"),
    path("reports/customers/<int:pk>/statement/", reports.CustomerStatement.as_view(), name="report-customer"),
    path("reports/operators/<int:pk>/statement/", reports.NodeStatement.as_view(), name="report-operator"),
    path("reports/commissions/", reports.Commissions.as_view(), name="report-commissions"),
    path("reports/cash-collected/", reports.CashByCollector.as_view(), name="report-cash"),
    path("reports/revenue/", reports.Revenue.as_view(), name="report-revenue"),
    path("reports/collections/", reports.Collections.as_view(), name="report-collections"),
    path("reports/arpu/", reports.Arpu.as_view(), name="report-arpu"),
    path("reports/customer-counts/", reports.CustomerCounts.as_view(), name="report-customer-counts"),
    path("reports/churn/", reports.Churn.as_view(), name="report-churn"),
    path("reports/expiries/", reports.UpcomingExpiries.as_view(), name="report-expiries"),
    path("stripe/webhook/", webhooks.stripe_webhook, name="stripe-webhook"),
]
