"""80 % / 100 % data-quota alerts, recorded once per subscriber, threshold and validity period."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.core.mail import send_mail
from django.db import connection, transaction
from django.utils import timezone

from hierarchy.models import Subscriber
from network.models import QuotaAlert
from tenants.db import schema_current

THRESHOLDS = (80, 100)


def _period_start(subscriber: Subscriber) -> datetime:
    """As radius_lookup (network/radius/tenant_sql.py) counts it: the validity period ending at expiry, or
    (no expiry) consecutive periods counted from the subscriber's creation."""
    package = subscriber.package
    period = timedelta(days=package.validity_days, hours=package.validity_hours)
    if subscriber.expires_at is not None:
        return subscriber.expires_at - period
    anchor = subscriber.created.replace(microsecond=0)  # accounting timestamps have whole seconds
    return anchor + ((timezone.now() - anchor) // period) * period


def quota_used_bytes(*, subscriber: Subscriber, since: datetime) -> int:
    """Octets (up + down) of the subscriber's sessions active since ``since``."""
    names = [subscriber.username] + ([subscriber.mac_address] if subscriber.mac_address else [])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(sum(COALESCE(acctinputoctets, 0) + COALESCE(acctoutputoctets, 0)), 0)"
            " FROM radius.radacct WHERE tenant = %s AND username = ANY(%s)"
            " AND COALESCE(acctupdatetime, acctstarttime) >= %s",
            [schema_current(), names, since],
        )
        return int(cursor.fetchone()[0])


def _email(subscriber: Subscriber, threshold: int) -> None:
    send_mail(
        f"You have used {threshold} % of your data quota",
        f"Hello {subscriber.full_name or subscriber.username}, you have used {threshold} % of the data "
        f"included in your package {subscriber.package.name}.",
        None, [subscriber.email],
    )


def quota_alerts_record() -> list[QuotaAlert]:
    """Record the alerts crossed since the last run; email the customer after commit."""
    created: list[QuotaAlert] = []
    subscribers = Subscriber.objects.filter(package__quota_mb__isnull=False, status="active").select_related("package")
    for subscriber in subscribers:
        quota = int(subscriber.package.quota_mb or 0) * 1024 * 1024
        start = _period_start(subscriber)
        used = quota_used_bytes(subscriber=subscriber, since=start)
        for threshold in THRESHOLDS:
            if quota and used * 100 >= quota * threshold:
                with transaction.atomic():
                    alert, new = QuotaAlert.objects.get_or_create(
                        subscriber=subscriber, threshold=threshold, period_start=start,
                        defaults={"used_bytes": used, "quota_bytes": quota},
                    )
                    if new:
                        created.append(alert)
                        if subscriber.email:
                            transaction.on_commit(functools.partial(_email, subscriber, threshold))
    return created
