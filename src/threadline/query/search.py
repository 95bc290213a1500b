"""Find vertices by what they are called and what is recorded about them (:func:`search`).

Filters combine with AND: ``text`` (a case-insensitive part of the name or namespace), ``kind``
(``dataset``, ``features``, ``model``, ``evaluation``, ``deployment``, ``predictions``, ``job``),
``namespace`` (exact), ``owner`` (an owner name exactly as recorded, e.g. ``team:ml``),
``label`` (a classification label, recorded or inherited, e.g. ``pii``), ``stage`` (the stage a
job was recorded in, e.g. ``training``) and ``as_of`` (only what existed then, described as it
stood then).  Each hit is the node's newest version (as of ``as_of``), described exactly as
:func:`threadline.query.trace` describes vertices, newest activity first.

The column filters run in SQL.  Owners, labels and stages live in JSON facets, which SQLite
and PostgreSQL query differently; so SQL narrows to the nodes whose facet text mentions the
value (a ``LIKE`` over the node's facets or any of its versions'), and the exact test runs
on the decoded facets, in chunks, until ``limit`` hits are found.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import UsageError
from threadline.model.ids import NODE_KINDS
from threadline.model.times import parse_moment
from threadline.query.graph import describe
from threadline.query.reading import read
from threadline.query.result import Node
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Hits returned when the caller does not say.
DEFAULT_LIMIT: Final = 50
#: The most hits one question may ask for.
MAX_LIMIT: Final = 10_000
#: Nodes decoded and tested per round trip.
_CHUNK: Final = 512

_n, _v = s.nodes, s.versions


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The vertices that matched, newest activity first."""

    query: dict[str, Any]
    """The filters as applied (those not given are left out)."""
    results: Sequence[Node]
    """One vertex per matching node: its newest version, described as a trace describes it."""
    truncated: bool
    """True when more nodes matched than ``limit``."""

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "results": list(self.results), "truncated": self.truncated}


def search(
    store: Store,
    text: str | None = None,
    *,
    kind: str | None = None,
    namespace: str | None = None,
    owner: str | None = None,
    label: str | None = None,
    stage: str | None = None,
    as_of: Any = None,
    limit: int = DEFAULT_LIMIT,
) -> SearchResult:
    """The nodes matching every filter given (see the module docstring)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT:,}, got {limit}")
    if kind is not None and kind not in NODE_KINDS:
        raise UsageError(f"unknown kind {kind!r}; expected one of {', '.join(NODE_KINDS)}")
    filters = {
        "text": _clean(text, "text"),
        "kind": kind,
        "namespace": _clean(namespace, "namespace"),
        "owner": _clean(owner, "owner"),
        "label": _clean(label, "label"),
        "stage": _clean(stage, "stage"),
    }
    as_of_us = parse_moment(as_of)
    applied = {k: v for k, v in filters.items() if v is not None}
    if as_of is not None:
        applied["as_of"] = str(as_of)

    def ask(conn: Connection) -> SearchResult:
        hits: list[Node] = []
        for chunk in _candidates(conn, filters, as_of_us):
            newest = _newest_versions(conn, [node_id for node_id, _ in chunk], as_of_us)
            described = describe(conn, list(newest.values()), as_of_us=as_of_us)
            for node_id, _ in chunk:
                version_id = newest.get(node_id)
                if version_id is None:
                    continue
                node = described[version_id]
                if _matches(node, filters):
                    if len(hits) == limit:
                        return SearchResult(applied, hits, True)
                    hits.append(node)
        return SearchResult(applied, hits, False)

    return read(store, ask)


def _clean(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise UsageError(f"the {name} filter is empty; leave it out to match everything")
    return text


def _like(value: str) -> str:
    """``%value%`` with LIKE's own wildcards taken literally (escape character ``\\``)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _candidates(
    conn: Connection, filters: dict[str, str | None], as_of_us: int | None
) -> Iterator[list[tuple[int, int]]]:
    """Node ids (with their last activity) passing the SQL filters, newest first, in chunks."""
    where: list[sa.ColumnElement[bool]] = []
    text, kind, namespace = filters["text"], filters["kind"], filters["namespace"]
    if text is not None:
        pattern = _like(text.lower())
        where.append(
            sa.or_(
                sa.func.lower(_n.c.name).like(pattern, escape="\\"),
                sa.func.lower(_n.c.namespace).like(pattern, escape="\\"),
            )
        )
    if kind is not None:
        where.append(_n.c.kind == kind)
    if namespace is not None:
        where.append(_n.c.namespace == namespace)
    if filters["stage"] is not None:
        where.append(_n.c.type == "job")
    if as_of_us is not None:
        where.append(_n.c.first_seen_us <= as_of_us)
    for key in ("owner", "label", "stage"):
        value = filters[key]
        if value is not None:
            # A facet value is a JSON string: its text holds the value between quotes.
            pattern = _like(f'"{value}"')
            in_versions = (
                sa.select(sa.literal(1))
                .where(_v.c.node_id == _n.c.id, _v.c.facets.like(pattern, escape="\\"))
                .exists()
            )
            where.append(sa.or_(_n.c.facets.like(pattern, escape="\\"), in_versions))
    statement = (
        sa.select(_n.c.id, _n.c.updated_us)
        .where(*where)
        .order_by(_n.c.updated_us.desc(), _n.c.id.desc())
    )
    # Keyset pages rather than one open cursor: each page is its own short statement.
    after: tuple[int, int] | None = None
    while True:
        page = statement
        if after is not None:
            updated, node_id = after
            page = page.where(
                sa.or_(
                    _n.c.updated_us < updated,
                    sa.and_(_n.c.updated_us == updated, _n.c.id < node_id),
                )
            )
        rows = [(int(r[0]), int(r[1])) for r in conn.execute(page.limit(_CHUNK))]
        if not rows:
            return
        yield rows
        if len(rows) < _CHUNK:
            return
        after = (rows[-1][1], rows[-1][0])


def _newest_versions(
    conn: Connection, node_ids: Sequence[int], as_of_us: int | None
) -> dict[int, int]:
    """Each node's newest version row id (first seen last; as of ``as_of_us`` when given)."""
    where: list[sa.ColumnElement[bool]] = [_v.c.node_id.in_(node_ids)]
    if as_of_us is not None:
        where.append(_v.c.first_seen_us <= as_of_us)
    rows = conn.execute(
        sa.select(_v.c.node_id, _v.c.id)
        .where(*where)
        .order_by(_v.c.node_id, _v.c.first_seen_us, _v.c.id)
    )
    newest: dict[int, int] = {}
    for node_id, version_id in rows:
        newest[int(node_id)] = int(version_id)  # ordered oldest first: the last one wins
    return newest


def _matches(node: Node, filters: dict[str, str | None]) -> bool:
    owner, label, stage = filters["owner"], filters["label"], filters["stage"]
    if owner is not None and owner not in node.get("owners", ()):
        return False
    if label is not None and label not in node.get("labels", ()):
        return False
    return stage is None or node.get("stage") == stage


__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "SearchResult", "search"]
