"""The recording side of automatic capture: what the hooks call, in user-facing terms.

A hook reports what the library call it wrapped did (``read``, ``wrote``, ``fitted``,
``transformed``, ``predicted``, ``metric``, ``registered``); :class:`Capture` turns each into
lineage: reads are recorded here, writes, model operations and metrics by their own modules
(:mod:`~threadline.capture.writes`, :mod:`~threadline.capture.estimators`,
:mod:`~threadline.capture.evaluations`), all sharing one :class:`~threadline.capture.recording.Recording`
(see there for how operations become runs).  Before each operation, writes to files closed
since are emitted, so that their versions are what ended up on disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from threadline.capture import introspection, stage_inference, stats_cache
from threadline.capture.answers import Answers
from threadline.capture.boundary import capture_boundary, failures
from threadline.capture.column_stats import FACET as COLUMN_STATS
from threadline.capture.column_stats import column_stats
from threadline.capture.estimators import Estimators
from threadline.capture.evaluations import Evaluations
from threadline.capture.labels import Labels
from threadline.capture.locations import Location, locations
from threadline.capture.project import Project
from threadline.capture.recording import Recording
from threadline.capture.tracking import Artifact
from threadline.capture.writes import Writes
from threadline.model import facets as f
from threadline.model.ids import NodeId

#: Frames read whose column statistics are remembered at most (the oldest go first).
_READ_STATISTICS_KEPT: Final = 256


class Capture(Recording):
    """One process's automatic capture, as the hooks see it."""

    def __init__(
        self,
        *,
        job: str,
        namespace: str,
        labels: Labels,
        answers: Answers,
        stage: str | None = None,
        project: Project | None = None,
    ) -> None:
        super().__init__(
            job=job,
            namespace=namespace,
            labels=labels,
            answers=answers,
            stage=stage,
            project=project,
        )
        self.evaluations = Evaluations(self)
        self.writes = Writes(self, self.evaluations)
        self.estimators = Estimators(self)
        #: Column statistics of frames read: (file version, schema, rows) -> statistics.
        self._read_statistics: dict[tuple[Any, ...], dict[str, Any] | None] = {}

    # --- reads ----------------------------------------------------------------------------

    def file_artifact(
        self, location: Location, kind: str, *, obj: object = None, origin: str = "read"
    ) -> Artifact | None:
        # the fingerprint modules load with the first record, not at capture's start
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
        columns = introspection.columns(obj) if obj is not None else []
        labels = labels | self.labels.for_columns(columns)
        facets: dict[str, Any] = {}
        schema = (
            introspection.schema(obj)
            if obj is not None and not introspection.is_model(obj)
            else None
        )
        if schema:
            facets["schema"] = f.schema(schema)
            # A raw file is only ever read: its statistics are what drift compares it by.
            stats = self._statistics_of_read(node, schema, obj)
            if stats is not None:
                facets[COLUMN_STATS] = stats
        return Artifact(
            node=node,
            origin=origin,
            labels=labels,
            owners=owners,
            rows=introspection.row_count(obj) if obj is not None else None,
            label=Path(node.name).name or node.name,
            facets=facets,
        )

    def _statistics_of_read(
        self, node: NodeId, schema: Sequence[tuple[str, str]], obj: object
    ) -> dict[str, Any] | None:
        """Column statistics of a frame read from ``node``.  A loop that reads the same file
        version into a frame of the same shape again is described once: describing a
        100,000-row frame costs more than reading it from parquet.  So is a file version
        read by an earlier run (kept on disk: :mod:`threadline.capture.stats_cache`)."""
        if node.version is None:
            return column_stats(obj)
        rows = introspection.row_count(obj)
        key = (node, tuple(schema), rows)
        cache = self._read_statistics
        if key in cache:
            return cache[key]
        if len(cache) >= _READ_STATISTICS_KEPT:
            del cache[next(iter(cache))]
        name = stats_cache.entry_name(node.version, schema, rows)
        found, stats = stats_cache.recalled(name)
        if not found:
            stats = column_stats(obj)
            stats_cache.keep(name, stats)
        cache[key] = stats
        return stats

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
        self.writes.drain()
        model = obj is not None and introspection.is_model(obj)
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
            self.answers.start()
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
            labels = labels | self.labels.for_columns(introspection.columns(obj))
            artifacts.append(
                Artifact(node=node, origin="read", labels=labels, owners=owners, label=node.name)
            )
        self._register_reads(artifacts)
        if obj is not None and artifacts:
            self.flow.track(obj, artifacts, exact=artifacts[0] if len(artifacts) == 1 else None)
        return artifacts

    def _register_reads(self, artifacts: Sequence[Artifact]) -> None:
        for artifact in artifacts:
            self.see(artifact)
            root = self.root
            if root is not None and artifact.node not in root.inputs:
                with capture_boundary("capture.root"):
                    root.read(artifact.node, facets=artifact.dataset_facets())
        if artifacts:
            self.answers.prefetch(
                [a.node for a in artifacts if a.node.unversioned not in self.produced]
            )

    # --- writes, model operations, metrics ----------------------------------------------------

    def wrote(self, obj: object, target: object, *, hook: str, kind: str | None = None) -> None:
        """``obj`` was written to ``target``; open file objects are handled once closed."""
        self.writes.drain()
        self.writes.wrote(obj, target, hook=hook, kind=kind)

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
        self.writes.drain()
        self.estimators.fitted(estimator, X, y, hook=hook, params=params, partial=partial)

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
        self.writes.drain()
        self.estimators.transformed(estimator, X, result, hook=hook, fitted_here=fitted_here, y=y)

    def predicted(
        self, estimator: object, X: object, result: object, *, hook: str, method: str
    ) -> None:
        """``predict``-like call returned ``result``: a predictions version."""
        self.writes.drain()
        self.estimators.predicted(estimator, X, result, hook=hook, method=method)

    def metric(
        self,
        name: str,
        value: object,
        *data: object,
        hook: str,
        model: object = None,
    ) -> None:
        """A metric was computed on ``data`` (``y_true``, ``y_pred``…); batched per input."""
        self.evaluations.metric(name, value, *data, hook=hook, model=model)

    # --- registries ---------------------------------------------------------------------------

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
            inherited=self.inherited(sources),
            owners=self.labels.owners,
            label=node.name.rpartition("/")[2],
            facets=dict(facets or {}),
        )
        self.emit(
            "register",
            artifact.label,
            stage_inference.registration_stage(self.current_stage()),
            sources,
            [artifact],
            hook=hook,
            precise=precise,
        )
        self.see(artifact)
        return artifact

    # --- scope end ----------------------------------------------------------------------------

    def finish(self) -> None:
        """Emit everything still pending (open-file writes, batched evaluations)."""
        self.writes.drain(final=True)
        self.evaluations.flush()

    def close(self) -> None:
        """Stop asking about earlier runs (the session ends)."""
        self.answers.close()

    def info(self) -> dict[str, Any]:
        """The script run's ``threadline_capture`` facet: operations, precision, failures."""
        counts = dict(failures)
        return {
            "operations": self.operations,
            "imprecise": self.imprecise,
            "failures": sum(counts.values()),
            "failuresByHook": counts,
            **self.links,
        }


__all__ = ["Capture"]
