"""Captured model operations: fit, transform and predict, and the in-memory versions they make.

A fitted predictor is a *model* version, derived from the features it was fitted on (and the
labels); a fitted transformer has no version of its own and carries its training data's
lineage.  ``transform`` output is a *features* version, ``predict`` output a *predictions*
version, both kept in memory and versioned by content (or, for a type that cannot be
fingerprinted, by a derivation id: equal inputs give equal ids).  Predictions of a model loaded
from a file link to the deployments that serve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import blake3

from threadline.capture import introspection, stage_inference
from threadline.capture.boundary import capture_boundary
from threadline.capture.facets import rows_facet
from threadline.capture.recording import Recording
from threadline.capture.tracking import Artifact
from threadline.model import facets as f
from threadline.model.canonical import canonical_json
from threadline.model.ids import NodeId


class Estimators:
    """The model operations of one capture session."""

    def __init__(self, recording: Recording) -> None:
        self._recording = recording

    # --- in-memory artifacts --------------------------------------------------------------

    def _version(self, obj: object, parts: Mapping[str, Any]) -> str:
        # the fingerprint modules load with the first record, not at capture's start
        from threadline.fingerprint import fingerprint_object

        version = fingerprint_object(obj)
        if version is not None:
            return version
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
        version: str | None = None,
    ) -> Artifact:
        """``version``: the content fingerprint of ``obj`` when the caller has it already."""
        recording = self._recording
        if version is None:
            version = self._version(
                obj,
                {"name": name, "inputs": sorted(str(s.node) for s in sources), **(parts or {})},
            )
        extra: dict[str, Any] = dict(facets or {})
        if kind != "model":
            schema = introspection.schema(obj)
            if schema:
                extra.setdefault("schema", f.schema(schema))
        own = (
            recording.labels.for_columns(introspection.columns(obj))
            if kind != "model"
            else frozenset()
        )
        return Artifact(
            node=NodeId(kind, recording.memory, name, version),
            origin="produced",
            labels=own,
            inherited=recording.inherited(sources),
            owners=recording.labels.owners,
            rows=introspection.row_count(obj) if kind != "model" else None,
            label=label,
            facets=extra,
            # Kept as given: a Parameters mapping knows which keys were set explicitly.
            params=params if params is not None else {},
        )

    def features_of(self, X: object, *, hook: str) -> tuple[set[Artifact], bool]:
        """The artifacts standing for the matrix ``X`` an estimator consumed.

        A frame that *is* an artifact (read from a file, returned by ``transform``) stands for
        itself; any other frame or array is promoted to a features version of its own, whose
        upstream is what it derives from.
        """
        recording = self._recording
        exact = recording.flow.exact(X)
        if exact is not None:
            return {exact}, True
        if not introspection.is_data(X):
            return set(), True
        sources, precise = recording.upstream(X)
        # the fingerprint modules load with the first record, not at capture's start
        from threadline.fingerprint import fingerprint_object

        version = fingerprint_object(X)
        if version is None:
            return sources, precise
        rowlink, _ = recording.flow.rowlink(X)
        rows = introspection.row_count(X)
        facets: dict[str, Any] = {}
        if rowlink is not None and rows is not None and rowlink.rows == rows:
            facets["threadline_rows"] = rows_facet(rowlink.node, rows)
        artifact = self._memory(
            "features",
            f"{recording.job}/features",
            X,
            sources,
            label="features",
            facets=facets,
            version=version,
        )
        recording.emit(
            "features",
            "",
            stage_inference.feature_stage(recording.current_stage()),
            sources,
            [artifact],
            hook=hook,
            precise=precise,
        )
        recording.see(artifact)
        recording.flow.track(X, {artifact}, exact=artifact, rowlink=artifact)
        return {artifact}, True

    # --- estimators -------------------------------------------------------------------------

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
        recording = self._recording
        inputs, precise = (
            self.features_of(X, hook=hook)
            if introspection.is_predictor(estimator)
            else recording.upstream(X)
        )
        if y is not None:
            labels, precise_y = recording.upstream(y)
            inputs |= labels
            precise = precise and precise_y
        if partial:
            previous = recording.flow.exact(estimator)
            if previous is not None:
                inputs.add(previous)
            else:
                inputs |= recording.flow.lineage(estimator) or set()
        if not introspection.is_predictor(estimator):
            # A transformer: no model version of its own; it carries its training data's lineage.
            recording.flow.track(estimator, inputs)
            return
        cls = type(estimator).__name__
        model = self._memory(
            "model", f"{recording.job}/model:{cls}", estimator, inputs, label=cls, params=params
        )
        recording.emit(
            "fit",
            cls,
            stage_inference.TRAINING,
            inputs,
            [model],
            hook=hook,
            precise=precise,
            params=params,
        )
        recording.see(model)
        recording.flow.track(estimator, {model}, exact=model)

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
        recording = self._recording
        if result is None or result is X:
            return
        inputs, precise = recording.upstream(X)
        if fitted_here:
            if y is not None:
                labels, precise_y = recording.upstream(y)
                inputs |= labels
                precise = precise and precise_y
            recording.flow.track(estimator, set(inputs))
        else:
            fitted_on, precise_model = recording.model_of(estimator)
            inputs |= fitted_on
            precise = precise and precise_model
        cls = type(estimator).__name__
        rowlink, _ = recording.flow.rowlink(X)
        exact_x = recording.flow.exact(X)
        link = exact_x if exact_x is not None else rowlink
        rows = introspection.row_count(result)
        facets: dict[str, Any] = {}
        if link is not None and rows is not None and link.rows == rows:
            facets["threadline_rows"] = rows_facet(link.node, rows)
        features = self._memory(
            "features", f"{recording.job}/features:{cls}", result, inputs, label=cls, facets=facets
        )
        recording.emit(
            "transform",
            cls,
            stage_inference.feature_stage(recording.current_stage()),
            inputs,
            [features],
            hook=hook,
            precise=precise,
        )
        recording.see(features)
        recording.flow.track(result, {features}, exact=features, rowlink=features)

    def predicted(
        self, estimator: object, X: object, result: object, *, hook: str, method: str
    ) -> None:
        """``predict``-like call returned ``result``: a predictions version."""
        recording = self._recording
        if result is None:
            return
        model_sources, precise_model = recording.model_of(estimator)
        features, precise = self.features_of(X, hook=hook)
        model = next((a for a in model_sources if a.node.kind == "model"), None)
        scored = next(iter(features)) if len(features) == 1 else None
        rows = introspection.row_count(result)
        facets: dict[str, Any] = {}
        if scored is not None and rows is not None and scored.rows == rows:
            facets["threadline_rows"] = rows_facet(
                scored.node, rows, model=model.node if model is not None else None
            )
        cls = type(estimator).__name__
        inputs = model_sources | features
        loaded = model is not None and model.origin == "loaded"
        if model is not None and loaded:
            inputs |= self._serving(model)
        predictions = self._memory(
            "predictions",
            f"{recording.job}/predictions:{cls}",
            result,
            inputs,
            label=cls,
            facets=facets,
        )
        recording.emit(
            "predict",
            cls,
            stage_inference.prediction_stage(recording.current_stage(), loaded_model=loaded),
            inputs,
            [predictions],
            hook=hook,
            precise=precise and precise_model,
            params={"method": method},
        )
        recording.see(predictions)
        recording.predicted_by[predictions.node] = (model, scored)
        recording.flow.track(result, {predictions}, exact=predictions, rowlink=predictions)

    def _serving(self, model: Artifact) -> set[Artifact]:
        """The deployments serving the loaded ``model`` now: predictions link to them."""
        recording = self._recording
        found: set[Artifact] = set()
        for serving in recording.answers.serving(model.node, datetime.now(UTC)):
            artifact = Artifact(
                node=serving.node,
                origin="read",
                owners=recording.labels.owners,
                label=serving.node.name.rpartition("/")[2],
            )
            found.add(artifact)
            recording.see(artifact)
            root = recording.root
            if root is not None and artifact.node not in root.inputs:
                with capture_boundary("capture.root"):
                    root.read(artifact.node)
        return found


__all__ = ["Estimators"]
