"""The postpaid credit limit (0008) and the stored Stripe events (0009) were written side by side."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0008_postpaid_credit_limit"),
        ("ledger", "0009_stripe_event_attempts"),
    ]
    operations: list[migrations.operations.base.Operation] = []
