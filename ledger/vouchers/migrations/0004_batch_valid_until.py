from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vouchers", "0003_customer_self_recharge"),
    ]

    operations = [
        migrations.AddField(
            model_name="voucherbatch",
            name="valid_until",
            field=models.DateField(
                blank=True,
                help_text="Last day (in the ISP's time zone) a card of the batch may be sold or redeemed; none: no expiry.",
                null=True,
            ),
        ),
    ]
