"""Lineage inside one process: which live object came from which artifact.

The capture hooks report events ("this frame was read from ``a.csv``", "this estimator was fit
on that frame", "this frame was written to ``out.parquet``").  :class:`Flow` remembers, for each
live object, the *artifacts* it derives from, keyed by ``id()`` and dropped by a weak-reference
callback when the object dies: no copies of data, no strong references.  :class:`Capture` turns
the events into runs.

Completeness first
    When an object's origin is known (it is the frame ``read_csv`` returned, a column selection
    of it, the array ``predict`` returned…) its upstream is exactly that.  When it is not (a
    frame built from Python lists, an array from arithmetic), the upstream is *everything the
    enclosing run read or produced so far*, and the run says so (``threadline_capture.precise``
    is false).  An edge may be superfluous, never missing.

One run per operation
    The script (or notebook) is one run.  Each operation that produces an artifact is a child
    run of it (OpenLineage ``parent`` facet) whose inputs are exactly that artifact's upstream:
    ``features`` (a frame promoted to a features version, or ``transform`` output), ``fit``
    (a model version), ``predict`` (a predictions version), ``evaluate`` (metrics), ``write``
    (a file).  This is what lets ``trace model.joblib`` name file A and not the unrelated file B
    the same script also read.  The script run itself lists every file read as an input and
    has no outputs, so it adds no false paths.

Row mapping
    ``threadline_rows`` on an artifact says that its data row *k* is row *k* of another artifact
    (``input``).  ``predict`` output maps to the scored features, those to the file they were
    selected from (when the pandas index shows no row was dropped or reordered), and a written
    file holding the predictions maps to the predictions.  Following ``input`` hop by hop from
    ``predictions.csv`` row 17 reaches the scored input row; the usual upstream trace gives the
    model, features, training data and raw files.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

from threadline.capture.api import RunRecorder, frame_schema, memory_namespace
from threadline.capture.boundary import capture_boundary, failures
from threadline.capture.context import current_run
from threadline.capture.labels import Labels
from threadline.model import facets as f
from threadline.model.canonical import canonical_json
from threadline.model.events import PRODUCER
from threadline.model.ids import NodeId, file_dataset, split_uri

_TL: Final = "https://threadline.dev/spec/facets/1-0-0"
ROWS_SCHEMA: Final = f"{_TL}/RowsDatasetFacet.json"
CAPTURE_SCHEMA: Final = f"{_TL}/CaptureRunFacet.json"

#: Stage of the script run when its operations span several: the first present wins.
STAGE_PRIORITY: Final = (
    "training",
    "evaluation",
    "scoring",
    "features",
    "registration",
    "ingestion",
    "deployment",
)

#: At most this many pending evaluations before the oldest is emitted.
_MAX_PENDING_EVALUATIONS: Final = 64


def rows_facet(
    input_node: NodeId,
    rows: int | None,
    *,
    model: NodeId | None = None,
    columns: Sequence[str] = (),
) -> dict[str, Any]:
    """``threadline_rows``: data row *k* of this dataset is data row *k* of ``input``.

    Rows count from 0 and exclude any header line.  ``model`` names the model version that
    produced predictions; ``columns`` the columns that hold them.
    """
    body: dict[str, Any] = {
        "_producer": PRODUCER,
        "_schemaURL": ROWS_SCHEMA,
        "input": str(input_node),
        "mapping": "positional",
    }
    if rows is not None:
        body["rows"] = rows
    if model is not None:
        body["model"] = str(model)
    if columns:
        body["columns"] = list(columns)
    return body


def capture_facet(**fields: Any) -> dict[str, Any]:
    """``threadline_capture``: how a run was captured (hook, precision, failures)."""
    return {"_producer": PRODUCER, "_schemaURL": CAPTURE_SCHEMA, **fields}


# --- artifacts -------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, slots=True)
class Artifact:
    """One version of something in the graph, as this process knows it."""

    node: NodeId
    #: "read" (a file or table read), "loaded" (a model loaded), "produced" (by this process).
    origin: str
    labels: frozenset[str] = frozenset()
    inherited: frozenset[str] = frozenset()
    owners: tuple[str, ...] = ()
    rows: int | None = None
    #: A short description used in job names: the estimator class, the file name.
    label: str = ""
    facets: Mapping[str, Any] = field(default_factory=dict)
    #: Hyperparameters of a fitted model (recorded again by whatever writes it to a file).
    params: Mapping[str, Any] = field(default_factory=dict)

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
    __slots__ = ("columns", "exact", "partial", "ref", "rowlink", "sources")

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
        #: ``sources`` are a lower bound, so its upstream falls back to everything seen.
        self.partial = partial


class Flow:
    """Object → lineage, for live objects only (weak references, ``id()`` keys)."""

    def __init__(self) -> None:
        self._entries: dict[int, _Entry] = {}

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
    ) -> bool:
        """Remember where ``obj`` came from; False when it cannot be weakly referenced."""
        if obj is None:
            return False
        try:
            ref = weakref.KeyedRef(obj, self._gone, id(obj))
        except TypeError:
            return False
        frozen = frozenset(sources)
        self._entries[id(obj)] = _Entry(ref, frozen, exact, rowlink, columns, partial)
        base = getattr(obj, "base", None) if type(obj).__module__ == "numpy" else None
        if base is not None and type(base).__module__ == "numpy" and id(base) not in self._entries:
            # numpy points every view at the array owning the memory, not at the view it was
            # taken from: remember the owner too, so other views of it share this lineage.
            with contextlib.suppress(TypeError):
                self._entries[id(base)] = _Entry(
                    weakref.KeyedRef(base, self._gone, id(base)), frozen, None, None, ()
                )
        return True

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

    def derive(self, result: object, parents: Iterable[object], *, rows_kept: bool = False) -> None:
        """``result`` was computed from ``parents``: it inherits their known lineage.

        With ``rows_kept`` the caller vouches that ``result``'s rows are its first parent's,
        in order, so a row link passes on too.
        """
        if result is None:
            return
        sources: set[Artifact] = set()
        rowlink: Artifact | None = None
        columns: tuple[str, ...] = ()
        partial = False
        first = True
        for parent in parents:
            if parent is result:
                first = False
                continue
            entry = self._entry(parent) or self._base_entry(parent)
            if entry is not None:
                sources.update(entry.sources)
                partial = partial or entry.partial
                if first and rows_kept and entry.rowlink is not None:
                    rowlink, columns = entry.rowlink, entry.columns
            elif is_data(parent):
                # Joined with data of unknown origin (``pd.concat([known, built_here])``).
                partial = True
            first = False
        if not sources:
            return
        current = self._entry(result)
        if current is not None:
            if sources <= current.sources and (current.partial or not partial):
                return
            current.sources = current.sources | sources
            current.partial = current.partial or partial
            current.exact = None
            return
        self.track(result, sources, rowlink=rowlink, columns=columns, partial=partial)

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
                    current.partial = True
                    current.exact = None
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
            )
            return
        current.sources = current.sources | entry.sources
        current.partial = current.partial or entry.partial
        current.exact = None
        if link is not None and (current.rowlink is None or link.node.kind == "predictions"):
            current.rowlink, current.columns = link, columns


# --- where data lives --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Location:
    """A place data was read from or written to."""

    node: NodeId  # unversioned
    path: str | None = None  # a local file or folder, fingerprinted
    handle: Any = None  # an open file object, fingerprinted once closed


_URL_SCHEMES: Final = ("s3", "gs", "gcs", "az", "abfs", "abfss", "http", "https", "hdfs", "wasb")


def locations(target: object) -> list[Location]:
    """Where ``target`` (a path, URL, file object, glob or list of them) points."""
    if target is None or isinstance(target, (bytes, bytearray, memoryview, int)):
        return []
    if isinstance(target, (list, tuple)):
        return [loc for item in target for loc in locations(item)]
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str):
        return _string_locations(target)
    name = getattr(target, "name", None)
    if isinstance(name, str) and hasattr(target, "write" if hasattr(target, "write") else "read"):
        path = os.path.abspath(name)
        if os.path.isfile(path) or hasattr(target, "write"):
            return [Location(file_dataset(path), path, target)]
    path_attr = getattr(target, "path", None)  # fsspec-style or pyarrow NativeFile
    if isinstance(path_attr, str):
        return _string_locations(path_attr)
    return []


def _string_locations(text: str) -> list[Location]:
    if "\n" in text or len(text) > 4096:
        return []  # literal CSV/JSON data, not a path
    scheme, sep, _ = text.partition("://")
    if sep and scheme == "file":
        text = text[len("file://") :]
    elif sep and (scheme in _URL_SCHEMES or scheme.isalnum()):
        namespace, name = split_uri(text)
        if not name:
            return []
        return [Location(NodeId("dataset", namespace, name))]
    if any(c in text for c in "*?[") and not os.path.exists(text):
        import glob

        matches = sorted(glob.glob(text, recursive=True))
        return [Location(file_dataset(m), os.path.abspath(m)) for m in matches]
    path = os.path.abspath(os.path.expanduser(text))
    return [Location(file_dataset(path), path)]


# --- the oracle: was a file produced by a recorded run? ------------------------------------


class Oracle(Protocol):
    """Answers "did any recorded run write this node?" (for stage inference)."""

    def prefetch(self, nodes: Sequence[NodeId]) -> None:
        """Start looking ``nodes`` up; answers are awaited in :meth:`produced`."""
        ...

    def produced(self, node: NodeId) -> bool | None:
        """True/False, or None when the store cannot say."""
        ...


class NoOracle:
    def prefetch(self, nodes: Sequence[NodeId]) -> None:
        return None

    def produced(self, node: NodeId) -> bool | None:
        return None


# --- what the store already knows ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Serving:
    """A deployment that serves a model version, and since when."""

    node: NodeId
    valid_from: str


class Recorded(Protocol):
    """Questions about what earlier runs recorded (answered from the store)."""

    def start(self) -> None:
        """Begin getting ready (e.g. opening the store) without blocking the caller."""
        ...

    def labels(self, node: NodeId) -> frozenset[str]:
        """Labels (own and inherited) recorded for the dataset ``node`` names."""
        ...

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        """Deployments of the model version ``model`` whose time window contains ``at``."""
        ...

    def close(self) -> None: ...


class NothingRecorded:
    """For sessions with no store to ask (a remote server, tests of the flow alone)."""

    def start(self) -> None:
        return None

    def labels(self, node: NodeId) -> frozenset[str]:
        return frozenset()

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        return []

    def close(self) -> None:
        return None


#: How long an operation waits for the store to open before going on without its answers.
_STORE_WAIT: Final = 10.0


class StoreRecorded:
    """Answers :class:`Recorded` questions from a store opened in a background thread.

    A captured process learns here what it cannot see itself: the labels a file it reads was
    given when another process wrote it (so ``pii`` reaches a model trained three scripts
    later), and which deployment serves a model file it loads (so scoring links to it).
    Opening the store costs an SQLAlchemy import, so it starts on the first file read and runs
    beside the user's code; the first question waits for it at most ``_STORE_WAIT`` seconds.
    """

    def __init__(self, opener: Callable[[], tuple[Any, bool] | None]) -> None:
        self._opener = opener
        self._store: Any = None
        self._owned = False
        self._ready = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self._labels: dict[tuple[str, str], frozenset[str]] = {}

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._open, name="threadline-recorded", daemon=True).start()

    def _open(self) -> None:
        from threadline.capture.hooks._patch import capturing

        try:
            with capturing(), capture_boundary("capture.recorded"):
                opened = self._opener()
                if opened is not None:
                    self._store, self._owned = opened
        finally:
            self._ready.set()

    def _read(self, query: Callable[[Any], Any]) -> Any:
        self.start()
        if not self._ready.wait(_STORE_WAIT) or self._store is None:
            return None
        return self._store.read(query)

    def labels(self, node: NodeId) -> frozenset[str]:
        key = (node.namespace, node.name)
        if key not in self._labels:
            found: frozenset[str] = frozenset()
            with capture_boundary("capture.recorded"):
                facets = self._read(lambda conn: _node_facets(conn, key))
                found = _classification(facets)
            self._labels[key] = found
        return self._labels[key]

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        found: list[Serving] = []
        if model.version is None:
            return found
        with capture_boundary("capture.recorded"):
            found = self._read(lambda conn: _serving(conn, model, at)) or []
        return found

    def close(self) -> None:
        if self._ready.is_set() and self._store is not None and self._owned:
            with capture_boundary("capture.recorded"):
                self._store.close()
            self._store = None


def open_recorded() -> tuple[Any, bool] | None:
    """The store this process records into, for reading: ``(store, opened_here)`` or None.

    An in-process emitter's store is shared.  Under ``threadline run`` the events go to the
    supervisor, so the configured store is opened for reading, but only if it already exists
    (a question must never create a store).  A remote server cannot be asked here.
    """
    from threadline.capture.emitter import get_emitter
    from threadline.config import current

    sink = get_emitter().sink
    store = getattr(sink, "store", None)
    if store is not None:
        return store, False
    settings = current()
    if settings.url or getattr(sink, "kind", None) == "http":
        return None
    from threadline.store import normalize_url, open_store

    url = normalize_url(settings.store)
    if url.startswith("sqlite:///") and not os.path.isfile(url[len("sqlite:///") :]):
        return None
    return open_store(url), True


def _node_facets(conn: Any, key: tuple[str, str]) -> Any:
    import sqlalchemy as sa

    from threadline.store import schema as s

    n = s.nodes
    return conn.execute(
        sa.select(n.c.facets).where(
            n.c.type == "dataset", n.c.namespace == key[0], n.c.name == key[1]
        )
    ).scalar_one_or_none()


def _classification(facets: Any) -> frozenset[str]:
    if not facets:
        return frozenset()
    import orjson

    body = orjson.loads(facets).get("threadline_classification") or {}
    return frozenset(str(x) for x in [*body.get("labels", []), *body.get("inherited", [])])


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _serving(conn: Any, model: NodeId, at: datetime) -> list[Serving]:
    """Deployments written by runs that read ``model`` and still serving at ``at``.

    A deployment's window opens at its ``validFrom``; it closes at its ``validTo`` or when a
    later version of the same deployment (another model at the same endpoint) opens.
    """
    import orjson
    import sqlalchemy as sa

    from threadline.store import schema as s

    n, v = s.nodes, s.versions
    read_by, wrote = sa.alias(s.edges), sa.alias(s.edges)
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
    deployed = (
        sa.select(v.c.node_id, v.c.version)
        .select_from(read_by)
        .join(wrote, wrote.c.src == read_by.c.dst)
        .join(v, v.c.id == wrote.c.dst)
        .join(n, n.c.id == v.c.node_id)
        .where(
            read_by.c.src == model_version,
            read_by.c.relation == "input",
            wrote.c.relation == "output",
            n.c.kind == "deployment",
        )
    )
    ours = {(row.node_id, row.version) for row in conn.execute(deployed)}
    found: list[Serving] = []
    for node_id in sorted({node_id for node_id, _ in ours}):
        node = conn.execute(sa.select(n.c.namespace, n.c.name).where(n.c.id == node_id)).one()
        current: tuple[datetime, str, str] | None = None
        for row in conn.execute(sa.select(v.c.version, v.c.facets).where(v.c.node_id == node_id)):
            window = orjson.loads(row.facets).get("threadline_deployment") or {}
            start, end = _when(window.get("validFrom")), _when(window.get("validTo"))
            if start is None or start > at or (end is not None and end <= at):
                continue
            if current is None or start > current[0]:
                current = (start, row.version, window["validFrom"])
        if current is not None and (node_id, current[1]) in ours:
            found.append(
                Serving(NodeId("deployment", node.namespace, node.name, current[1]), current[2])
            )
    return found


# --- runs ----------------------------------------------------------------------------------


class _CapturedRun(RunRecorder):
    """A run whose run facets include ``threadline_capture``."""

    capture_info: Callable[[], dict[str, Any]] | None = None

    def _run_facets(self) -> dict[str, Any]:
        facets = super()._run_facets()
        if self.capture_info is not None:
            facets["threadline_capture"] = capture_facet(**self.capture_info())
        return facets


def start_root(
    job: str,
    *,
    stage: str | None,
    namespace: str,
    reason: str | None,
    info: Callable[[], dict[str, Any]],
    params: Mapping[str, Any] | None = None,
) -> RunRecorder:
    """Start the script's (or notebook's) own run, the parent of every captured operation."""
    recorder = _CapturedRun(job, stage=stage, namespace=namespace, reason=reason, params=params)
    recorder.capture_info = info
    recorder.__enter__()
    return recorder


@dataclass(slots=True)
class _Evaluation:
    name: str
    sources: set[Artifact]
    precise: bool
    metrics: dict[str, float] = field(default_factory=dict)
    hooks: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _WriteDraft:
    """A write described at call time; fingerprinted and emitted once the file is complete."""

    location: Location
    hook: str
    kind: str
    sources: set[Artifact]
    precise: bool
    labels: frozenset[str]
    owners: tuple[str, ...]
    rows: int | None
    facets: dict[str, Any]
    stage: str
    params: Mapping[str, Any] = field(default_factory=dict)


def _schema_fields(artifact: Artifact) -> list[tuple[str, str]]:
    schema = artifact.facets.get("schema") or {}
    return [(str(x.get("name")), str(x.get("type"))) for x in schema.get("fields", [])]


def _lazy(obj: object) -> bool:
    # Asking a lazy frame for its schema runs its plan (and warns): never do it.
    return type(obj).__name__ in ("LazyFrame", "Dataset", "Scanner")


def _columns(obj: object) -> list[str]:
    if _lazy(obj):
        return []
    columns = getattr(obj, "columns", None)
    if columns is None:
        names = getattr(obj, "column_names", None)  # pyarrow
        columns = names if isinstance(names, list) else None
    if columns is None:
        return []
    try:
        return [str(c) for c in columns]
    except TypeError:
        return []


def _schema(obj: object) -> list[tuple[str, str]] | None:
    if _lazy(obj):
        return None
    schema = getattr(obj, "schema", None)
    if schema is not None and hasattr(schema, "names") and hasattr(schema, "types"):  # pyarrow
        return [(str(n), str(t)) for n, t in zip(schema.names, schema.types, strict=False)]
    return frame_schema(obj)


def row_count(obj: object) -> int | None:
    if _lazy(obj):
        return None
    shape = getattr(obj, "shape", None)
    if isinstance(shape, tuple) and shape and isinstance(shape[0], int):
        return shape[0]
    height = getattr(obj, "num_rows", None)
    if isinstance(height, int):
        return height
    return None


def is_model(obj: object) -> bool:
    """Estimator-like: can predict, or can fit and transform."""
    if isinstance(obj, type):
        return False
    if callable(getattr(obj, "predict", None)):
        return not hasattr(obj, "columns")
    return callable(getattr(obj, "fit", None)) and callable(getattr(obj, "transform", None))


def is_predictor(obj: object) -> bool:
    return any(
        callable(getattr(obj, name, None))
        for name in ("predict", "predict_proba", "decision_function")
    )


_DATA_MODULES: Final = ("numpy", "pandas", "polars", "pyarrow", "scipy", "torch")


def is_data(obj: object) -> bool:
    """Worth tracing: arrays, frames, series, tables and non-empty Python containers."""
    if obj is None or isinstance(obj, (str, bytes, bool, int, float, complex)):
        return False
    module = type(obj).__module__.partition(".")[0]
    if module in _DATA_MODULES:
        return True
    return isinstance(obj, (list, tuple, dict)) and len(obj) > 0


class Capture:
    """The recording side of automatic capture: what hooks call, in user-facing terms."""

    def __init__(
        self,
        *,
        job: str,
        namespace: str,
        labels: Labels,
        stage: str | None = None,
        oracle: Oracle | None = None,
        recorded: Recorded | None = None,
    ) -> None:
        self.job = job
        self.namespace = namespace
        self.labels = labels
        self.stage_override = stage
        self.oracle: Oracle = oracle or NoOracle()
        self.recorded: Recorded = recorded or StoreRecorded(open_recorded)
        self.flow = Flow()
        self.root: RunRecorder | None = None
        self.seen: dict[NodeId, Artifact] = {}
        self.produced: set[NodeId] = set()
        self.stages: set[str] = set()
        self.operations = 0
        self.imprecise = 0
        #: Added to every operation's ``threadline_capture`` facet (e.g. the notebook cell).
        self.context: dict[str, Any] = {}
        #: Added to the script run's ``threadline_capture`` facet (e.g. MLflow run ids).
        self.links: dict[str, list[str]] = {}
        self._evaluations: dict[frozenset[NodeId], _Evaluation] = {}
        #: predictions version -> (model version that made them, the batch it scored).
        self._predicted_by: dict[NodeId, tuple[Artifact | None, Artifact | None]] = {}
        self._pending_writes: list[tuple[weakref.ReferenceType[Any], _WriteDraft]] = []
        self._lock = threading.RLock()
        self._mem = memory_namespace(namespace)

    # --- lineage helpers ----------------------------------------------------------------

    def upstream(self, *objs: object) -> tuple[set[Artifact], bool]:
        """The artifacts ``objs`` derive from; falls back to everything seen (not precise)."""
        sources: set[Artifact] = set()
        precise = True
        for obj in objs:
            if not is_data(obj) and not is_model(obj):
                continue
            known = self.flow.lineage(obj)
            if known is None and isinstance(obj, (list, tuple, dict)):
                known = self._container_lineage(obj)
            if known is None or self.flow.partial(obj):
                precise = False
            if known is not None:
                sources.update(known)
        if not precise:
            sources.update(self.seen.values())
            self.imprecise += 1
        return sources, precise

    def _container_lineage(
        self, obj: list[Any] | tuple[Any, ...] | dict[Any, Any]
    ) -> Lineage | None:
        values = obj.values() if isinstance(obj, dict) else obj
        found: set[Artifact] = set()
        for item in itertools.islice(values, 64):
            known = self.flow.lineage(item)
            if known is None:
                if is_data(item):
                    return None
                continue
            found.update(known)
        return frozenset(found) if found else None

    def _inherited(self, sources: Iterable[Artifact]) -> frozenset[str]:
        labels: set[str] = set()
        for source in sources:
            labels.update(source.all_labels)
            if source.origin in ("read", "loaded") and source.node.kind != "deployment":
                # Labels the file was given when another process wrote it.
                labels.update(self.recorded.labels(source.node))
        return frozenset(labels)

    def _see(self, artifact: Artifact) -> None:
        self.seen.setdefault(artifact.node, artifact)

    def _stage_override(self) -> str | None:
        run = current_run.get()
        if run is not None and run is not self.root and run.stage:
            return run.stage
        return self.stage_override

    # --- emitting runs --------------------------------------------------------------------

    def emit(
        self,
        verb: str,
        target: str,
        stage: str | None,
        inputs: Iterable[Artifact],
        outputs: Sequence[Artifact],
        *,
        hook: str,
        precise: bool,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Emit one operation as a child run of the current run (or of the script run)."""
        job = f"{self.job}/{verb}:{target}" if target else f"{self.job}/{verb}"
        recorder = _CapturedRun(job, stage=stage, namespace=self.namespace, params=params)
        info = {"hook": hook, "precise": precise, **self.context}
        recorder.capture_info = lambda: info
        token = current_run.set(self.root) if current_run.get() is None and self.root else None
        try:
            with recorder:
                for artifact in sorted(inputs, key=lambda a: str(a.node)):
                    if artifact not in outputs:
                        recorder.read(artifact.node, facets=artifact.dataset_facets())
                for artifact in outputs:
                    recorder.wrote(artifact.node, facets=artifact.dataset_facets(), metrics=metrics)
        finally:
            if token is not None:
                current_run.reset(token)
        with self._lock:
            self.operations += 1
            if stage:
                self.stages.add(stage)

    def inferred_stage(self) -> str | None:
        for stage in STAGE_PRIORITY:
            if stage in self.stages:
                return stage
        return None

    # --- reads ----------------------------------------------------------------------------

    def file_artifact(
        self, location: Location, kind: str, *, obj: object = None, origin: str = "read"
    ) -> Artifact | None:
        from threadline.fingerprint import fingerprint_path

        node = location.node
        path = location.path
        if path is not None:
            if self.labels.ignored(path) or not os.path.exists(path):
                return None
            node = NodeId(kind, node.namespace, node.name, fingerprint_path(path))
        else:
            node = NodeId(kind, node.namespace, node.name)
        labels, owners = self.labels.for_path(path)
        columns = _columns(obj) if obj is not None else []
        labels = labels | self.labels.for_columns(columns)
        facets: dict[str, Any] = {}
        schema = _schema(obj) if obj is not None and not is_model(obj) else None
        if schema:
            facets["schema"] = f.schema(schema)
        return Artifact(
            node=node,
            origin=origin,
            labels=labels,
            owners=owners,
            rows=row_count(obj) if obj is not None else None,
            label=Path(node.name).name or node.name,
            facets=facets,
        )

    def read(
        self,
        obj: object,
        target: object,
        *,
        hook: str,
        kind: str | None = None,
        positional: bool = True,
    ) -> list[Artifact]:
        """``obj`` was read from ``target`` (paths, URLs, file objects, globs)."""
        self._drain_pending()
        model = obj is not None and is_model(obj)
        chosen = kind or ("model" if model else "dataset")
        artifacts = [
            artifact
            for location in locations(target)
            if (
                artifact := self.file_artifact(
                    location, chosen, obj=obj, origin="loaded" if model else "read"
                )
            )
            is not None
        ]
        self._register_reads(artifacts)
        if artifacts:
            self.recorded.start()
        if obj is not None and artifacts:
            exact = artifacts[0] if len(artifacts) == 1 else None
            rowlink = exact if exact is not None and positional and not model else None
            self.flow.track(obj, artifacts, exact=exact, rowlink=rowlink)
        return artifacts

    def read_nodes(self, obj: object, nodes: Sequence[NodeId], *, hook: str) -> list[Artifact]:
        """``obj`` was read from tables or other non-file datasets named by ``nodes``."""
        artifacts = []
        for node in nodes:
            labels, owners = self.labels.for_path(None)
            labels = labels | self.labels.for_columns(_columns(obj))
            artifacts.append(
                Artifact(node=node, origin="read", labels=labels, owners=owners, label=node.name)
            )
        self._register_reads(artifacts)
        if obj is not None and artifacts:
            self.flow.track(obj, artifacts, exact=artifacts[0] if len(artifacts) == 1 else None)
        return artifacts

    def _register_reads(self, artifacts: Sequence[Artifact]) -> None:
        for artifact in artifacts:
            self._see(artifact)
            root = self.root
            if root is not None and artifact.node not in root.inputs:
                with capture_boundary("capture.root"):
                    root.read(artifact.node, facets=artifact.dataset_facets())
        if artifacts:
            self.oracle.prefetch(
                [a.node for a in artifacts if a.node.unversioned not in self.produced]
            )

    def _is_raw(self, artifact: Artifact) -> bool:
        if artifact.origin not in ("read", "loaded"):
            return False
        if artifact.node.unversioned.with_version(None) in self.produced:
            return False
        return self.oracle.produced(artifact.node) is not True

    # --- writes -----------------------------------------------------------------------------

    def wrote(self, obj: object, target: object, *, hook: str, kind: str | None = None) -> None:
        """``obj`` was written to ``target``; open file objects are handled once closed."""
        self._drain_pending()
        for location in locations(target):
            path = location.path
            if path is not None and self.labels.ignored(path):
                continue
            draft = self._draft_write(obj, location, hook=hook, kind=kind)
            handle = location.handle
            if handle is not None and not getattr(handle, "closed", True):
                # Still buffered in the user's open file: fingerprint once it is closed.
                try:
                    self._pending_writes.append((weakref.ref(handle), draft))
                    continue
                except TypeError:
                    pass
            self._finish_write(draft)

    def _drain_pending(self, *, final: bool = False) -> None:
        if not self._pending_writes:
            return
        keep = []
        for ref, draft in self._pending_writes:
            handle = ref()
            if handle is not None and not getattr(handle, "closed", True) and not final:
                keep.append((ref, draft))
                continue
            with capture_boundary(draft.hook):
                self._finish_write(draft)
        self._pending_writes = keep

    def _draft_write(
        self, obj: object, location: Location, *, hook: str, kind: str | None
    ) -> _WriteDraft:
        if self._evaluations and (self.flow.lineage(obj) is None or self.flow.partial(obj)):
            # Metrics are plain numbers no hook can follow: data of unknown origin written
            # now may hold them, so the evaluations so far must be candidates of its upstream.
            self.flush_evaluations()
        sources, precise = self.upstream(obj)
        rowlink, columns = self.flow.rowlink(obj) if obj is not None else (None, ())
        model = obj is not None and is_model(obj)
        chosen = kind or self._write_kind(model, sources, rowlink, precise=precise)
        labels, owners = self.labels.for_path(location.path)
        labels = labels | self.labels.for_columns(_columns(obj))
        facets: dict[str, Any] = {}
        schema = _schema(obj) if obj is not None and not model else None
        if schema:
            facets["schema"] = f.schema(schema)
        rows = row_count(obj) if obj is not None and not model else None
        if rows is not None:
            mapping = self._rows_of_write(obj, chosen, sources, rowlink, columns, rows)
            if mapping is not None:
                facets["threadline_rows"] = mapping
        exact = self.flow.exact(obj) if model else None
        stage = self._write_stage(chosen, sources)
        if kind is None and chosen == "dataset" and stage == "features":
            chosen = "features"  # data derived from recorded, non-raw data: a feature table
        return _WriteDraft(
            location=location,
            hook=hook,
            kind=chosen,
            sources=sources,
            precise=precise,
            labels=labels,
            owners=owners,
            rows=rows,
            facets=facets,
            stage=stage,
            params=exact.params if exact is not None else {},
        )

    def _rows_of_write(
        self,
        obj: object,
        kind: str,
        sources: set[Artifact],
        rowlink: Artifact | None,
        columns: tuple[str, ...],
        rows: int,
    ) -> dict[str, Any] | None:
        """``threadline_rows`` of a written table, or None when its rows map to nothing known.

        Predictions that went through numpy (``proba.round(6)``) lose their own row link, but
        a written table of them is usually still aligned with the scored batch (its id column
        came along): row *k* then maps to row *k* of that batch, and the facet names the model
        that made the predictions and the columns that are not the batch's own.
        """
        predictions = [s for s in sources if s.node.kind == "predictions"]
        made = self._predicted_by.get(predictions[0].node) if len(predictions) == 1 else None
        model = made[0].node if made is not None and made[0] is not None else None
        if rowlink is not None and rowlink.rows == rows:
            if kind != "predictions" or rowlink.node.kind == "predictions":
                return rows_facet(
                    rowlink.node,
                    rows,
                    model=model if kind == "predictions" else None,
                    columns=columns,
                )
            own = {name for name, _ in _schema_fields(rowlink)}
            added = [c for c in _columns(obj) if c not in own]
            return rows_facet(rowlink.node, rows, model=model, columns=added)
        if kind == "predictions" and predictions and predictions[0].rows == rows and made:
            # No row-aligned input left at all: the only predictions made here, same length.
            return rows_facet(predictions[0].node, rows, model=model)
        return None

    def _finish_write(self, draft: _WriteDraft) -> None:
        from threadline.fingerprint import fingerprint_path

        location = draft.location
        path = location.path
        if path is not None and not os.path.exists(path):
            return
        version = fingerprint_path(path) if path is not None else None
        node = NodeId(draft.kind, location.node.namespace, location.node.name, version)
        artifact = Artifact(
            node=node,
            origin="produced",
            labels=draft.labels,
            inherited=self._inherited(draft.sources),
            owners=draft.owners,
            rows=draft.rows,
            label=Path(node.name).name,
            facets=draft.facets,
        )
        self.emit(
            "write",
            artifact.label,
            draft.stage,
            draft.sources,
            [artifact],
            hook=draft.hook,
            precise=draft.precise,
            params=draft.params or None,
        )
        # Not added to what this process has "seen": a file it wrote is not data it holds, so
        # it is no candidate source of what it writes later (unless it reads it back).
        self.produced.add(node.unversioned)

    def _write_kind(
        self, model: bool, sources: set[Artifact], rowlink: Artifact | None, *, precise: bool = True
    ) -> str:
        if model:
            return "model"
        kinds = {source.node.kind for source in sources}
        if not precise and rowlink is None and "evaluation" in kinds:
            # Numbers of unknown origin, aligned with no input's rows, written after metrics
            # were computed: a report of those metrics (``pd.Series(metrics).to_json(…)``).
            return "evaluation"
        if (rowlink is not None and rowlink.node.kind == "predictions") or "predictions" in kinds:
            return "predictions"
        if "evaluation" in kinds and kinds <= {"evaluation", "predictions", "model"}:
            return "evaluation"
        if "features" in kinds:
            return "features"
        return "dataset"

    def _write_stage(self, kind: str, sources: set[Artifact]) -> str:
        override = self._stage_override()
        if override:
            return override
        if kind == "model":
            return "registration"
        if kind == "predictions":
            return "scoring"
        if kind == "evaluation":
            return "evaluation"
        if kind == "features":
            return "features"
        files = [s for s in sources if s.origin in ("read", "loaded")]
        if files and any(not self._is_raw(s) for s in files):
            return "features"
        return "ingestion"

    # --- in-memory artifacts ----------------------------------------------------------------

    def _version(self, obj: object, parts: Mapping[str, Any]) -> str:
        from threadline.fingerprint import fingerprint_object

        version = fingerprint_object(obj)
        if version is not None:
            return version
        import blake3

        # No content fingerprint for this type: a derivation id, deterministic for equal inputs.
        return "dv:" + blake3.blake3(canonical_json(dict(parts))).hexdigest()[:32]

    def _memory(
        self,
        kind: str,
        name: str,
        obj: object,
        sources: set[Artifact],
        *,
        label: str,
        facets: Mapping[str, Any] | None = None,
        parts: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> Artifact:
        version = self._version(
            obj, {"name": name, "inputs": sorted(str(s.node) for s in sources), **(parts or {})}
        )
        extra: dict[str, Any] = dict(facets or {})
        if kind != "model":
            schema = _schema(obj)
            if schema:
                extra.setdefault("schema", f.schema(schema))
        own = self.labels.for_columns(_columns(obj)) if kind != "model" else frozenset()
        return Artifact(
            node=NodeId(kind, self._mem, name, version),
            origin="produced",
            labels=own,
            inherited=self._inherited(sources),
            owners=self.labels.owners,
            rows=row_count(obj) if kind != "model" else None,
            label=label,
            facets=extra,
            params=dict(params or {}),
        )

    def features_of(self, X: object, *, hook: str) -> tuple[set[Artifact], bool]:
        """The artifacts standing for the matrix ``X`` an estimator consumed.

        A frame that *is* an artifact (read from a file, returned by ``transform``) stands for
        itself; any other frame or array is promoted to a features version of its own, whose
        upstream is what it derives from.
        """
        exact = self.flow.exact(X)
        if exact is not None:
            return {exact}, True
        if not is_data(X):
            return set(), True
        sources, precise = self.upstream(X)
        from threadline.fingerprint import fingerprint_object

        if fingerprint_object(X) is None:
            return sources, precise
        rowlink, _ = self.flow.rowlink(X)
        rows = row_count(X)
        facets: dict[str, Any] = {}
        if rowlink is not None and rows is not None and rowlink.rows == rows:
            facets["threadline_rows"] = rows_facet(rowlink.node, rows)
        artifact = self._memory(
            "features", f"{self.job}/features", X, sources, label="features", facets=facets
        )
        self.emit(
            "features", "", self._feature_stage(), sources, [artifact], hook=hook, precise=precise
        )
        self._see(artifact)
        self.flow.track(X, {artifact}, exact=artifact, rowlink=artifact)
        return {artifact}, True

    def _feature_stage(self) -> str:
        return self._stage_override() or "features"

    def model_of(self, estimator: object) -> tuple[set[Artifact], bool]:
        exact = self.flow.exact(estimator)
        if exact is not None:
            return {exact}, True
        known = self.flow.lineage(estimator)
        if known is not None:
            return set(known), True
        return self.upstream(estimator) if is_data(estimator) else (set(self.seen.values()), False)

    # --- estimators ---------------------------------------------------------------------------

    def fitted(
        self,
        estimator: object,
        X: object,
        y: object,
        *,
        hook: str,
        params: Mapping[str, Any] | None = None,
        partial: bool = False,
    ) -> None:
        """``estimator.fit(X, y)`` returned: a model version, or a fitted transformer."""
        self._drain_pending()
        inputs, precise = (
            self.features_of(X, hook=hook) if is_predictor(estimator) else self.upstream(X)
        )
        if y is not None:
            labels, precise_y = self.upstream(y)
            inputs |= labels
            precise = precise and precise_y
        if partial:
            previous = self.flow.exact(estimator)
            if previous is not None:
                inputs.add(previous)
            else:
                inputs |= self.flow.lineage(estimator) or set()
        if not is_predictor(estimator):
            # A transformer: no model version of its own; it carries its training data's lineage.
            self.flow.track(estimator, inputs)
            return
        cls = type(estimator).__name__
        model = self._memory(
            "model", f"{self.job}/model:{cls}", estimator, inputs, label=cls, params=params
        )
        self.emit(
            "fit",
            cls,
            "training",
            inputs,
            [model],
            hook=hook,
            precise=precise,
            params=params,
        )
        self._see(model)
        self.flow.track(estimator, {model}, exact=model)

    def transformed(
        self,
        estimator: object,
        X: object,
        result: object,
        *,
        hook: str,
        fitted_here: bool,
        y: object = None,
    ) -> None:
        """``transform``/``fit_transform`` returned ``result``: a features version."""
        self._drain_pending()
        if result is None or result is X:
            return
        inputs, precise = self.upstream(X)
        if fitted_here:
            if y is not None:
                labels, precise_y = self.upstream(y)
                inputs |= labels
                precise = precise and precise_y
            self.flow.track(estimator, set(inputs))
        else:
            fitted_on, precise_model = self.model_of(estimator)
            inputs |= fitted_on
            precise = precise and precise_model
        cls = type(estimator).__name__
        rowlink, _ = self.flow.rowlink(X)
        exact_x = self.flow.exact(X)
        link = exact_x if exact_x is not None else rowlink
        rows = row_count(result)
        facets: dict[str, Any] = {}
        if link is not None and rows is not None and link.rows == rows:
            facets["threadline_rows"] = rows_facet(link.node, rows)
        features = self._memory(
            "features", f"{self.job}/features:{cls}", result, inputs, label=cls, facets=facets
        )
        self.emit(
            "transform", cls, self._feature_stage(), inputs, [features], hook=hook, precise=precise
        )
        self._see(features)
        self.flow.track(result, {features}, exact=features, rowlink=features)

    def predicted(
        self, estimator: object, X: object, result: object, *, hook: str, method: str
    ) -> None:
        """``predict``-like call returned ``result``: a predictions version."""
        self._drain_pending()
        if result is None:
            return
        model_sources, precise_model = self.model_of(estimator)
        features, precise = self.features_of(X, hook=hook)
        model = next((a for a in model_sources if a.node.kind == "model"), None)
        scored = next(iter(features)) if len(features) == 1 else None
        rows = row_count(result)
        facets: dict[str, Any] = {}
        if scored is not None and rows is not None and scored.rows == rows:
            facets["threadline_rows"] = rows_facet(
                scored.node, rows, model=model.node if model is not None else None
            )
        cls = type(estimator).__name__
        inputs = model_sources | features
        if model is not None and model.origin == "loaded":
            inputs |= self._serving(model)
        predictions = self._memory(
            "predictions",
            f"{self.job}/predictions:{cls}",
            result,
            inputs,
            label=cls,
            facets=facets,
        )
        loaded = model is not None and model.origin == "loaded"
        override = self._stage_override()
        stage = (
            override
            if override in ("scoring", "evaluation")
            else ("scoring" if loaded else "evaluation")
        )
        self.emit(
            "predict",
            cls,
            stage,
            inputs,
            [predictions],
            hook=hook,
            precise=precise and precise_model,
            params={"method": method},
        )
        self._see(predictions)
        self._predicted_by[predictions.node] = (model, scored)
        self.flow.track(result, {predictions}, exact=predictions, rowlink=predictions)

    def _serving(self, model: Artifact) -> set[Artifact]:
        """The deployments serving the loaded ``model`` now: predictions link to them."""
        found: set[Artifact] = set()
        for serving in self.recorded.serving(model.node, datetime.now(UTC)):
            artifact = Artifact(
                node=serving.node,
                origin="read",
                owners=self.labels.owners,
                label=serving.node.name.rpartition("/")[2],
            )
            found.add(artifact)
            self._see(artifact)
            root = self.root
            if root is not None and artifact.node not in root.inputs:
                with capture_boundary("capture.root"):
                    root.read(artifact.node)
        return found

    # --- evaluation ---------------------------------------------------------------------------

    def metric(
        self,
        name: str,
        value: object,
        *data: object,
        hook: str,
        model: object = None,
    ) -> None:
        """A metric was computed on ``data`` (``y_true``, ``y_pred``…); batched per input."""
        number = _as_float(value)
        if number is None:
            return
        sources, precise = self.upstream(*data)
        if model is not None:
            fitted_on, precise_model = self.model_of(model)
            sources |= fitted_on
            precise = precise and precise_model
        predictions = [s for s in sources if s.node.kind == "predictions"]
        scorings: set[NodeId] = set()
        for made in predictions:
            model_, scored = self._predicted_by.get(made.node, (None, None))
            if model_ is not None:
                # Metrics evaluate the model: ``diff`` of two model files finds them this way.
                sources.add(model_)
            if model_ is not None and scored is not None:
                scorings |= {model_.node, scored.node}
            else:
                scorings.add(made.node)
        # ``predict`` and ``predict_proba`` of one model on one batch: one evaluation.
        key = frozenset(scorings or {s.node for s in sources})
        label = (
            next(iter(predictions)).label
            if len(predictions) == 1
            else (type(model).__name__ if model is not None else "")
        )
        with self._lock:
            evaluation = self._evaluations.get(key)
            if evaluation is None:
                if len(self._evaluations) >= _MAX_PENDING_EVALUATIONS:
                    self._flush_evaluation(next(iter(self._evaluations)))
                name_ = f"{self.job}/evaluation:{label}" if label else f"{self.job}/evaluation"
                evaluation = _Evaluation(name_, set(sources), precise)
                self._evaluations[key] = evaluation
            evaluation.sources |= sources
            evaluation.precise = evaluation.precise and precise
            evaluation.metrics[name] = number
            evaluation.hooks.append(hook)

    def flush_evaluations(self) -> None:
        with self._lock:
            keys = list(self._evaluations)
        for key in keys:
            with capture_boundary("capture.evaluation"):
                self._flush_evaluation(key)

    def _flush_evaluation(self, key: frozenset[NodeId]) -> None:
        with self._lock:
            evaluation = self._evaluations.pop(key, None)
        if evaluation is None:
            return
        from threadline.fingerprint import fingerprint_bytes

        body = {
            "metrics": evaluation.metrics,
            "inputs": sorted(str(s.node) for s in evaluation.sources),
        }
        artifact = Artifact(
            node=NodeId(
                "evaluation", self._mem, evaluation.name, fingerprint_bytes(canonical_json(body))
            ),
            origin="produced",
            inherited=self._inherited(evaluation.sources),
            owners=self.labels.owners,
            label=evaluation.name.rpartition("/")[2],
        )
        override = self._stage_override()
        self.emit(
            "evaluate",
            artifact.label.partition(":")[2],
            override if override == "evaluation" else "evaluation",
            evaluation.sources,
            [artifact],
            hook=",".join(sorted(set(evaluation.hooks))),
            precise=evaluation.precise,
            metrics=evaluation.metrics,
        )
        self._see(artifact)

    # --- registries ----------------------------------------------------------------------------

    def registered(
        self,
        model: object,
        node: NodeId,
        *,
        hook: str,
        facets: Mapping[str, Any] | None = None,
        sources: set[Artifact] | None = None,
    ) -> Artifact:
        """A model version was logged or registered in a registry under ``node``."""
        if sources is None:
            sources, precise = self.model_of(model) if model is not None else (set(), True)
        else:
            precise = True
        artifact = Artifact(
            node=node,
            origin="produced",
            inherited=self._inherited(sources),
            owners=self.labels.owners,
            label=node.name.rpartition("/")[2],
            facets=dict(facets or {}),
        )
        override = self._stage_override()
        self.emit(
            "register",
            artifact.label,
            override or "registration",
            sources,
            [artifact],
            hook=hook,
            precise=precise,
        )
        self._see(artifact)
        return artifact

    # --- scope end ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Emit everything still pending (open-file writes, batched evaluations)."""
        self._drain_pending(final=True)
        self.flush_evaluations()
        self.recorded.close()

    def info(self) -> dict[str, Any]:
        counts = dict(failures)
        return {
            "operations": self.operations,
            "imprecise": self.imprecise,
            "failures": sum(counts.values()),
            "failuresByHook": counts,
            **self.links,
        }


def _as_float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    item = getattr(value, "item", None)
    shape = getattr(value, "shape", None)
    if callable(item) and shape == ():
        try:
            out = item()
        except (TypeError, ValueError):
            return None
        return float(out) if isinstance(out, (int, float)) and not isinstance(out, bool) else None
    return None


def iter_tracked(flow: Flow) -> Iterator[tuple[int, Lineage]]:
    """(id, lineage) of every live tracked object (for tests and debugging)."""
    for key, entry in list(flow._entries.items()):
        if entry.ref() is not None:
            yield key, entry.sources
