"""Turn what a user typed into one vertex of the graph.

A reference is either

* a **printable id**: ``dataset:file://host/data/raw.csv@b3:5f1c…`` names one version;
  without ``@version`` it means the newest version (the newest recorded at or before ``as_of``
  when one is given).  The kind before the colon only has to agree on dataset versus job: a
  model may be named ``dataset:…`` and is printed back with its recorded kind; or
* a **path** to an existing file or directory: its current content is fingerprinted and that
  version of :func:`~threadline.model.ids.file_dataset` is looked up.  Content threadline never
  recorded is an error that names the newest version that was.

Either form may end in ``#row=N`` to name one data row of a dataset (:func:`split_row`; rows
count from 0 and the header line is not a row); :mod:`threadline.query.rows` answers for it.

Anything that resolves to nothing raises :class:`~threadline.errors.NotFound` with one line
saying what was looked for; text that is neither an existing path nor a well-formed id raises
:class:`~threadline.errors.InvalidIdentifier`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import InvalidIdentifier, NotFound, UsageError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import NODE_KINDS, NodeId, file_dataset
from threadline.model.times import iso, parse_moment
from threadline.query.reading import printable, read
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

_ID_LIKE = re.compile(r"^[a-z]+:")
_ROW_FRAGMENT = re.compile(r"row=([0-9]+)")


@dataclass(frozen=True, slots=True)
class Vertex:
    """One row of ``tl_versions``: a data version or an execution."""

    id: int
    """Row id in ``tl_versions`` (stable for the life of the store)."""
    node_pk: int
    """Row id of its node in ``tl_nodes``."""
    kind: str
    namespace: str
    name: str
    version: str
    first_seen_us: int

    @property
    def node_id(self) -> NodeId:
        return NodeId(self.kind, self.namespace, self.name, self.version)

    def __str__(self) -> str:
        return printable(self.kind, self.namespace, self.name, self.version)


def looks_like_id(text: str) -> bool:
    """``KIND:…/…`` with a known kind: the text is meant as a node id, not a path."""
    kind, sep, rest = text.partition(":")
    return bool(sep) and kind in NODE_KINDS and "/" in rest


def split_row(ref: str, row: int | None = None) -> tuple[str, int | None]:
    """``("preds.csv", 17)`` from ``"preds.csv#row=17"``; ``row`` is the same question asked
    as an argument, and the two must agree.

    An existing path is never split, so a file whose name holds ``#row=`` stays reachable.  A
    fragment that starts with ``row`` but is not ``row=N`` is a :class:`UsageError`; any other
    ``#`` is left to :func:`resolve`, as names may contain it.
    """
    text = ref.strip()
    base, sep, fragment = text.rpartition("#")
    if sep and fragment.startswith("row") and not os.path.lexists(text):
        found = _ROW_FRAGMENT.fullmatch(fragment)
        if found is None:
            raise UsageError(
                f"{ref!r}: expected ID#row=N with N a data row counted from 0 "
                f"(the header is not a row), e.g. {base or 'predictions.csv'}#row=17"
            )
        asked = int(found.group(1))
        if row is not None and row != asked:
            raise UsageError(f"{ref!r} names row {asked} but row={row} was also given")
        return base, asked
    if row is not None and row < 0:
        raise UsageError(f"row must be 0 or more (rows count from 0), not {row}")
    return text, row


def resolve(conn: Connection, ref: str, *, as_of_us: int | None = None) -> Vertex:
    """The vertex ``ref`` names (see the module docstring); ``as_of_us`` in epoch microseconds."""
    text = ref.strip()
    if not text:
        raise UsageError("an id or a path is required")
    if os.path.lexists(text):
        return _resolve_path(conn, Path(text), as_of_us)
    if looks_like_id(text):
        return _resolve_id(conn, NodeId.parse(text), as_of_us)
    if _ID_LIKE.match(text):
        try:
            NodeId.parse(text)
        except InvalidIdentifier as exc:
            raise InvalidIdentifier(
                f"{text!r} is neither an existing path nor a node id: {exc.message}"
            ) from None
    return _missing_path(conn, Path(text))


def resolve_ref(store: Store, ref: str, *, as_of: dt.datetime | str | None = None) -> Vertex:
    """:func:`resolve` on its own read connection."""
    as_of_us = parse_moment(as_of)
    return read(store, lambda conn: resolve(conn, ref, as_of_us=as_of_us))


# --- lookups ----------------------------------------------------------------------------------


def _node_type(kind: str) -> str:
    return "job" if kind == "job" else "dataset"


def _node_row(conn: Connection, node: NodeId) -> Any:
    n = s.nodes
    return conn.execute(
        sa.select(n.c.id, n.c.kind).where(
            n.c.type == _node_type(node.kind),
            n.c.namespace == node.namespace,
            n.c.name == node.name,
        )
    ).first()


def _versions(node_pk: int) -> sa.Select[Any]:
    v = s.versions
    return sa.select(v.c.id, v.c.version, v.c.first_seen_us).where(v.c.node_id == node_pk)


def _exact(conn: Connection, node_pk: int, version: str) -> Any:
    return conn.execute(_versions(node_pk).where(s.versions.c.version == version)).first()


def _newest(conn: Connection, node_pk: int, as_of_us: int | None = None) -> Any:
    v = s.versions
    stmt = _versions(node_pk)
    if as_of_us is not None:
        stmt = stmt.where(v.c.first_seen_us <= as_of_us)
    return conn.execute(stmt.order_by(v.c.first_seen_us.desc(), v.c.id.desc()).limit(1)).first()


def _oldest(conn: Connection, node_pk: int) -> Any:
    v = s.versions
    return conn.execute(_versions(node_pk).order_by(v.c.first_seen_us, v.c.id).limit(1)).first()


def _vertex(found: Any, node: NodeId, row: Any) -> Vertex:
    return Vertex(
        id=int(row.id),
        node_pk=int(found.id),
        kind=str(found.kind),
        namespace=node.namespace,
        name=node.name,
        version=str(row.version),
        first_seen_us=int(row.first_seen_us),
    )


def _check_as_of(what: str, row: Any, as_of_us: int | None) -> None:
    if as_of_us is not None and row.first_seen_us > as_of_us:
        raise NotFound(
            f"{what} was first recorded at {iso(row.first_seen_us)}, after --as-of {iso(as_of_us)}"
        )


def _pick(
    conn: Connection, found: Any, node: NodeId, version: str | None, as_of_us: int | None
) -> Vertex:
    shown = printable(found.kind, node.namespace, node.name)
    if version is not None:
        row = _exact(conn, found.id, version)
        if row is None:
            newest = _newest(conn, found.id)
            hint = f"; the newest recorded version is {newest.version}" if newest else ""
            raise NotFound(f"{shown} has no version {version} recorded{hint}")
        _check_as_of(f"{shown}@{version}", row, as_of_us)
        return _vertex(found, node, row)
    row = _newest(conn, found.id, as_of_us)
    if row is None:
        oldest = _oldest(conn, found.id)
        if oldest is None:
            raise NotFound(f"{shown} is known but no version of it was recorded")
        raise NotFound(
            f"{shown} had no version at --as-of {iso(as_of_us)} "
            f"(its first was recorded at {iso(oldest.first_seen_us)})"
        )
    return _vertex(found, node, row)


def _resolve_id(conn: Connection, node: NodeId, as_of_us: int | None) -> Vertex:
    found = _node_row(conn, node)
    if found is None:
        raise NotFound(f"{node.unversioned} is not in the store")
    return _pick(conn, found, node, node.version, as_of_us)


def _resolve_path(conn: Connection, path: Path, as_of_us: int | None) -> Vertex:
    node = file_dataset(path)
    found = _node_row(conn, node)
    if found is None:
        raise NotFound(f"{path} was never recorded by threadline{_elsewhere(conn, node)}")
    version = fingerprint_path(path)
    row = _exact(conn, found.id, version)
    if row is None:
        newest = _newest(conn, found.id)
        hint = (
            f"; the newest recorded version is {newest.version} ({iso(newest.first_seen_us)})"
            if newest
            else ""
        )
        raise NotFound(
            f"the current content of {path} ({_short(version)}) was never recorded{hint}"
        )
    _check_as_of(f"the current content of {path}", row, as_of_us)
    return _vertex(found, node, row)


def _missing_path(conn: Connection, path: Path) -> Vertex:
    """A path that does not exist: say so, and name the recorded dataset if there is one."""
    node = file_dataset(path)
    found = _node_row(conn, node)
    if found is not None:
        shown = printable(found.kind, node.namespace, node.name)
        raise NotFound(f"no such file: {path} (recorded versions remain under the id {shown})")
    raise NotFound(
        f"no such file: {path} (expected a path or an id such as dataset:file://host/data.csv)"
    )


def _elsewhere(conn: Connection, node: NodeId) -> str:
    """A hint when the same path was recorded under another host's namespace."""
    n = s.nodes
    rows = conn.execute(
        sa.select(n.c.kind, n.c.namespace)
        .where(n.c.name == node.name, n.c.type == "dataset")
        .limit(3)
    ).all()
    if not rows:
        return ""
    names = ", ".join(printable(r.kind, r.namespace, node.name) for r in rows)
    return f" on this host ({node.namespace}); the same path is recorded as {names}"


def _short(version: str) -> str:
    prefix, _, rest = version.partition(":")
    return f"{prefix}:{rest[:12]}…"


__all__ = ["Vertex", "looks_like_id", "resolve", "resolve_ref", "split_row"]
