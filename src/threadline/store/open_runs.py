"""The runs that have not ended yet: START or RUNNING, with the context they were opened in.

Here, beside the store, rather than among the queries: ``threadline run``'s supervisor asks it
before every command (:mod:`threadline.capture.abandoned`), and importing the query package
would add a tenth of a second to each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import StoreUnavailable
from threadline.store.base import Store
from threadline.store.schema import OPEN_RUN, nodes, runs


@dataclass(frozen=True, slots=True)
class OpenRun:
    run_id: str
    job_namespace: str
    job_name: str
    parent_run_id: str | None
    state: str
    context: dict[str, Any]
    """The run's ``threadline_context`` facet (host, pid, processStart…), empty if none."""


def open_runs(store: Store) -> list[OpenRun]:
    """Every run not ended yet, oldest first (an index of open runs only: cheap at any size)."""

    def query(conn: Connection) -> list[OpenRun]:
        stmt = (
            sa.select(
                runs.c.run_id,
                nodes.c.namespace,
                nodes.c.name,
                runs.c.parent_run_id,
                runs.c.state,
                runs.c.facets,
            )
            .join(nodes, nodes.c.id == runs.c.job_node_id)
            .where(OPEN_RUN)
            .order_by(runs.c.first_seq)
        )
        found = []
        for row in conn.execute(stmt):
            facets = orjson.loads(row.facets or "{}")
            context = facets.get("threadline_context") if isinstance(facets, dict) else None
            found.append(
                OpenRun(
                    run_id=row.run_id,
                    job_namespace=row.namespace,
                    job_name=row.name,
                    parent_run_id=row.parent_run_id,
                    state=row.state,
                    context=context if isinstance(context, dict) else {},
                )
            )
        return found

    try:
        return store.read(query)
    except sa.exc.DBAPIError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreUnavailable(f"cannot read store {store.safe_url}: {reason}") from exc


__all__ = ["OpenRun", "open_runs"]
