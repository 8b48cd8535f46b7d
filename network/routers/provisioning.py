"""Zero-touch provisioning: one idempotent list of `ensure` steps that configures a MikroTik for us.

Every step names its item by a stable key (a `comment` we own, a name, or a singleton menu), so a second
run finds what the first one made and changes nothing. A dry run reads the router and lists the exact
API sentences a real run would send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from network.models import Nas
from network.routeros import RouterError, RouterUnreachable
from network.routeros.records import text
from network.routers.connect import RecordingRouterClient
from network.routers.jobs import JobContext, StepFailed
from tenants.db import schema_current
from tenants.models import Tenant

PORTAL_LIST = "backhaul-portal"
# Kicks an older session of the same user when a new one comes up (a CPE that reconnected before the
# old session timed out), so one account never holds two sessions and two addresses.
DUPLICATE_SESSION_SCRIPT = (
    ':local u $user; :local c $"caller-id"; '
    ":foreach s in=[/ppp active find where name=$u] do={ "
    ':if ([/ppp active get $s caller-id] != $c) do={ /ppp active remove $s } }'
)


@dataclass(frozen=True)
class Step:
    name: str
    path: str
    match: dict[str, str]
    values: dict[str, str]
    each: bool = False  # apply `values` to every existing item of `path` (matched by name)


def provisioning_plan(*, nas: Nas, tenant: Tenant) -> list[Step]:
    portal = f"{tenant.slug}.{settings.PLATFORM_DOMAIN}"
    pool = tenant.suspended_pool
    ranges = settings.ROUTER_SUSPENDED_RANGES
    mark = "backhaul"
    suspended = {"chain": "forward", "src-address-list": pool}
    return [
        Step("RADIUS client for PPP and hotspot", "/radius", {"comment": mark}, {
            "service": "ppp,hotspot", "address": settings.RADIUS_SERVER_ADDRESS, "secret": nas.secret,
            "authentication-port": str(settings.RADIUS_AUTH_PORT),
            "accounting-port": str(settings.RADIUS_ACCT_PORT),
        }),
        Step("PPP uses RADIUS with accounting", "/ppp/aaa", {}, {
            "use-radius": "yes", "accounting": "yes", "interim-update": "5m",
        }),
        Step("Accept RADIUS Disconnect/CoA", "/radius/incoming", {}, {"accept": "yes", "port": "3799"}),
        Step("Hotspot profiles use RADIUS with MAC authentication", "/ip/hotspot/profile", {}, {
            "use-radius": "yes", "login-by": "mac,cookie,http-chap", "mac-auth-mode": "mac-as-username",
        }, each=True),
        Step("Walled garden: customer portal", "/ip/hotspot/walled-garden", {"dst-host": portal}, {
            "action": "allow", "comment": f"{mark}: portal",
        }),
        Step("Address pool for suspended customers", "/ip/pool", {"name": pool}, {
            "ranges": ranges, "comment": f"{mark}: suspended",
        }),
        Step("Address list of suspended customers", "/ip/firewall/address-list", {"list": pool, "address": ranges},
             {"comment": f"{mark}: suspended"}),
        Step("Address list of the portal", "/ip/firewall/address-list", {"list": PORTAL_LIST, "address": portal},
             {"comment": f"{mark}: portal"}),
        Step("Suspended customers may resolve names", "/ip/firewall/filter", {"comment": f"{mark}: suspended dns"},
             {**suspended, "protocol": "udp", "dst-port": "53", "action": "accept"}),
        Step("Suspended customers may reach the portal", "/ip/firewall/filter",
             {"comment": f"{mark}: suspended portal"},
             {**suspended, "dst-address-list": PORTAL_LIST, "action": "accept"}),
        Step("Suspended customers: drop everything else", "/ip/firewall/filter",
             {"comment": f"{mark}: suspended drop"}, {**suspended, "action": "drop"}),
        Step("PPP profile ends duplicate sessions", "/ppp/profile", {"name": "default"},
             {"on-up": DUPLICATE_SESSION_SCRIPT}),
        Step("System identity", "/system/identity", {}, {"name": nas.name}),
    ]


def _masked(changes: dict[str, tuple[str | None, str]]) -> dict[str, list[str | None]]:
    return {key: ["***", "***"] if key == "secret" else [old, new] for key, (old, new) in changes.items()}


def _apply(client: RecordingRouterClient, step: Step) -> list[dict[str, Any]]:
    if not step.each:
        outcome = client.ensure(step.path, step.match, step.values)
        return [{"item": outcome.item_id, "action": outcome.action, "changes": _masked(outcome.changes)}]
    names = [text(row, "name") for row in client.print(step.path, proplist=("name",))]
    outcomes = []
    for name in names:
        outcome = client.ensure(step.path, {"name": name}, step.values)
        outcomes.append({"item": name, "action": outcome.action, "changes": _masked(outcome.changes)})
    return outcomes


def provision(context: JobContext) -> dict[str, Any]:
    dry_run = bool(context.params.get("dry_run"))
    tenant = Tenant.objects.get(schema_name=schema_current())
    plan = provisioning_plan(nas=context.nas, tenant=tenant)
    client = context.client(dry_run=dry_run)
    steps: list[dict[str, Any]] = []
    for number, step in enumerate(plan, start=1):
        context.progress(int(100 * (number - 1) / len(plan)), f"Step {number}/{len(plan)}: {step.name}")
        before = len(client.writes)
        try:
            outcomes = _apply(client, step)
        except RouterUnreachable:
            raise  # every step converges, so the whole job is simply retried later
        except RouterError as exc:
            raise StepFailed(f"{number}. {step.name}", exc.message) from exc
        steps.append({"step": number, "name": step.name, "path": step.path, "outcomes": outcomes,
                      "commands": client.writes[before:]})
    if not dry_run:
        Nas.objects.filter(pk=context.nas.pk).update(provisioned_at=timezone.now())
    return {"dry_run": dry_run, "commands": client.writes, "steps": steps,
            "changed": sum(1 for s in steps for o in s["outcomes"] if o["action"] != "unchanged")}
