"""Tags: the names datasets, their columns and jobs are tagged with (:func:`tags`,
:func:`tag_names`, :func:`field_tag_names`).

A tag comes from the OpenLineage ``tags`` facet (one entry per tag: ``key``, ``value``, and
``field`` when it tags one column) or from threadline's classification labels (recorded or
inherited).  An entry is named by its key, or ``key:value`` when the value says more than
that the tag applies (a value other than empty or ``true``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.query.catalog.rows import Page
from threadline.query.reading import read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Tag values that only say the tag applies.
_FLAG_VALUES: Final = frozenset({"", "true"})

_n = s.nodes


def tag_entries(facets: dict[str, Any]) -> list[dict[str, Any]]:
    """The well-formed entries of a ``tags`` facet (each with a string ``key``)."""
    facet = facets.get("tags")
    entries = facet.get("tags") if isinstance(facet, dict) else None
    return [
        e
        for e in entries or []
        if isinstance(e, dict) and isinstance(e.get("key"), str) and e["key"]
    ]


def entry_name(entry: dict[str, Any]) -> str:
    """How a ``tags`` facet entry is named (see the module docs)."""
    value = entry.get("value")
    if isinstance(value, str) and value.lower() not in _FLAG_VALUES:
        return f"{entry['key']}:{value}"
    return str(entry["key"])


def tag_names(facets: dict[str, Any]) -> list[str]:
    """The tags of a dataset or job as a whole, sorted: ``tags`` facet entries that name no
    field, and classification labels."""
    names = {entry_name(e) for e in tag_entries(facets) if not e.get("field")}
    labels = facets.get("threadline_classification")
    if isinstance(labels, dict):
        for key in ("labels", "inherited"):
            names.update(x for x in labels.get(key, []) or [] if isinstance(x, str) and x)
    return sorted(names)


def field_tag_names(facets: dict[str, Any]) -> dict[str, list[str]]:
    """Column name → its tags, sorted."""
    out: dict[str, set[str]] = {}
    for entry in tag_entries(facets):
        field = entry.get("field")
        if isinstance(field, str) and field:
            out.setdefault(field, set()).add(entry_name(entry))
    return {field: sorted(names) for field, names in out.items()}


def _names_tag(entry: dict[str, Any], tag: str, field: str | None) -> bool:
    return (entry.get("field") or None) == field and tag in (entry["key"], entry_name(entry))


def retagged(
    entries: list[dict[str, Any]], tag: str, field: str | None = None, *, add: bool
) -> list[dict[str, Any]] | None:
    """The ``tags`` facet entries after adding (or removing) ``tag`` on the dataset, or on its
    column ``field``; ``None`` when that changes nothing.  An added tag is the entry
    ``{"key": tag, "value": "true", "source": "USER"}`` (``field`` too, for a column); a tag is
    matched by its key or its name (``key:value``)."""
    present = any(_names_tag(e, tag, field) for e in entries)
    if add and not present:
        entry: dict[str, Any] = {"key": tag, "value": "true", "source": "USER"}
        return [*entries, {**entry, "field": field} if field else entry]
    if not add and present:
        return [e for e in entries if not _names_tag(e, tag, field)]
    return None


class TagName(str):
    """A tag's name."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": str(self)}


def tags(store: Store, *, limit: int = 100, offset: int = 0) -> Page[TagName]:
    """Every tag some dataset, column or job is tagged with, by name."""

    def query(conn: Connection) -> Page[TagName]:
        mentions = sa.or_(
            _n.c.facets.like('%"tags"%'), _n.c.facets.like('%"threadline_classification"%')
        )
        found: set[str] = set()
        for (text,) in conn.execute(sa.select(_n.c.facets).where(mentions)):
            facets = orjson.loads(text)
            if isinstance(facets, dict):
                found.update(tag_names(facets))
                found.update(n for names in field_tag_names(facets).values() for n in names)
        names = sorted(found)
        return Page(len(names), [TagName(n) for n in names[offset : offset + limit]])

    return read(store, query)


__all__ = [
    "TagName",
    "entry_name",
    "field_tag_names",
    "retagged",
    "tag_entries",
    "tag_names",
    "tags",
]
