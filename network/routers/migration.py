"""Move a router from local PPP secrets to RADIUS, undoing every change if any step fails.

Order: RADIUS answers for this NAS → the router points at our RADIUS → use-radius on → local
secrets disabled → RADIUS still answers → active sessions dropped (they reconnect through RADIUS).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from hierarchy.models import Subscriber, SubscriberStatus
from network.models import Nas
from network.routeros import RouterError, RouterUnreachable
from network.routeros.records import text
from network.routers.connect import RecordingRouterClient
from network.routers.jobs import JobContext, JobInputError, StepFailed
from network.routers.radius_probe import RadiusProbeFailed, radius_probe_configured

CHUNK = 500


def _probe_subscriber(context: JobContext) -> tuple[str, str]:
    wanted = context.params.get("probe_username")
    subscribers = Subscriber.objects.filter(status=SubscriberStatus.ACTIVE).exclude(password="")
    subscriber = (subscribers.filter(username=wanted) if wanted else subscribers.order_by("pk")).first()
    if subscriber is None:
        raise JobInputError(
            f"No active subscriber '{wanted}' with a password to test RADIUS with." if wanted
            else "No active subscriber with a password exists to test RADIUS with; import the router first."
        )
    return subscriber.username, subscriber.password


def _rollback(client: RecordingRouterClient, disabled: list[str], use_radius_before: str | None) -> str:
    undone = []
    try:
        for start in range(0, len(disabled), CHUNK):
            client.enable("/ppp/secret", *disabled[start:start + CHUNK])
        if disabled:
            undone.append(f"re-enabled {len(disabled)} PPP secrets")
        if use_radius_before is not None:
            client.set("/ppp/aaa", {"use-radius": use_radius_before})
            undone.append(f"restored /ppp aaa use-radius={use_radius_before}")
    except RouterError as exc:
        return (f"Rollback incomplete ({exc.message}); {len(disabled)} PPP secrets may still be disabled — "
                "run the migration again or re-enable them on the router.")
    return "Rolled back: " + (", ".join(undone) if undone else "nothing had changed") + "."


def migrate_to_radius(context: JobContext) -> dict[str, Any]:
    nas = context.nas
    if nas.uses_radius:
        raise JobInputError(f"Router {nas.name} already uses RADIUS.")
    probe = radius_probe_configured()
    username, password = _probe_subscriber(context)
    step = "1. RADIUS answers for this router"
    context.progress(5, step)
    try:
        probe(nas=nas, username=username, password=password)
    except RadiusProbeFailed as exc:
        raise StepFailed(step, exc.message) from exc
    client = context.client()
    step = "2. Router sends RADIUS requests to us"
    context.progress(15, step)
    entries = [row for row in client.print("/radius", comment="backhaul")
               if text(row, "address") == settings.RADIUS_SERVER_ADDRESS]
    if not entries:
        raise StepFailed(step, f"the router has no /radius entry for {settings.RADIUS_SERVER_ADDRESS}; "
                               "provision it first")
    aaa = client.print("/ppp/aaa")
    use_radius_before = "yes" if aaa and text(aaa[0], "use-radius") in ("true", "yes") else "no"
    enabled = [secret.id for secret in client.ppp_secrets() if not secret.disabled]
    disabled: list[str] = []
    changed_aaa = False
    result: dict[str, Any] = {"probe_username": username}
    try:
        step = "3. Turn on RADIUS for PPP"
        context.progress(25, step)
        client.set("/ppp/aaa", {"use-radius": "yes", "accounting": "yes"})
        changed_aaa = True
        step = "4. Disable local PPP secrets"
        for start in range(0, len(enabled), CHUNK):
            chunk = enabled[start:start + CHUNK]
            client.disable("/ppp/secret", *chunk)
            disabled.extend(chunk)
            context.progress(25 + int(45 * len(disabled) / max(len(enabled), 1)),
                             f"{step}: {len(disabled)} of {len(enabled)}")
        step = "5. RADIUS still answers"
        context.progress(75, step)
        probe(nas=nas, username=username, password=password)
        step = "6. Drop active sessions so they re-authenticate through RADIUS"
        context.progress(85, step)
        sessions = [row.id for row in client.ppp_active() if not row.radius]
        for session_id in sessions:
            client.remove("/ppp/active", session_id)
    except (RouterError, RadiusProbeFailed) as exc:
        if isinstance(exc, RouterUnreachable) and not changed_aaa:
            raise  # nothing changed yet: retry the whole job later
        undo = _rollback(client, disabled, use_radius_before if changed_aaa else None)
        raise StepFailed(step, f"{exc.message} {undo}") from exc
    Nas.objects.filter(pk=nas.pk).update(uses_radius=True)
    result.update(secrets_disabled=len(disabled), sessions_dropped=len(sessions))
    return result
