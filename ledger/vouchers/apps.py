from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "ledger.vouchers"
    label = "vouchers"
    verbose_name = "Vouchers and prepaid recharge"
