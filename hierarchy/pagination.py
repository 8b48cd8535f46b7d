"""Customer-list pagination that stays fast on large ISPs: counting 100,000 matching rows exactly on
every page costs more than the page itself, so the count is exact up to EXACT_COUNT_LIMIT and the
planner's estimate beyond (flagged with ``count_is_estimate``)."""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Window
from django.utils.functional import cached_property
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from api.pagination import StandardPagination

EXACT_COUNT_LIMIT = 10_000


class CappedCountPaginator(Paginator):
    is_estimate = False

    @cached_property
    def count(self) -> int:
        queryset: Any = self.object_list
        queryset = queryset.order_by()
        exact = queryset[: EXACT_COUNT_LIMIT + 1].count()
        if exact <= EXACT_COUNT_LIMIT:
            return int(exact)
        plan = json.loads(queryset.explain(format="json"))
        self.is_estimate = True
        return max(exact, int(plan[0]["Plan"]["Plan Rows"]))


class CustomerPagination(StandardPagination):
    django_paginator_class = CappedCountPaginator

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        """With a search term PostgreSQL has to read every match to sort them anyway, so the total rides
        along on the page query (``count(*) OVER ()``) instead of a second scan of the matches."""
        if not str(request.query_params.get("search", "")).strip():
            return super().paginate_queryset(queryset, request, view)
        page_size = self.get_page_size(request) or self.page_size
        try:
            number = int(request.query_params.get(self.page_query_param, 1))
        except ValueError as exc:
            raise NotFound("Invalid page.") from exc
        if number < 1:
            raise NotFound("Invalid page.")
        offset = (number - 1) * page_size
        rows = list(queryset.annotate(_total=Window(Count("pk")))[offset: offset + page_size])
        if rows:
            total = int(rows[0]._total)
        elif number == 1:
            total = 0
        else:
            raise NotFound("Invalid page.")
        paginator = Paginator(queryset, page_size)
        paginator.__dict__["count"] = total  # the cached_property, already known
        self.request = request
        self.page = Page(rows, number, paginator)
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        response = super().get_paginated_response(data)
        paginator = self.page.paginator if self.page is not None else None
        response.data["count_is_estimate"] = bool(getattr(paginator, "is_estimate", False))
        return response

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        result = super().get_paginated_response_schema(schema)
        result["properties"]["count_is_estimate"] = {
            "type": "boolean", "description": f"True when more than {EXACT_COUNT_LIMIT} rows match: the count "
                                              "is then PostgreSQL's estimate."}
        return result
