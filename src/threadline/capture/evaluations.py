"""Captured metrics, batched into one evaluation per evaluated input.

Each metric call (``accuracy_score(y, p)``, ``roc_auc_score(y, proba)``…) is one number; what it
evaluates is the predictions it was given, and the model and batch that made them.  Metrics of
the same model on the same batch (``predict`` and ``predict_proba`` alike) join one pending
evaluation; it is emitted as one ``evaluate`` run, versioned by its metrics and inputs, when
data of unknown origin is written (it may hold them), when the run ends, or when too many are
pending.
"""

from __future__ import annotations

import threading
from typing import Final

from threadline.capture import stage_inference
from threadline.capture.boundary import capture_boundary
from threadline.capture.introspection import as_float
from threadline.capture.recording import Recording
from threadline.capture.tracking import Artifact
from threadline.model.canonical import canonical_json
from threadline.model.ids import NodeId

#: At most this many pending evaluations before the oldest is emitted.
MAX_PENDING: Final = 64


class Evaluation:
    """Metrics computed on one evaluated input, not emitted yet.  (A plain slotted class: a
    dataclass costs every capture start ~0.5 ms to define.)"""

    __slots__ = ("hooks", "metrics", "name", "precise", "sources")

    def __init__(self, name: str, sources: set[Artifact], precise: bool) -> None:
        self.name = name
        self.sources = sources
        self.precise = precise
        self.metrics: dict[str, float] = {}
        self.hooks: list[str] = []


class Evaluations:
    """The pending evaluations of one capture session."""

    def __init__(self, recording: Recording) -> None:
        self._recording = recording
        self._pending: dict[frozenset[NodeId], Evaluation] = {}
        self._lock = threading.RLock()

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def metric(
        self,
        name: str,
        value: object,
        *data: object,
        hook: str,
        model: object = None,
    ) -> None:
        """A metric was computed on ``data`` (``y_true``, ``y_pred``…); batched per input."""
        number = as_float(value)
        if number is None:
            return
        recording = self._recording
        sources, precise = recording.upstream(*data)
        if model is not None:
            fitted_on, precise_model = recording.model_of(model)
            sources |= fitted_on
            precise = precise and precise_model
        predictions = [s for s in sources if s.node.kind == "predictions"]
        scorings: set[NodeId] = set()
        for made in predictions:
            model_, scored = recording.predicted_by.get(made.node, (None, None))
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
            evaluation = self._pending.get(key)
            if evaluation is None:
                if len(self._pending) >= MAX_PENDING:
                    self._emit(next(iter(self._pending)))
                job = recording.job
                name_ = f"{job}/evaluation:{label}" if label else f"{job}/evaluation"
                evaluation = Evaluation(name_, set(sources), precise)
                self._pending[key] = evaluation
            evaluation.sources |= sources
            evaluation.precise = evaluation.precise and precise
            evaluation.metrics[name] = number
            evaluation.hooks.append(hook)

    def flush(self) -> None:
        """Emit every pending evaluation."""
        with self._lock:
            keys = list(self._pending)
        for key in keys:
            with capture_boundary("capture.evaluation"):
                self._emit(key)

    def _emit(self, key: frozenset[NodeId]) -> None:
        with self._lock:
            evaluation = self._pending.pop(key, None)
        if evaluation is None:
            return
        # the fingerprint modules load with the first record, not at capture's start
        from threadline.fingerprint import fingerprint_bytes

        recording = self._recording
        body = {
            "metrics": evaluation.metrics,
            "inputs": sorted(str(s.node) for s in evaluation.sources),
        }
        artifact = Artifact(
            node=NodeId(
                "evaluation",
                recording.memory,
                evaluation.name,
                fingerprint_bytes(canonical_json(body)),
            ),
            origin="produced",
            inherited=recording.inherited(evaluation.sources),
            owners=recording.labels.owners,
            label=evaluation.name.rpartition("/")[2],
        )
        recording.emit(
            "evaluate",
            artifact.label.partition(":")[2],
            stage_inference.EVALUATION,
            evaluation.sources,
            [artifact],
            hook=",".join(sorted(set(evaluation.hooks))),
            precise=evaluation.precise,
            metrics=evaluation.metrics,
        )
        recording.see(artifact)


__all__ = ["MAX_PENDING", "Evaluation", "Evaluations"]
