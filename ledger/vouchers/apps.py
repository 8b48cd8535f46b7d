from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "ledger.vouchers"
    label = "vouchers"
    verbose_name = "Vouchers and prepaid recharge"
    # A self-recharge paid by card is bought inside its payment's transaction (ledger/payment_steps.py).
