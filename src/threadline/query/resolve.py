"""Turn what a user typed into one vertex of the graph.

Every id threadline prints is accepted back (:mod:`threadline.query.reference` lists the forms
and reads them; this module asks the store which reading is meant):

* a **path** to an existing file or directory: its current content is fingerprinted and that
  version of :func:`~threadline.model.ids.file_dataset` is looked up.  Content threadline never
  recorded is an error that names the newest version that was.  Paths are taken on the machine
  that answers: the API resolves them on the server's disk (:func:`files_seen_by` names it in
  the errors);
* a **node id**: printable (``dataset:file://host/data/raw.csv@b3:5f1c…``), Marquez's
  (``dataset:postgres://db:5432:public.orders``), the short ``NAMESPACE/NAME@VERSION`` of
  ``diff``, a bare ``scheme://…`` URI or a tree's ``NAME VERSION`` label.  Without a version
  it means the newest (the newest recorded at or before ``as_of`` when one is given).  The kind
  before the colon only has to agree on dataset versus job: a model may be named ``dataset:…``
  and is printed back with its recorded kind;
* a **version** on its own (``ex:0c2e4f5a6b7c``), or a **run id** (its execution).

Versions may be shortened to any unique prefix, as git abbreviates commits.  Text that could
name several things raises :class:`~threadline.errors.AmbiguousIdentifier` listing them.

Either form may end in ``#row=N`` to name one data row of a dataset (:func:`split_row`; rows
count from 0 and the header line is not a row); :mod:`threadline.query.rows` answers for it.

Anything that resolves to nothing raises :class:`~threadline.errors.NotFound` with one line
saying what was looked for; text that starts like an id but is none raises
:class:`~threadline.errors.InvalidIdentifier`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import AmbiguousIdentifier, InvalidIdentifier, NotFound, UsageError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import NODE_KINDS, NodeId, file_dataset
from threadline.model.times import iso, parse_moment
from threadline.query.reading import printable, read
from threadline.query.reference import NodeReading, Reference, node_type, parse_reference
from threadline.store import schema as s

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Where paths are looked for, as errors say it ("" on the user's own machine).
_FILES_SEEN_BY: ContextVar[str] = ContextVar("threadline_files_seen_by", default="")
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


@contextlib.contextmanager
def files_seen_by(place: str) -> Iterator[None]:
    """Within the block, errors about a path say where it was looked for (e.g. ``"the
    threadline server"``): a remote caller must learn that the file is missing *there*."""
    token = _FILES_SEEN_BY.set(place)
    try:
        yield
    finally:
        _FILES_SEEN_BY.reset(token)


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
    reference = parse_reference(text)
    if reference.run_id is not None:
        return _resolve_run(conn, reference.run_id, as_of_us)
    if reference.bare_version:
        assert reference.version is not None
        return _resolve_version(conn, reference.version, as_of_us)
    try:
        return _resolve_reference(conn, reference, as_of_us)
    except NotFound:
        if reference.malformed is not None:
            raise InvalidIdentifier(reference.malformed) from None
        raise


def _resolve_reference(conn: Connection, reference: Reference, as_of_us: int | None) -> Vertex:
    text = reference.text
    found = _nodes(conn, reference.nodes)
    if not found:
        if reference.path is not None:
            # Text without a kind was most likely meant as a path.
            return _missing_path(conn, Path(reference.path))
        raise NotFound(f"{reference.node_text} is not in the store")
    if len(found) == 1:
        return _pick(conn, found[0], reference.version, as_of_us)
    if reference.version is None:
        raise _ambiguous(text, [_node_text(row) for row in found])
    matches = [
        _vertex(node, row)
        for node in found
        for row in _versions_matching(conn, node.id, reference.version)
    ]
    if len(matches) == 1:
        _check_as_of(str(matches[0]), matches[0].first_seen_us, as_of_us)
        return matches[0]
    if not matches:
        names = ", ".join(_node_text(row) for row in found)
        raise NotFound(f"no version {reference.version} is recorded for {names}")
    raise _ambiguous(text, [str(m) for m in matches])


def resolve_ref(store: Store, ref: str, *, as_of: dt.datetime | str | None = None) -> Vertex:
    """:func:`resolve` on its own read connection."""
    as_of_us = parse_moment(as_of)
    return read(store, lambda conn: resolve(conn, ref, as_of_us=as_of_us))


def job_names(conn: Connection, text: str) -> list[tuple[str, str]]:
    """The ``(namespace, name)`` of every job ``text`` can name: a bare name (in any namespace),
    ``NAMESPACE/NAME``, or any form of a job's id (its version, if any, is ignored)."""
    reference = parse_reference(text)
    readings = [r for r in reference.nodes if r.type != "dataset" and not r.suffix]
    return [
        (str(row.namespace), str(row.name)) for row in _nodes(conn, readings) if row.type == "job"
    ]


# --- lookups ----------------------------------------------------------------------------------

#: Candidates an ambiguity error lists.
CANDIDATES_SHOWN: Final = 10

_n, _v, _r = s.nodes, s.versions, s.runs
_NODE_COLUMNS = (_n.c.id, _n.c.type, _n.c.kind, _n.c.namespace, _n.c.name)


def _nodes(conn: Connection, readings: Sequence[NodeReading]) -> list[Any]:
    """The nodes the store has under any of ``readings``, in store order."""
    if not readings:
        return []
    conditions: list[sa.ColumnElement[bool]] = []
    for reading in readings:
        where: list[sa.ColumnElement[bool]] = []
        if reading.type is not None:
            where.append(_n.c.type == reading.type)
        if reading.namespace is not None:
            where.append(_n.c.namespace == reading.namespace)
        if reading.suffix:
            where += [
                _n.c.namespace.startswith("file://"),
                _n.c.name.endswith(reading.name, autoescape=True),
            ]
        else:
            where.append(_n.c.name == reading.name)
        conditions.append(sa.and_(*where))
    rows = conn.execute(
        sa.select(*_NODE_COLUMNS).where(sa.or_(*conditions)).order_by(_n.c.id)
    ).all()
    # LIKE ignores ASCII case on SQLite: a suffix must match exactly.
    return [
        row
        for row in rows
        if not any(r.suffix for r in readings)
        or any(not r.suffix or str(row.name).endswith(r.name) for r in readings)
    ]


def _node_text(node: Any) -> str:
    return printable(node.kind, node.namespace, node.name)


def _ambiguous(text: str, candidates: Sequence[str]) -> AmbiguousIdentifier:
    # Lookups fetch one candidate past those shown: enough to know there are others.
    shown = list(candidates[:CANDIDATES_SHOWN])
    listed = ", ".join(shown) + (" and others" if len(candidates) > len(shown) else "")
    return AmbiguousIdentifier(
        f"{text!r} is ambiguous; it could name {listed} (give more of the id or version)",
        detail={"candidates": list(candidates)},
    )


def _versions(node_pk: int) -> sa.Select[Any]:
    return sa.select(_v.c.id, _v.c.version, _v.c.first_seen_us).where(_v.c.node_id == node_pk)


def _exact(conn: Connection, node_pk: int, version: str) -> Any:
    return conn.execute(_versions(node_pk).where(_v.c.version == version)).first()


def _prefixed(version: str) -> sa.ColumnElement[bool]:
    # substr, not LIKE: exact and case-sensitive on both dialects, and no escaping.
    return sa.func.substr(_v.c.version, 1, len(version)) == version


def _versions_matching(conn: Connection, node_pk: int, version: str) -> list[Any]:
    """The version ``version`` of the node, or else every version it is a prefix of."""
    exact = _exact(conn, node_pk, version)
    if exact is not None:
        return [exact]
    return list(
        conn.execute(
            _versions(node_pk)
            .where(_prefixed(version))
            .order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
            .limit(CANDIDATES_SHOWN + 1)
        )
    )


def _newest(conn: Connection, node_pk: int, as_of_us: int | None = None) -> Any:
    stmt = _versions(node_pk)
    if as_of_us is not None:
        stmt = stmt.where(_v.c.first_seen_us <= as_of_us)
    return conn.execute(stmt.order_by(_v.c.first_seen_us.desc(), _v.c.id.desc()).limit(1)).first()


def _oldest(conn: Connection, node_pk: int) -> Any:
    return conn.execute(_versions(node_pk).order_by(_v.c.first_seen_us, _v.c.id).limit(1)).first()


def _vertex(node: Any, row: Any) -> Vertex:
    return Vertex(
        id=int(row.id),
        node_pk=int(node.id),
        kind=str(node.kind),
        namespace=str(node.namespace),
        name=str(node.name),
        version=str(row.version),
        first_seen_us=int(row.first_seen_us),
    )


def _check_as_of(what: str, first_seen_us: int, as_of_us: int | None) -> None:
    if as_of_us is not None and first_seen_us > as_of_us:
        raise NotFound(
            f"{what} was first recorded at {iso(first_seen_us)}, after --as-of {iso(as_of_us)}"
        )


def _pick(conn: Connection, node: Any, version: str | None, as_of_us: int | None) -> Vertex:
    shown = _node_text(node)
    if version is not None:
        rows = _versions_matching(conn, node.id, version)
        if not rows:
            newest = _newest(conn, node.id)
            hint = f"; the newest recorded version is {newest.version}" if newest else ""
            raise NotFound(f"{shown} has no version {version} recorded{hint}")
        if len(rows) > 1:
            raise _ambiguous(f"{shown}@{version}", [f"{shown}@{row.version}" for row in rows])
        _check_as_of(f"{shown}@{rows[0].version}", rows[0].first_seen_us, as_of_us)
        return _vertex(node, rows[0])
    row = _newest(conn, node.id, as_of_us)
    if row is None:
        oldest = _oldest(conn, node.id)
        if oldest is None:
            raise NotFound(f"{shown} is known but no version of it was recorded")
        raise NotFound(
            f"{shown} had no version at --as-of {iso(as_of_us)} "
            f"(its first was recorded at {iso(oldest.first_seen_us)})"
        )
    return _vertex(node, row)


def _by_version_id(conn: Connection, version_pk: int) -> Vertex | None:
    row = conn.execute(
        sa.select(_v.c.id, _v.c.node_id, _v.c.version, _v.c.first_seen_us).where(
            _v.c.id == version_pk
        )
    ).first()
    if row is None:
        return None
    node = conn.execute(sa.select(*_NODE_COLUMNS).where(_n.c.id == row.node_id)).one()
    return _vertex(node, row)


def _resolve_run(conn: Connection, run_id: str, as_of_us: int | None) -> Vertex:
    """A run id names the execution it belongs to."""
    found = conn.execute(
        sa.select(_r.c.execution_id).where(sa.func.lower(_r.c.run_id) == run_id)
    ).first()
    if found is None:
        raise NotFound(f"no run {run_id} is recorded (threadline log lists the recent runs)")
    vertex = _by_version_id(conn, found.execution_id) if found.execution_id is not None else None
    if vertex is None:
        raise NotFound(f"run {run_id} recorded no inputs or outputs, so it has no lineage")
    _check_as_of(f"run {run_id}", vertex.first_seen_us, as_of_us)
    return vertex


def _resolve_version(conn: Connection, version: str, as_of_us: int | None) -> Vertex:
    """A version on its own (as tables print it): the one vertex it, or a prefix of it, names."""
    stmt = sa.select(_v.c.id).order_by(_v.c.first_seen_us.desc(), _v.c.id.desc())
    exact = [
        r.id for r in conn.execute(stmt.where(_v.c.version == version).limit(CANDIDATES_SHOWN + 1))
    ]
    ids = exact or [
        r.id for r in conn.execute(stmt.where(_prefixed(version)).limit(CANDIDATES_SHOWN + 1))
    ]
    vertices = [v for vid in ids if (v := _by_version_id(conn, vid)) is not None]
    if not vertices:
        raise NotFound(f"no version {version} (or starting with it) is recorded")
    if len(vertices) > 1:
        raise _ambiguous(version, [str(v) for v in vertices])
    _check_as_of(str(vertices[0]), vertices[0].first_seen_us, as_of_us)
    return vertices[0]


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
    _check_as_of(f"the current content of {path}", row.first_seen_us, as_of_us)
    return _vertex(found, row)


def _node_row(conn: Connection, node: NodeId) -> Any:
    return conn.execute(
        sa.select(*_NODE_COLUMNS).where(
            _n.c.type == node_type(node.kind),
            _n.c.namespace == node.namespace,
            _n.c.name == node.name,
        )
    ).first()


def _missing_path(conn: Connection, path: Path) -> Vertex:
    """A path that does not exist: say so, and name the recorded dataset if there is one."""
    node = file_dataset(path)
    found = _node_row(conn, node)
    place = _FILES_SEEN_BY.get()
    where = f" on {place}" if place else ""
    if found is not None:
        shown = printable(found.kind, node.namespace, node.name)
        raise NotFound(
            f"no such file{where}: {path} (recorded versions remain under the id {shown})"
        )
    raise NotFound(
        f"no such file{where}: {path} "
        "(expected a path or an id such as dataset:file://host/data.csv)"
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


__all__ = [
    "CANDIDATES_SHOWN",
    "Vertex",
    "files_seen_by",
    "job_names",
    "looks_like_id",
    "resolve",
    "resolve_ref",
    "split_row",
]
