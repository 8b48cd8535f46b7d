from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "ledger.billing"
    label = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Payments are allocated to invoices inside the payment's own transaction.
        from ledger import services as ledger_services
        from ledger.billing.payments import ALLOCATION_PROBE, payment_release_hook

        if ALLOCATION_PROBE not in ledger_services.payment_probes:
            ledger_services.payment_probes.append(ALLOCATION_PROBE)
        # A refund (chargeback) releases the payment's allocations inside the reversal's transaction.
        if payment_release_hook not in ledger_services.payment_reversed_hooks:
            ledger_services.payment_reversed_hooks.append(payment_release_hook)
