"""Sources: where datasets physically live (:func:`sources`, :func:`source`).

A dataset's source is its ``dataSource`` facet (``name`` and ``uri``); a dataset without one
belongs to the source its namespace names (OpenLineage names dataset namespaces after their
source: ``postgres://db:5432``, ``s3://bucket``), as Marquez does.  A source is listed once,
created when its first dataset was first seen and updated when any of them last changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from threadline.errors import NotFound
from threadline.query.catalog.listings import DEFAULT_LIMIT
from threadline.query.catalog.reads import datasets_of, page_of_nodes
from threadline.query.catalog.rows import Dataset, Page, Source
from threadline.query.reading import read

if TYPE_CHECKING:
    from threadline.store.base import Store

_BATCH = 500


def source_of(dataset: Dataset) -> tuple[str, str]:
    """The ``(name, connection URL)`` of the source a dataset lives in (see the module docs)."""
    facet: Any = dataset.facets.get("dataSource")
    namespace = dataset.node.namespace
    if not isinstance(facet, dict):
        return namespace, namespace
    name, uri = facet.get("name"), facet.get("uri")
    name = name if isinstance(name, str) and name else namespace
    return name, uri if isinstance(uri, str) and uri else name


def _all_sources(conn: Connection) -> dict[str, Source]:
    found: dict[str, Source] = {}
    offset = 0
    while True:
        nodes, total = page_of_nodes(conn, "dataset", None, _BATCH, offset)
        for dataset in datasets_of(conn, nodes):
            name, url = source_of(dataset)
            node = dataset.node
            seen = found.get(name)
            if seen is None:
                found[name] = Source(name, url, node.first_seen_us, node.updated_us)
            else:
                found[name] = Source(
                    name,
                    seen.connection_url,
                    min(seen.created_us, node.first_seen_us),
                    max(seen.updated_us, node.updated_us),
                )
        offset += _BATCH
        if offset >= total:
            return found


def sources(store: Store, *, limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page[Source]:
    """Sources by name."""

    def query(conn: Connection) -> Page[Source]:
        found = _all_sources(conn)
        names = sorted(found)
        return Page(len(names), [found[n] for n in names[offset : offset + limit]])

    return read(store, query)


def source(store: Store, name: str) -> Source:
    """The source ``name``; :class:`NotFound` when no dataset lives in it."""

    def query(conn: Connection) -> Source:
        found = _all_sources(conn).get(name)
        if found is None:
            raise NotFound(f"no source {name!r}")
        return found

    return read(store, query)


__all__ = ["source", "source_of", "sources"]
