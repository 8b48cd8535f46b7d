"""Writes on logins."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User


def user_welcome_schedule(*, schema_name: str, user: User) -> None:
    """Queue the welcome email once the surrounding transaction commits."""
    from accounts.tasks import user_welcome_send

    user_id = user.pk
    transaction.on_commit(lambda: user_welcome_send.delay(schema_name, user_id))
