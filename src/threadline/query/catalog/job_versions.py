"""A job's versions: its executions, newest first (:func:`job_versions`, :func:`job_version`).

An execution is a version of the job node (see :mod:`threadline.store.schema`): the same code
run on the same inputs with the same parameters is one execution however often it ran.  Each
comes with what it read and wrote and its latest run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.catalog.listings import DEFAULT_LIMIT
from threadline.query.catalog.reads import (
    NEWEST_FIRST,
    RUN_COLUMNS,
    page_of_versions,
    require_node,
    require_version,
    runs_of,
    version_ends,
)
from threadline.query.catalog.rows import JobVersion, NodeRow, Page, VersionRow
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_v, _r = s.versions, s.runs


def _with_ends(conn: Connection, node: NodeRow, versions: list[VersionRow]) -> list[JobVersion]:
    ids = [v.id for v in versions]
    inputs = version_ends(conn, ids, inputs=True)
    outputs = version_ends(conn, ids, inputs=False)
    latest: dict[int, Any] = {}
    if ids:
        rank = (
            sa.func.row_number()
            .over(partition_by=_r.c.execution_id, order_by=NEWEST_FIRST)
            .label("rank")
        )
        inner = sa.select(*RUN_COLUMNS, rank).where(_r.c.execution_id.in_(ids)).subquery()
        stmt = sa.select(*(inner.c[c.name] for c in RUN_COLUMNS)).where(inner.c.rank == 1)
        rows = conn.execute(stmt).all()
        runs = runs_of(conn, rows)
        latest = {int(row.execution_id): run for row, run in zip(rows, runs, strict=True)}
    return [
        JobVersion(node, v, inputs.get(v.id, []), outputs.get(v.id, []), latest.get(v.id))
        for v in versions
    ]


def job_versions(
    store: Store, namespace: str, job: str, *, limit: int = DEFAULT_LIMIT, offset: int = 0
) -> Page[JobVersion]:
    """The executions of one job, newest first (first seen, then row id); :class:`NotFound`
    when the job is not recorded."""

    def query(conn: Connection) -> Page[JobVersion]:
        node = require_node(conn, "job", namespace, job)
        versions, total = page_of_versions(conn, node, limit, offset)
        return Page(total, _with_ends(conn, node, versions))

    return read(store, query)


def job_version(store: Store, namespace: str, job: str, version: str) -> JobVersion:
    """One execution of a job by its version token; :class:`NotFound` naming what is missing."""

    def query(conn: Connection) -> JobVersion:
        node = require_node(conn, "job", namespace, job)
        return _with_ends(conn, node, [require_version(conn, node, version)])[0]

    return read(store, query)


__all__ = ["job_version", "job_versions"]
