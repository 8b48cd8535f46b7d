from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from accounts.models import User
from tenants.db import schema_current
from tenants.models import Tenant
from tenants.tasks import tenant_task


@tenant_task(autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def user_welcome_send(user_id: int) -> str:
    """Email a new login its address; records when, so a retry never sends twice."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return "no-such-user"
    if user.welcomed_at is not None:
        return "already-sent"
    tenant = Tenant.objects.get(schema_name=schema_current())
    host = f"{tenant.slug}.{settings.PLATFORM_DOMAIN}"
    send_mail(
        subject=f"Welcome to {tenant.name} on Backhaul",
        message=f"Your login for {tenant.name} is {user.email}. Sign in at https://{host}/login/",
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    User.objects.filter(pk=user.pk).update(welcomed_at=timezone.now())
    return schema_current()
