"""Captured writes: which artifact a write produced, what it derives from, which stage it is.

A write is described when the hooked call returns (:class:`WriteDraft`: upstream, kind, stage,
labels, row mapping) and emitted once the file is complete: at once for a path, and for an
open file object once it is closed (at the next captured call, or when the run ends), so the
recorded version is what ended up on disk.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from threadline.capture import introspection, stage_inference
from threadline.capture.boundary import capture_boundary
from threadline.capture.column_stats import FACET as COLUMN_STATS
from threadline.capture.column_stats import column_stats
from threadline.capture.evaluations import Evaluations
from threadline.capture.facets import rows_facet
from threadline.capture.locations import Location, locations
from threadline.capture.recording import Recording
from threadline.capture.tracking import Artifact
from threadline.frozen import frozen_record
from threadline.model import facets as f
from threadline.model.ids import NodeId

_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


@frozen_record
class WriteDraft:
    """A write described at call time; fingerprinted and emitted once the file is complete.
    (A frozen record: a dataclass costs every capture start ~0.8 ms to define.)"""

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
    params: Mapping[str, Any] = _NO_PARAMS


def _schema_fields(artifact: Artifact) -> list[tuple[str, str]]:
    schema = artifact.facets.get("schema") or {}
    return [(str(x.get("name")), str(x.get("type"))) for x in schema.get("fields", [])]


class Writes:
    """The writes of one capture session, including those still buffered in open files."""

    def __init__(self, recording: Recording, evaluations: Evaluations) -> None:
        self._recording = recording
        self._evaluations = evaluations
        self._pending: list[tuple[weakref.ReferenceType[Any], WriteDraft]] = []

    def wrote(self, obj: object, target: object, *, hook: str, kind: str | None = None) -> None:
        """``obj`` was written to ``target``; open file objects are handled once closed."""
        for location in locations(target):
            path = location.path
            if path is not None and self._recording.labels.ignored(path):
                continue
            draft = self._draft(obj, location, hook=hook, kind=kind)
            handle = location.handle
            if handle is not None and not getattr(handle, "closed", True):
                # Still buffered in the user's open file: fingerprint once it is closed.
                try:
                    self._pending.append((weakref.ref(handle), draft))
                    continue
                except TypeError:
                    pass
            self._finish(draft)

    def drain(self, *, final: bool = False) -> None:
        """Emit the writes whose files are closed now (with ``final``, every one)."""
        if not self._pending:
            return
        keep = []
        for ref, draft in self._pending:
            handle = ref()
            if handle is not None and not getattr(handle, "closed", True) and not final:
                keep.append((ref, draft))
                continue
            with capture_boundary(draft.hook):
                self._finish(draft)
        self._pending = keep

    def _draft(self, obj: object, location: Location, *, hook: str, kind: str | None) -> WriteDraft:
        recording = self._recording
        flow = recording.flow
        if self._evaluations.pending and (flow.lineage(obj) is None or flow.partial(obj)):
            # Metrics are plain numbers no hook can follow: data of unknown origin written
            # now may hold them, so the evaluations so far must be candidates of its upstream.
            self._evaluations.flush()
        sources, precise = recording.upstream(obj)
        rowlink, columns = flow.rowlink(obj) if obj is not None else (None, ())
        model = obj is not None and introspection.is_model(obj)
        chosen = kind or stage_inference.write_kind(
            model=model,
            source_kinds={source.node.kind for source in sources},
            row_kind=rowlink.node.kind if rowlink is not None else None,
            precise=precise,
        )
        labels, owners = recording.labels.for_path(location.path)
        labels = labels | recording.labels.for_columns(introspection.columns(obj))
        facets: dict[str, Any] = {}
        schema = introspection.schema(obj) if obj is not None and not model else None
        if schema:
            facets["schema"] = f.schema(schema)
            stats = column_stats(obj)
            if stats is not None:
                facets[COLUMN_STATS] = stats
        rows = introspection.row_count(obj) if obj is not None and not model else None
        if rows is not None:
            mapping = self._rows(obj, chosen, sources, rowlink, columns, rows)
            if mapping is not None:
                facets["threadline_rows"] = mapping
        exact = flow.exact(obj) if model else None
        stage = stage_inference.write_stage(
            chosen, recording.current_stage(), new_model=recording.first_save(exact)
        )
        if stage is None:
            files = [s for s in sources if s.origin in ("read", "loaded")]
            stage = stage_inference.data_stage(any(not recording.is_raw(s) for s in files))
        if kind is None and chosen == "dataset" and stage == "features":
            chosen = "features"  # data derived from recorded, non-raw data: a feature table
        return WriteDraft(
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

    def _rows(
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
        made = (
            self._recording.predicted_by.get(predictions[0].node) if len(predictions) == 1 else None
        )
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
            added = [c for c in introspection.columns(obj) if c not in own]
            return rows_facet(rowlink.node, rows, model=model, columns=added)
        if kind == "predictions" and predictions and predictions[0].rows == rows and made:
            # No row-aligned input left at all: the only predictions made here, same length.
            return rows_facet(predictions[0].node, rows, model=model)
        return None

    def _finish(self, draft: WriteDraft) -> None:
        # the fingerprint modules load with the first record, not at capture's start
        from threadline.fingerprint import fingerprint_path

        recording = self._recording
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
            inherited=recording.inherited(draft.sources),
            owners=draft.owners,
            rows=draft.rows,
            label=Path(node.name).name,
            facets=draft.facets,
        )
        recording.emit(
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
        recording.produced.add(node.unversioned)


__all__ = ["WriteDraft", "Writes"]
