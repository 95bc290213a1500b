"""Marquez's search: ``GET /api/v1/search?q=…`` → ``{"totalCount": n, "results": [SearchResult]}``.

``q`` matches any part of a dataset's or job's name, case-insensitively (``%`` any run of
characters, ``_`` one character); ``filter`` keeps datasets or jobs (``all``, what Marquez's
web UI calls no filter, keeps both); ``sort`` orders by
``name`` or ``updated_at`` (newest first); ``namespace`` keeps one namespace; ``before`` and
``after`` (``YYYY-MM-DD``, UTC days) keep what was last updated before the first day, or on
or after the second.  ``limit`` defaults to 10, like Marquez.  The query is
:func:`threadline.query.catalog.search`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request

from threadline.errors import UsageError
from threadline.query import catalog
from threadline.server.marquez_json import search_hit_json
from threadline.server.marquez_params import Limit, store_of

router = APIRouter(tags=["Marquez"])

#: ``sort`` values Marquez clients send, and what they mean.
_SORTS: Final[dict[str, catalog.SearchSort]] = {
    "name": "name",
    "updated_at": "updated_at",
    "update_at": "updated_at",  # Marquez's own enum name (SearchSort.UPDATE_AT)
}


# Marquez's web UI asks for /api/v1/search/ (trailing slash): answered in place, not redirected.
@router.get("/api/v1/search/", include_in_schema=False)
@router.get("/api/v1/search", summary="Find datasets and jobs by name")
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, description="Part of a name; % and _ are wildcards")],
    filter_: Annotated[
        str | None, Query(alias="filter", description="dataset, job or all (any case)")
    ] = None,
    sort: Annotated[str, Query(description="name or updated_at (any case)")] = "name",
    limit: Limit = 10,
    namespace: Annotated[str | None, Query(description="Only this namespace")] = None,
    before: Annotated[str | None, Query(description="Updated before this day (YYYY-MM-DD)")] = None,
    after: Annotated[
        str | None, Query(description="Updated on or after this day (YYYY-MM-DD)")
    ] = None,
) -> dict[str, Any]:
    order = _SORTS.get(sort.lower())
    if order is None:
        raise UsageError(f"sort {sort!r} is not one of: name, updated_at")
    page = catalog.search(
        store_of(request),
        q,
        type_=filter_.lower() if filter_ and filter_.lower() != "all" else None,
        namespace=namespace,
        sort=order,
        updated_before_us=catalog.day_start_us(before, "before") if before else None,
        updated_from_us=catalog.day_start_us(after, "after") if after else None,
        limit=limit,
    )
    return {"totalCount": page.total, "results": [search_hit_json(h) for h in page.items]}


__all__ = ["router"]
