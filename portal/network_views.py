"""Panel pages for network data: who is online (with Disconnect), one customer's sessions, daily
usage chart and quota alerts. Server-rendered; scoped by the role tree through network.selectors,
exactly as the API (outside your subtree: 404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from hierarchy import authority
from hierarchy.models import Subscriber
from network import selectors, services
from network.models import Nas

USAGE_DAYS = 30


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _may_disconnect(user: User) -> bool:
    """Dropping a customer's session is a change to that customer."""
    return authority.allowed(user, authority.Act.SESSION_DISCONNECT)


def _with_nas_names(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = dict(Nas.objects.filter(address__in={r["nas_address"] for r in rows}).values_list("address", "name"))
    now = timezone.now()
    for row in rows:
        row["nas_name"] = names.get(row["nas_address"], row["nas_address"])
        end = row["stopped"] or now
        row["duration"] = timedelta(seconds=int((end - row["started"]).total_seconds())) if row["started"] else None
    return rows


@login_required
def online(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    rows = _with_nas_names(selectors.sessions_in_scope(user=user, online=True))
    return render(request, "portal/network/online.html", {"sessions": rows, "may_disconnect": _may_disconnect(user)})


@login_required
@require_POST
def session_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    found = selectors.sessions_in_scope(user=user, online=True, session_pk=pk, limit=1)
    if not found:
        raise Http404("No such live session in your part of the tree.")
    if not _may_disconnect(user):
        messages.error(request, "Your role cannot disconnect customers.")
        return HttpResponseRedirect(reverse("network_panel:online"), status=303)
    session = found[0]
    subscriber = get_object_or_404(selectors.subscribers_in_scope(user=user), pk=session["subscriber_id"])
    with transaction.atomic():
        services.session_disconnect(
            subscriber=subscriber,
            username=session["username"],
            nas_address=session["nas_address"],
            acct_session_id=session["session_id"],
        )
    messages.success(request, f"Disconnect sent for {session['username']} on {session['nas_address']}.")
    return HttpResponseRedirect(reverse("network_panel:online"), status=303)


@login_required
def customer(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    subscriber: Subscriber = get_object_or_404(
        selectors.subscribers_in_scope(user=user).select_related("package", "owner"), pk=pk
    )
    today = timezone.now().date()
    since = today - timedelta(days=USAGE_DAYS - 1)
    by_day = {row["day"]: row for row in selectors.usage_daily(subscriber=subscriber, since=since, until=today)}
    days = [since + timedelta(days=n) for n in range(USAGE_DAYS)]
    chart = {
        "labels": [d.isoformat() for d in days],
        "upload": [int(by_day[d]["upload_bytes"]) if d in by_day else 0 for d in days],
        "download": [int(by_day[d]["download_bytes"]) if d in by_day else 0 for d in days],
    }
    return render(
        request,
        "portal/network/customer.html",
        {
            "subscriber": subscriber,
            "sessions": _with_nas_names(selectors.sessions_in_scope(user=user, subscriber=subscriber, limit=100)),
            "usage_days": [by_day[d] for d in days if d in by_day],
            "chart": chart,
            "usage_days_count": USAGE_DAYS,
            "alerts": selectors.quota_alerts_in_scope(user=user, subscriber=subscriber)[:20],
            "may_disconnect": _may_disconnect(user),
        },
    )


@login_required
def quota_alerts(request: HttpRequest) -> HttpResponse:
    alerts = selectors.quota_alerts_in_scope(user=_user(request))[:200]
    return render(request, "portal/network/quota_alerts.html", {"alerts": alerts})
