"""The table of which function carries out which kind of router job: filled here, from the modules that
define the handlers, and read by the runner (which none of them imports)."""

from __future__ import annotations

from network.routers.importing import import_from_router
from network.routers.jobs import Handler
from network.routers.migration import migrate_to_radius
from network.routers.models import JobKind
from network.routers.operations import live_view, subscriber_reactivate, subscriber_suspend, test_connection
from network.routers.provisioning import provision

HANDLERS: dict[str, Handler] = {
    JobKind.TEST_CONNECTION: test_connection,
    JobKind.PROVISION: provision,
    JobKind.IMPORT: import_from_router,
    JobKind.MIGRATE_TO_RADIUS: migrate_to_radius,
    JobKind.LIVE_VIEW: live_view,
    JobKind.SUBSCRIBER_SUSPEND: subscriber_suspend,
    JobKind.SUBSCRIBER_REACTIVATE: subscriber_reactivate,
}
