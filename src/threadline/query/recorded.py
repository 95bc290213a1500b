"""What earlier runs recorded, as capture asks it while it records a new one.

Three questions, each answered from the derived graph tables of one store:

* :func:`produced`: did any recorded run output a version of this dataset (stage inference:
  data read from a file another run wrote is not raw);
* :func:`labels`: the labels (own and inherited) recorded for a dataset, so that ``pii`` given
  to a file in one script reaches what a later script derives from it;
* :func:`serving`: the deployments serving a model version at a moment, so that predictions of
  a loaded model link to the deployment that serves it.

Capture asks them through :class:`threadline.capture.recorded.Recorded`, in process, over the
``threadline run`` supervisor's socket, or over HTTP (the server's
``POST /api/v1/threadline/produced`` calls :func:`produced`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.model.ids import NodeId
from threadline.model.serving import Serving
from threadline.model.times import parse_instant_or_none
from threadline.query.reading import outputs_of_readers
from threadline.store import schema as s
from threadline.store.base import Store


def produced(store: Store, keys: Sequence[tuple[str, str]]) -> list[bool]:
    """For each ``(namespace, name)``: did any recorded run output a version of it?"""

    def query(conn: Connection) -> list[bool]:
        out = []
        for namespace, name in keys:
            stmt = (
                sa.select(s.edges.c.dst)
                .select_from(
                    s.nodes.join(s.versions, s.versions.c.node_id == s.nodes.c.id).join(
                        s.edges, s.edges.c.dst == s.versions.c.id
                    )
                )
                .where(
                    s.nodes.c.type == "dataset",
                    s.nodes.c.namespace == namespace,
                    s.nodes.c.name == name,
                    s.edges.c.relation == "output",
                )
                .limit(1)
            )
            out.append(conn.execute(stmt).first() is not None)
        return out

    return store.read(query)


def labels(store: Store, node: NodeId) -> frozenset[str]:
    """Labels (own and inherited) recorded for the dataset ``node`` names (any version)."""
    key = (node.namespace, node.name)
    return _classification(store.read(lambda conn: _node_facets(conn, key)))


def serving(store: Store, model: NodeId, at: datetime) -> list[Serving]:
    """Deployments written by runs that read the model version ``model``, serving at ``at``."""
    if model.version is None:
        return []
    return store.read(lambda conn: _serving(conn, model, at))


def _node_facets(conn: Connection, key: tuple[str, str]) -> Any:
    n = s.nodes
    return conn.execute(
        sa.select(n.c.facets).where(
            n.c.type == "dataset", n.c.namespace == key[0], n.c.name == key[1]
        )
    ).scalar_one_or_none()


def _classification(facets: Any) -> frozenset[str]:
    if not facets:
        return frozenset()
    body = orjson.loads(facets).get("threadline_classification") or {}
    return frozenset(str(x) for x in [*body.get("labels", []), *body.get("inherited", [])])


def _serving(conn: Connection, model: NodeId, at: datetime) -> list[Serving]:
    """Deployments written by runs that read ``model`` and still serving at ``at``.

    A deployment's window opens at its ``validFrom``; it closes at its ``validTo`` or when a
    later version of the same deployment (another model at the same endpoint) opens.
    """
    n, v = s.nodes, s.versions
    model_version = (
        sa.select(v.c.id)
        .join(n, n.c.id == v.c.node_id)
        .where(
            n.c.type == "dataset",
            n.c.namespace == model.namespace,
            n.c.name == model.name,
            v.c.version == model.version,
        )
        .scalar_subquery()
    )
    deployed = outputs_of_readers(model_version, "deployment")
    ours = {(row.node_id, row.version) for row in conn.execute(deployed)}
    found: list[Serving] = []
    for node_id in sorted({node_id for node_id, _ in ours}):
        node = conn.execute(sa.select(n.c.namespace, n.c.name).where(n.c.id == node_id)).one()
        current: tuple[datetime, str, str] | None = None
        for row in conn.execute(sa.select(v.c.version, v.c.facets).where(v.c.node_id == node_id)):
            window = orjson.loads(row.facets).get("threadline_deployment") or {}
            start, end = (
                parse_instant_or_none(window.get("validFrom")),
                parse_instant_or_none(window.get("validTo")),
            )
            if start is None or start > at or (end is not None and end <= at):
                continue
            if current is None or start > current[0]:
                current = (start, row.version, window["validFrom"])
        if current is not None and (node_id, current[1]) in ours:
            found.append(
                Serving(NodeId("deployment", node.namespace, node.name, current[1]), current[2])
            )
    return found


__all__ = ["Serving", "labels", "produced", "serving"]
