"""Which live object came from which artifact: the in-process lineage map.

The capture hooks report events ("this frame was read from ``a.csv``", "this estimator was fit
on that frame").  :class:`Flow` remembers, for each live object, the *artifacts* (versions of
things in the graph, :class:`Artifact`) it derives from, keyed by ``id()`` and dropped by a
weak-reference callback when the object dies: no copies of data, no strong references.
Derived objects (a column selection, a view of an array, ``df[key] = value``) inherit the
lineage of what they were computed from; data of unknown origin mixed in marks the object
*partial*, so that its upstream falls back to the artifacts it may hide (an edge may be
superfluous, never missing).

Which artifacts an object of unknown origin may hide
    Data of unknown origin comes from code no hook follows: numpy's compiled array methods and
    operators (``proba.round(6)``, ``X * 2``), Python lists, other libraries.  A file read into a
    pandas or polars frame is *contained* (:meth:`Flow.contain`) as long as its data only went
    through frame operations, which the hooks follow: a lookup table read for a printed report,
    or a frame whose ``len()`` was printed, cannot be hidden in an array of unknown origin.  It
    *escapes* (:meth:`Flow.escape`) when user code takes its values out of the frame world
    (``to_numpy``, ``.values``, ``np.asarray``, ``tolist``, iteration).  Everything else a
    process holds (arrays loaded, models, predictions, metrics) stays a candidate.  Values taken
    out one scalar at a time (``df["a"].mean()``) are not followed anywhere, here or in tracked
    operations.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from threadline.capture.introspection import is_data
from threadline.frozen import FrozenRecordError
from threadline.model import facets as f
from threadline.model.ids import NodeId

#: An artifact's fields, in the order its constructor takes them.
_ARTIFACT_FIELDS = (
    "node",
    "origin",
    "labels",
    "inherited",
    "owners",
    "rows",
    "label",
    "facets",
    "params",
)


class Artifact:
    """One version of something in the graph, as this process knows it.

    Immutable; equal (and hashed) by its node alone.  Written out rather than a frozen
    dataclass with slots, which costs every capture start ~1 ms to define.
    """

    __slots__ = _ARTIFACT_FIELDS

    node: NodeId
    #: "read" (a file or table read), "loaded" (a model loaded), "produced" (by this process).
    origin: str
    labels: frozenset[str]
    inherited: frozenset[str]
    owners: tuple[str, ...]
    rows: int | None
    #: A short description used in job names: the estimator class, the file name.
    label: str
    facets: Mapping[str, Any]
    #: Hyperparameters of a fitted model (recorded again by whatever writes it to a file).
    params: Mapping[str, Any]

    def __init__(
        self,
        node: NodeId,
        origin: str,
        labels: frozenset[str] = frozenset(),
        inherited: frozenset[str] = frozenset(),
        owners: tuple[str, ...] = (),
        rows: int | None = None,
        label: str = "",
        facets: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        values = (
            node,
            origin,
            labels,
            inherited,
            owners,
            rows,
            label,
            {} if facets is None else facets,
            {} if params is None else params,
        )
        for name, value in zip(_ARTIFACT_FIELDS, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen Artifact")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r} of a frozen Artifact")

    def __repr__(self) -> str:
        return f"Artifact(node={self.node!r}, origin={self.origin!r}, label={self.label!r})"

    def __reduce__(self) -> tuple[type[Artifact], tuple[Any, ...]]:
        return (Artifact, tuple(getattr(self, n) for n in _ARTIFACT_FIELDS))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and other.node == self.node

    def __hash__(self) -> int:
        return hash(self.node)

    @property
    def all_labels(self) -> frozenset[str]:
        return self.labels | self.inherited

    def dataset_facets(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.facets)
        if self.labels or self.inherited:
            out["threadline_classification"] = f.classification(
                sorted(self.labels), sorted(self.inherited)
            )
        if self.owners:
            out["ownership"] = f.ownership(list(self.owners))
        return out


Lineage = frozenset[Artifact]


class _Entry:
    __slots__ = ("by_column", "columns", "exact", "mark", "partial", "ref", "rowlink", "sources")

    def __init__(
        self,
        ref: weakref.ReferenceType[Any],
        sources: Lineage,
        exact: Artifact | None,
        rowlink: Artifact | None,
        columns: tuple[str, ...],
        partial: bool = False,
    ) -> None:
        self.ref = ref
        self.sources = sources
        self.exact = exact
        self.rowlink = rowlink
        self.columns = columns
        #: Part of the object holds data of unknown origin (``df["p"] = arr.round(2)``): its
        #: ``sources`` are a lower bound, so its upstream falls back to what it may hide.
        self.partial = partial
        #: For a frame put together side by side from row-aligned parts (``hstack``): each
        #: column's own sources, so that selecting or dropping columns narrows the lineage.
        self.by_column: dict[str, Lineage] | None = None
        #: When partial: the escape clock when its unknown data was last mixed in.  That data
        #: existed by then, so it can only hide files whose values had escaped before.
        self.mark = 0


class Flow:
    """Object → lineage, for live objects only (weak references, ``id()`` keys)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}
        #: Read into frames, and every use of their data followed so far.
        self._contained: set[Artifact] = set()
        #: Once seen leaving the frames, never contained again (a second read of the file).
        self._escaped: set[Artifact] = set()
        #: The clock when each artifact's data became available to code no hook follows: when
        #: it was first tracked (read, loaded, produced), or, for a contained file, when it
        #: escaped.  Data of unknown origin made before that cannot hold it.
        self._available_at: dict[Artifact, int] = {}
        self._clock = 0
        #: Following data through operations stopped (its budget was spent): data objects are
        #: no longer tracked, so any data may hold any file read.
        self.stopped = False

        entries = self._entries

        def _gone(ref: weakref.KeyedRef[int, Any], entries: dict[int, _Entry] = entries) -> None:
            entry = entries.get(ref.key)
            if entry is not None and entry.ref is ref:
                del entries[ref.key]

        self._gone = _gone

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, obj: object) -> _Entry | None:
        entry = self._entries.get(id(obj))
        if entry is not None and entry.ref() is obj:
            return entry
        return None

    def track(
        self,
        obj: object,
        sources: Iterable[Artifact],
        *,
        exact: Artifact | None = None,
        rowlink: Artifact | None = None,
        columns: tuple[str, ...] = (),
        partial: bool = False,
        mark: int | None = None,
    ) -> bool:
        """Remember where ``obj`` came from; False when it cannot be weakly referenced, or is
        data and following has stopped."""
        if obj is None or (self.stopped and is_data(obj)):
            return False
        try:
            ref = weakref.KeyedRef(obj, self._gone, id(obj))
        except TypeError:
            return False
        frozen = frozenset(sources)
        entry = self._entries[id(obj)] = _Entry(ref, frozen, exact, rowlink, columns, partial)
        entry.mark = mark if mark is not None else self._clock
        available = self._available_at
        if not available.keys() >= frozen:
            for artifact in frozen:
                available.setdefault(artifact, self._clock)
            self._clock += 1
        base = getattr(obj, "base", None) if type(obj).__module__ == "numpy" else None
        if base is not None and type(base).__module__ == "numpy" and id(base) not in self._entries:
            # numpy points every view at the array owning the memory, not at the view it was
            # taken from: remember the owner too, so other views of it share this lineage.
            with contextlib.suppress(TypeError):
                self._entries[id(base)] = _Entry(
                    weakref.KeyedRef(base, self._gone, id(base)), frozen, None, None, ()
                )
        return True

    def contain(self, artifacts: Iterable[Artifact]) -> None:
        """``artifacts`` were read into frames whose operations the hooks follow."""
        if not self.stopped:
            self._contained.update(a for a in artifacts if a not in self._escaped)

    def stop_following(self) -> None:
        """The hooks no longer follow operations on data (:mod:`~threadline.capture.hooks.
        flow_budget`): forget the lineage of every data object, since one changed from now on
        would keep a stale one, track none from now on, and let data of unknown origin hold
        every file read, before or after.  What is written then derives from every file read
        so far: coarse, never missing one.  Models keep theirs (fits and loads are still
        hooked, and nothing changes a model in place unseen)."""
        self.stopped = True
        for key, entry in list(self._entries.items()):
            obj = entry.ref()
            if obj is None or is_data(obj):
                self._entries.pop(key, None)  # a weak reference's callback may be first
        self._release(set(self._contained))

    def holds_contained(self, obj: object) -> bool:
        """Cheap pre-check for :meth:`escape`: does ``obj`` carry a still-contained artifact?"""
        if not self._contained:
            return False
        entry = self._entry(obj) or self._base_entry(obj)
        return entry is not None and not self._contained.isdisjoint(entry.sources)

    def escape(self, obj: object) -> None:
        """User code took ``obj``'s values where no hook follows them (an array, a list)."""
        entry = self._entry(obj) or self._base_entry(obj)
        if entry is not None and self._contained:
            self._release(self._contained & entry.sources)

    def _release(self, leaving: set[Artifact]) -> None:
        """The contained ``leaving`` are out of the frames: from now on, data of unknown origin
        may hold them."""
        if leaving:
            for artifact in leaving:
                self._available_at[artifact] = self._clock
            self._clock += 1
            self._contained -= leaving
            self._escaped |= leaving

    def unfollowed(
        self, artifacts: Iterable[Artifact], objs: Iterable[object] = ()
    ) -> set[Artifact]:
        """Those of ``artifacts`` that the data of unknown origin in ``objs`` may derive from.

        Data of unknown origin can hold only artifacts available to code no hook follows
        before it was mixed in (for an object of no known origin at all: before now): not a file
        whose values never left the frames, nor one read, or a model loaded, afterwards.
        """
        mark = -1
        for obj in objs:
            entry = self._entry(obj) or self._base_entry(obj)
            if entry is None:
                mark = self._clock
                break
            if entry.partial:
                mark = max(mark, entry.mark)
        if mark < 0:
            mark = self._clock
        contained, available = self._contained, self._available_at
        return {a for a in artifacts if a not in contained and available.get(a, -1) < mark}

    def forget(self, obj: object) -> None:
        entry = self._entry(obj)
        if entry is not None:
            del self._entries[id(obj)]

    def exact(self, obj: object) -> Artifact | None:
        entry = self._entry(obj)
        return entry.exact if entry is not None else None

    def rowlink(self, obj: object) -> tuple[Artifact | None, tuple[str, ...]]:
        entry = self._entry(obj) or self._base_entry(obj)
        if entry is None:
            return None, ()
        return entry.rowlink, entry.columns

    def known(self, obj: object) -> bool:
        """Cheap pre-check: could ``obj`` have a lineage (it or, for arrays, a base)?"""
        return id(obj) in self._entries or (bool(self._entries) and type(obj).__module__ == "numpy")

    def _base_entry(self, obj: object) -> _Entry | None:
        # numpy views: a slice or a reshape of a tracked array shares its lineage.
        if type(obj).__module__ != "numpy":
            return None
        base = getattr(obj, "base", None)
        for _ in range(8):
            if base is None or not hasattr(base, "__array_interface__"):
                return None
            entry = self._entry(base)
            if entry is not None:
                return entry
            base = getattr(base, "base", None)
        return None

    def lineage(self, obj: object) -> Lineage | None:
        """The artifacts ``obj`` derives from, or ``None`` when unknown."""
        entry = self._entry(obj) or self._base_entry(obj)
        return entry.sources if entry is not None else None

    def partial(self, obj: object) -> bool:
        """True when part of ``obj`` is known to hold data of unknown origin."""
        entry = self._entry(obj) or self._base_entry(obj)
        return entry is not None and entry.partial

    def derive(
        self,
        result: object,
        parents: Iterable[object],
        *,
        rows_kept: bool = False,
        operands: bool = False,
    ) -> None:
        """``result`` was computed from ``parents``: it inherits their known lineage.

        With ``rows_kept`` the caller vouches that ``result``'s rows are its first parent's,
        in order, so a row link passes on too.  With ``operands`` the parents are *all* the
        data the operation was given (the user's call, seen from outside): whether the result
        holds data of unknown origin is then theirs to say, whatever the library's internal
        steps (frames it builds from its own arrays) made of it.
        """
        if result is None:
            return
        sources: set[Artifact] = set()
        rowlink: Artifact | None = None
        columns: tuple[str, ...] = ()
        partial = False
        mark = -1
        first = True
        for parent in parents:
            if parent is result:
                first = False
                continue
            entry = self._entry(parent) or self._base_entry(parent)
            if entry is not None:
                sources.update(entry.sources)
                if entry.partial:
                    partial, mark = True, max(mark, entry.mark)
                if first and rows_kept and entry.rowlink is not None:
                    rowlink, columns = entry.rowlink, entry.columns
            elif is_data(parent):
                # Joined with data of unknown origin (``pd.concat([known, built_here])``).
                partial, mark = True, self._clock
            first = False
        current = self._entry(result)
        if not sources:
            if operands and current is not None and current.partial and not partial:
                current.partial = False
            return
        if current is not None:
            settled = partial if operands else current.partial or partial
            if sources <= current.sources and current.partial == settled:
                return
            if partial:
                current.mark = max(mark, current.mark) if current.partial else mark
            current.sources = current.sources | sources
            current.partial = settled
            current.exact = None
            current.by_column = None
            return
        self.track(result, sources, rowlink=rowlink, columns=columns, partial=partial, mark=mark)

    def set_columns(self, obj: object, parts: Iterable[tuple[Iterable[object], object]]) -> None:
        """``obj`` is its ``parts`` side by side, rows aligned: (column names, part) pairs."""
        entry = self._entry(obj)
        if entry is None:
            return
        by_column: dict[str, Lineage] = {}
        for names, part in parts:
            known = self._entry(part) or self._base_entry(part)
            if known is None:
                return  # a part of unknown origin: the whole frame's lineage applies
            for name in names:
                by_column[str(name)] = (
                    known.by_column.get(str(name), known.sources)
                    if known.by_column
                    else known.sources
                )
        entry.by_column = by_column

    def knows_columns(self, obj: object) -> bool:
        """Cheap pre-check for :meth:`select_columns`: are ``obj``'s columns' sources known?"""
        entry = self._entry(obj)
        return entry is not None and entry.by_column is not None

    def settled(self, obj: object) -> bool:
        """``obj`` has a lineage with no data of unknown origin in it."""
        entry = self._entry(obj)
        return entry is not None and not entry.partial

    def select_columns(self, result: object, owner: object, names: Iterable[object]) -> bool:
        """``result`` holds only the columns ``names`` of ``owner``, its rows unchanged.

        True when ``owner`` knows its columns' own sources: ``result`` then derives from
        those alone (a part stacked beside the frame and dropped again is not upstream).
        """
        entry = self._entry(owner)
        if entry is None or entry.by_column is None or result is None:
            return False
        mapping = entry.by_column
        kept = [str(name) for name in names]
        if not kept or any(name not in mapping for name in kept):
            return False
        sources = frozenset().union(*(mapping[name] for name in kept))
        if not self.track(
            result,
            sources,
            rowlink=entry.rowlink,
            columns=entry.columns,
            partial=entry.partial,
            mark=entry.mark,
        ):
            return False
        narrowed = self._entries[id(result)]
        narrowed.by_column = {name: mapping[name] for name in kept}
        return True

    def merge_into(self, target: object, value: object, key: object = None) -> None:
        """``target`` was updated in place with ``value`` (``df[key] = value``)."""
        entry = self._entry(value) or self._base_entry(value)
        if entry is None:
            if is_data(value):
                # Numbers computed outside any hook (``proba.round(6)``, ``np.where(…)``): the
                # target now holds data whose origin is unknown, which must widen its upstream
                # rather than be dropped from it.
                current = self._entry(target)
                if current is not None:
                    current.mark = self._clock
                    current.partial = True
                    current.exact = None
                    current.by_column = None
                else:
                    self.track(target, (), partial=True)
            return
        current = self._entry(target)
        link = entry.rowlink
        columns = (str(key),) if key is not None and not isinstance(key, (list, tuple)) else ()
        if current is None:
            self.track(
                target,
                entry.sources,
                rowlink=link,
                columns=columns if link else (),
                partial=entry.partial,
                mark=entry.mark,
            )
            return
        if entry.partial:
            current.mark = max(current.mark, entry.mark) if current.partial else entry.mark
        current.sources = current.sources | entry.sources
        current.partial = current.partial or entry.partial
        current.exact = None
        if current.by_column is not None:
            if isinstance(key, str):  # a column replaced or added: it holds the value's data
                current.by_column[key] = entry.sources
            else:
                current.by_column = None
        if link is not None and (current.rowlink is None or link.node.kind == "predictions"):
            current.rowlink, current.columns = link, columns


__all__ = ["Artifact", "Flow", "Lineage"]
