"""The state of one capture session, and how each captured operation becomes a run.

Completeness first
    When an object's origin is known (it is the frame ``read_csv`` returned, a column selection
    of it, the array ``predict`` returned…) its upstream is exactly that.  When it is not (a
    frame built from Python lists, an array from arithmetic), the upstream is everything the
    run holds that such data may hide (:meth:`~threadline.capture.tracking.Flow.unfollowed`:
    not a file whose frames never left the operations the hooks follow, nor one read after
    the data was made), and the run says so (``threadline_capture.precise`` is false).  An
    edge may be superfluous, never missing.

One run per operation
    The script (or notebook) is one run (:func:`start_root`).  Each operation that produces an
    artifact is a child run of it (OpenLineage ``parent`` facet) whose inputs are exactly that
    artifact's upstream: ``features`` (a frame promoted to a features version, or ``transform``
    output), ``fit`` (a model version), ``predict`` (a predictions version), ``evaluate``
    (metrics), ``write`` (a file), ``register`` (a registry entry).  This is what lets
    ``trace model.joblib`` name file A and not the unrelated file B the same script also read.
    The script run itself lists every file read as an input and has no outputs, so it adds no
    false paths.

:class:`Recording` holds what every kind of operation needs: the object tracker, what this
process has seen and produced, the labels, the answers about earlier runs, and :meth:`emit`.
The operations themselves are in :mod:`~threadline.capture.recorder` (reads, registries),
:mod:`~threadline.capture.writes`, :mod:`~threadline.capture.estimators` and
:mod:`~threadline.capture.evaluations`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from threadline.capture import stage_inference
from threadline.capture.answers import Answers
from threadline.capture.api import RunRecorder, memory_namespace
from threadline.capture.context import current_run
from threadline.capture.facets import capture_facet
from threadline.capture.introspection import is_data, is_model
from threadline.capture.labels import Labels
from threadline.capture.project import Project
from threadline.capture.tracking import Artifact, Flow, Lineage
from threadline.model.ids import NodeId


class CapturedRun(RunRecorder):
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
    project: Project | None = None,
    run_id: str | None = None,
    started: str | None = None,
    script: str | None = None,
) -> RunRecorder:
    """Start the script's (or notebook's) own run, the parent of every captured operation;
    ``run_id`` and ``started``: the id and start the process gave its run before capture
    started (:mod:`threadline.capture.bootstrap`); ``script``: the file it runs.  Its START is
    built and emitted on a thread (see ``RunRecorder.start_in_background``)."""
    recorder = CapturedRun(
        job, stage=stage, namespace=namespace, reason=reason, params=params, project=project
    )
    if run_id is not None:
        recorder.run_id = run_id
    if started is not None:
        recorder._started = started
    if script is not None:
        recorder.script = script  # before START is built
    recorder.start_in_background = True
    recorder.capture_info = info
    recorder.__enter__()
    return recorder


class Recording:
    """What one capture session knows, and how an operation is emitted as a child run."""

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
        self.job = job
        self.namespace = namespace
        #: The project every run of this session belongs to (None: found per run).
        self.project = project
        self.labels = labels
        self.stage_override = stage
        #: What earlier runs recorded (labels of files read, deployments, produced or raw).
        self.answers = answers
        self.flow = Flow()
        self.root: RunRecorder | None = None
        self.seen: dict[NodeId, Artifact] = {}
        self.produced: set[NodeId] = set()
        #: Model versions fitted here that were saved to a file already (a later save copies).
        self.saved_models: set[NodeId] = set()
        self.stages: set[str] = set()
        self.operations = 0
        self.imprecise = 0
        #: Added to every operation's ``threadline_capture`` facet (e.g. the notebook cell).
        self.context: dict[str, Any] = {}
        #: Added to the script run's ``threadline_capture`` facet (e.g. MLflow run ids).
        self.links: dict[str, list[str]] = {}
        #: predictions version -> (model version that made them, the batch it scored).
        self.predicted_by: dict[NodeId, tuple[Artifact | None, Artifact | None]] = {}
        #: Namespace of the datasets that live in this process's memory.
        self.memory = memory_namespace(namespace)
        self._lock = threading.Lock()

    # --- lineage ------------------------------------------------------------------------

    def upstream(self, *objs: object) -> tuple[set[Artifact], bool]:
        """The artifacts ``objs`` derive from; falls back to what they may hide (not precise)."""
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
            # Only what data of unknown origin may hide: not files whose frames never left
            # the operations the hooks follow (tracking.Flow.contain).
            sources.update(self.flow.unfollowed(self.seen.values(), objs))
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

    def model_of(self, estimator: object) -> tuple[set[Artifact], bool]:
        """The model version (or, for a transformer, the training data) ``estimator`` is."""
        exact = self.flow.exact(estimator)
        if exact is not None:
            return {exact}, True
        known = self.flow.lineage(estimator)
        if known is not None:
            return set(known), True
        if is_data(estimator):
            return self.upstream(estimator)
        return self.flow.unfollowed(self.seen.values()), False

    def inherited(self, sources: Iterable[Artifact]) -> frozenset[str]:
        """The labels an artifact derived from ``sources`` inherits."""
        labels: set[str] = set()
        for source in sources:
            labels.update(source.all_labels)
            if source.origin in ("read", "loaded") and source.node.kind != "deployment":
                # Labels the file was given when another process wrote it.
                labels.update(self.answers.labels(source.node))
        return frozenset(labels)

    def is_raw(self, artifact: Artifact) -> bool:
        """Read from a file no recorded run (this one included) wrote."""
        if artifact.origin not in ("read", "loaded"):
            return False
        if artifact.node.unversioned.with_version(None) in self.produced:
            return False
        return self.answers.produced(artifact.node) is not True

    def see(self, artifact: Artifact) -> None:
        """``artifact`` is data this process holds: a candidate upstream of what it writes."""
        self.seen.setdefault(artifact.node, artifact)

    def first_save(self, model: Artifact | None) -> bool:
        """Whether saving ``model`` now is the first save of a version fitted in this process."""
        if model is None or model.origin != "produced" or model.node.kind != "model":
            return False
        with self._lock:
            if model.node in self.saved_models:
                return False
            self.saved_models.add(model.node)
            return True

    def current_stage(self) -> str | None:
        """The stage the user set: of the enclosing ``threadline.run``, or of the session."""
        run = current_run.get()
        if run is not None and run is not self.root and run.stage:
            return run.stage
        return self.stage_override

    def inferred_stage(self) -> str | None:
        """The stage of the script's own run, from the operations it performed."""
        return stage_inference.script_stage(self.stages)

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
        recorder = CapturedRun(
            job,
            stage=stage,
            namespace=self.namespace,
            params=params,
            project=self.project,
            strict=self.root.strict if self.root is not None else None,
        )
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


__all__ = ["CapturedRun", "Recording", "start_root"]
