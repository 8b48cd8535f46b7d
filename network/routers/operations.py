"""Small router jobs: test the connection, read the live view, suspend or reactivate a PPP secret."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from network.models import Nas
from network.routeros import RouterItemNotFound
from network.routers.jobs import JobContext, JobInputError


def test_connection(context: JobContext) -> dict[str, Any]:
    """Version, identity, uptime, and whether the API user may write, phrased for the operator."""
    client = context.client()
    resource = client.resource()
    identity = client.identity().name
    result: dict[str, Any] = {
        "version": resource.version,
        "identity": identity,
        "uptime": resource.uptime,
        "board_name": resource.board_name,
        "api_user": context.nas.api_username,
    }
    try:
        rights = client.user_rights()
    except RouterItemNotFound as exc:
        result.update(group=None, can_write=None, rights_message=exc.message)
    else:
        result.update(group=rights.group, can_write=rights.can_write)
        if rights.can_write:
            result["rights_message"] = f"API user '{rights.user}' (group '{rights.group}') can read and write."
        else:
            result["rights_message"] = (
                f"API user '{rights.user}' is in group '{rights.group}', which has no 'write' policy: "
                "provisioning, import of changes, suspend and migration will be refused. Put the user in "
                "a group with read, write and api policies (e.g. 'full')."
            )
    Nas.objects.filter(pk=context.nas.pk).update(ros_version=resource.version, identity=identity)
    return result


def live_view(context: JobContext) -> dict[str, Any]:
    client = context.client()
    resource = client.resource()
    return {
        "resource": asdict(resource),
        "ppp_sessions": [asdict(session) for session in client.ppp_active()],
        "hotspot_hosts": [asdict(session) for session in client.hotspot_active()],
    }


def _username(context: JobContext) -> str:
    username = context.params.get("username")
    if not isinstance(username, str) or not username:
        raise JobInputError("The job names no subscriber username.")
    return username


def subscriber_suspend(context: JobContext) -> dict[str, Any]:
    """Disable the PPP secret (no new login) and end its session (so the current one stops too)."""
    username = _username(context)
    client = context.client()
    client.disable_secret(username)
    kicked = client.kick_ppp(username)
    return {"username": username, "secret": "disabled", "sessions_ended": kicked}


def subscriber_reactivate(context: JobContext) -> dict[str, Any]:
    username = _username(context)
    client = context.client()
    client.enable_secret(username)
    return {"username": username, "secret": "enabled"}
