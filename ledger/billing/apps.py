from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ledger.billing"
    label = "billing"
    default_auto_field = "django.db.models.BigAutoField"
    # Payments are allocated to invoices (and refunds release them) by ledger.services.payment_record and
    # payment_refund, through ledger/payment_steps.py: nothing to register at start-up.
