from django.apps import AppConfig


class VouchersConfig(AppConfig):
    name = "ledger.vouchers"
    label = "vouchers"
    verbose_name = "Vouchers and prepaid recharge"

    def ready(self) -> None:
        # A self-recharge paid by card is bought inside its payment's transaction, before billing
        # allocates what is left of the payment to open invoices.
        from ledger import services as ledger_services
        from ledger.vouchers.self_recharge import self_recharge_payment_hook

        if self_recharge_payment_hook not in ledger_services.payment_posted_hooks:
            ledger_services.payment_posted_hooks.insert(0, self_recharge_payment_hook)
        # The Stripe webhook hands a paid self-recharge to this app (its handler table, no import back).
        from ledger.stripe_gateway import payment_kind_register
        from ledger.vouchers.self_recharge import STRIPE_KIND, self_recharge_paid

        payment_kind_register(STRIPE_KIND, self_recharge_paid)
