from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "ledger"

    def ready(self) -> None:
        # ledger.services and the payment steps of billing and vouchers import each other
        # (ledger/payment_steps.py); loading ledger.services first, once every model exists, settles the
        # order for the whole process. Nothing is registered.
        from ledger import services  # noqa: F401
