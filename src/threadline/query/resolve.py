"""Turn what a user typed (a path or a printable id) into a vertex of the graph."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.model.events import parse_time
from threadline.model.ids import NODE_KINDS, NodeId, file_dataset
from threadline.store import schema as s


@dataclass(frozen=True, slots=True)
class Vertex:
    id: int
    kind: str
    namespace: str
    name: str
    version: str

    @property
    def node_id(self) -> NodeId:
        return NodeId(self.kind, self.namespace, self.name, self.version)


def to_micros(moment: dt.datetime | str | None) -> int | None:
    """``--as-of`` as microseconds since the epoch (naive times are UTC)."""
    if moment is None:
        return None
    if isinstance(moment, str):
        try:
            moment = parse_time(moment)
        except Exception as exc:
            raise UsageError(
                f"--as-of {moment!r} is not an ISO 8601 time (e.g. 2026-11-25T10:00Z)"
            ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def looks_like_id(text: str) -> bool:
    kind, sep, rest = text.partition(":")
    return bool(sep) and kind in NODE_KINDS and "/" in rest


def _node_row(conn: Connection, node: NodeId) -> Any:
    n = s.nodes
    node_type = "job" if node.kind == "job" else "dataset"
    return conn.execute(
        sa.select(n.c.id, n.c.kind).where(
            n.c.type == node_type, n.c.namespace == node.namespace, n.c.name == node.name
        )
    ).first()


def _version_row(conn: Connection, node_pk: int, version: str | None, as_of_us: int | None) -> Any:
    v = s.versions
    stmt = sa.select(v.c.id, v.c.version, v.c.first_seen_us).where(v.c.node_id == node_pk)
    if version is not None:
        return conn.execute(stmt.where(v.c.version == version)).first()
    if as_of_us is not None:
        stmt = stmt.where(v.c.first_seen_us <= as_of_us)
    return conn.execute(stmt.order_by(v.c.first_seen_us.desc(), v.c.id.desc()).limit(1)).first()


def resolve(conn: Connection, ref: str, *, as_of_us: int | None = None) -> Vertex:
    """A printable id (newest version if none given) or a path (its current content)."""
    if not ref:
        raise UsageError("an id or a path is required")
    if looks_like_id(ref):
        node = NodeId.parse(ref)
        found = _node_row(conn, node)
        if found is None:
            raise NotFound(f"{node.unversioned} is not in the store")
        row = _version_row(conn, found.id, node.version, as_of_us)
        if row is None:
            what = f"version {node.version}" if node.version else "any version"
            raise NotFound(f"{node.unversioned} has no {what} recorded")
        return Vertex(row.id, found.kind, node.namespace, node.name, row.version)
    return _resolve_path(conn, Path(ref), as_of_us)


def _resolve_path(conn: Connection, path: Path, as_of_us: int | None) -> Vertex:
    from threadline.model.fingerprint import fingerprint_path

    node = file_dataset(path)
    found = _node_row(conn, node)
    if not os.path.lexists(path):
        if found is None:
            raise NotFound(f"{path}: no such file, and no dataset recorded at that path")
        row = _version_row(conn, found.id, None, as_of_us)
        if row is None:
            raise NotFound(f"{path}: no such file, and no version of it recorded")
        return Vertex(row.id, found.kind, node.namespace, node.name, row.version)
    if found is None:
        raise NotFound(f"{path} was never recorded by threadline (its dataset id would be {node})")
    if as_of_us is not None:
        row = _version_row(conn, found.id, None, as_of_us)
        if row is None:
            raise NotFound(f"{path} had no recorded version at that time")
        return Vertex(row.id, found.kind, node.namespace, node.name, row.version)
    version = fingerprint_path(path)
    row = _version_row(conn, found.id, version, None)
    if row is None:
        newest = _version_row(conn, found.id, None, None)
        hint = f"; the newest recorded version is {newest.version}" if newest else ""
        raise NotFound(f"the current content of {path} ({version[:15]}…) was never recorded{hint}")
    return Vertex(row.id, found.kind, node.namespace, node.name, row.version)
