"""Marquez's event log by time: ``GET /api/v1/events/lineage`` →
``{"events": [event], "totalCount": n}``.

Events whose ``eventTime`` is at or after ``after`` and before ``before`` (ISO 8601 times; a
time without a zone is UTC; both optional), ordered by event time, newest first unless
``sortDirection=asc``, paged with ``limit`` (default 100) and ``offset``.  ``totalCount`` is
how many the window holds.  Each event is the body exactly as stored (the same bytes
``GET /api/v1/events`` gives, which pages in log order instead).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from threadline.errors import UsageError
from threadline.model.times import parse_moment
from threadline.query import catalog
from threadline.server.marquez_params import Limit, Offset, store_of

router = APIRouter(tags=["Marquez"])


@router.get("/api/v1/events/lineage", summary="Stored events in an event-time window")
def list_lineage_events(
    request: Request,
    sort_direction: Annotated[
        str, Query(alias="sortDirection", description="desc (newest first) or asc")
    ] = "desc",
    before: Annotated[str | None, Query(description="Events before this time")] = None,
    after: Annotated[str | None, Query(description="Events at or after this time")] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    direction = sort_direction.lower()
    if direction not in ("asc", "desc"):
        raise UsageError(f"sortDirection {sort_direction!r} is not asc or desc")
    page = catalog.events_by_time(
        store_of(request),
        before_us=parse_moment(before, "before") if before else None,
        after_us=parse_moment(after, "after") if after else None,
        newest_first=direction == "desc",
        limit=limit,
        offset=offset,
    )
    # The stored bodies go out as they are: no parse and re-serialise per event.
    body = b'{"events":[' + b",".join(page.items) + b'],"totalCount":' + str(page.total).encode()
    return Response(body + b"}", media_type="application/json")


__all__ = ["router"]
