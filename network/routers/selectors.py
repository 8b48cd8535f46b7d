"""Reads on routers and router jobs, through the one scope gate (hierarchy.authority.restrict): a login
sees the routers of its scope (its subtree and guardian-granted subtrees) if its role may see routers."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from hierarchy import authority
from hierarchy.authority import Act
from network.models import Nas, RouterJob


def routers_in_scope(*, user: Any) -> QuerySet[Nas]:
    """Routers owned by a node of the login's scope (the ISP's root sees every router)."""
    return authority.restrict(Nas.objects.select_related("owner"), user, Act.ROUTER_VIEW)


def router_jobs_in_scope(*, user: Any) -> QuerySet[RouterJob]:
    return authority.restrict(RouterJob.objects.select_related("nas", "nas__owner", "created_by"), user,
                              Act.ROUTER_VIEW)
