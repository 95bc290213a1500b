"""Detail of one vertex, and the recent log of runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.graph import _iso, describe
from threadline.query.resolve import resolve, to_micros
from threadline.store import schema as s
from threadline.store.sql import SqlStore


def show(store: SqlStore, ref: str, *, as_of: dt.datetime | str | None = None) -> dict[str, Any]:
    """Everything known about one version: facets, runs, neighbours."""
    as_of_us = to_micros(as_of)

    def query(conn: Connection) -> dict[str, Any]:
        vertex = resolve(conn, ref, as_of_us=as_of_us)
        entry = describe(conn, [vertex.id])[vertex.id]
        v = s.versions
        row = conn.execute(sa.select(v.c.facets).where(v.c.id == vertex.id)).scalar_one()
        entry["facets"] = orjson.loads(row)
        e = s.edges
        entry["upstream"] = int(
            conn.execute(sa.select(sa.func.count()).where(e.c.dst == vertex.id)).scalar_one()
        )
        entry["downstream"] = int(
            conn.execute(sa.select(sa.func.count()).where(e.c.src == vertex.id)).scalar_one()
        )
        others = conn.execute(
            sa.select(v.c.version, v.c.first_seen_us)
            .where(
                v.c.node_id == sa.select(v.c.node_id).where(v.c.id == vertex.id).scalar_subquery()
            )
            .order_by(v.c.first_seen_us.desc())
            .limit(20)
        ).all()
        entry["versions"] = [
            {"version": r.version, "first_seen": _iso(r.first_seen_us)} for r in others
        ]
        return entry

    result: dict[str, Any] = store.read(query)
    return result


def log(store: SqlStore, *, limit: int = 20, job: str | None = None) -> list[dict[str, Any]]:
    """The most recent runs, newest first."""

    def query(conn: Connection) -> list[dict[str, Any]]:
        r, n, v = s.runs, s.nodes, s.versions
        stmt = (
            sa.select(r, n.c.namespace, n.c.name, v.c.version.label("execution"))
            .join(n, n.c.id == r.c.job_node_id)
            .outerjoin(v, v.c.id == r.c.execution_id)
            .order_by(r.c.last_seq.desc())
            .limit(limit)
        )
        if job:
            stmt = stmt.where(n.c.name == job)
        out = []
        for row in conn.execute(stmt):
            facets = orjson.loads(row.facets)
            context = facets.get("threadline_context", {})
            out.append(
                {
                    "run_id": row.run_id,
                    "job": f"{row.namespace}/{row.name}",
                    "state": row.state,
                    "started": _iso(row.started_us),
                    "ended": _iso(row.ended_us),
                    "execution": row.execution,
                    "user": context.get("user"),
                    "host": context.get("host"),
                    "commit": context.get("git", {}).get("commit"),
                    "reason": facets.get("threadline_reason", {}).get("reason"),
                }
            )
        return out

    result: list[dict[str, Any]] = store.read(query)
    return result
