from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "ledger.vouchers"
    label = "vouchers"
    verbose_name = "Vouchers and prepaid recharge"

    def ready(self) -> None:
        # A self-recharge paid by card is bought inside its payment's transaction (ledger/payment_steps.py).
        # The Stripe webhook hands a paid self-recharge to this app (its handler table, no import back).
        from ledger.stripe_gateway import payment_kind_register
        from ledger.vouchers.self_recharge import STRIPE_KIND, self_recharge_paid

        payment_kind_register(STRIPE_KIND, self_recharge_paid)
