"""Facets threadline writes, each naming the schema it implements.

Where OpenLineage has a standard facet (``version``, ``schema``, ``ownership``,
``sourceCodeLocation``, ``parent``, ``processing_engine``, ``dataQualityMetrics``) threadline
uses it as is.  ML meaning that no standard facet carries lives in custom facets with the
``threadline_`` prefix, the OpenLineage convention for producer-specific facets:

===========================  ===========  ==========================================================
facet key                    attached to  fields
===========================  ===========  ==========================================================
``threadline_artifact``      dataset      ``kind`` (dataset, features, model, evaluation, …)
``threadline_classification`` dataset     ``labels`` (e.g. ``["pii"]``), ``inherited`` labels
``threadline_quality``       dataset      ``metrics`` name → number (accuracy, rmse, …)
``threadline_stage``         job          ``stage`` (ingestion, features, training, …)
``threadline_reason``        run          ``reason``: why this change happened
``threadline_context``       run          user, host, pid, python, packages, git, script hash
``threadline_parameters``    run          ``parameters`` name → JSON value, ``explicit`` keys
``threadline_execution``     run          ``executionId``: deterministic id of the execution
``threadline_deployment``    dataset      ``endpoint``, ``environment``, ``validFrom/To``
===========================  ===========  ==========================================================
"""

from __future__ import annotations

from typing import Any, Final

from threadline._version import __version__
from threadline.errors import UsageError
from threadline.model.ids import ARTIFACT_KINDS
from threadline.model.machine import python_version
from threadline.model.producer import PRODUCER
from threadline.model.stages import check_stage

_OL = "https://openlineage.io/spec/facets"
_TL = "https://threadline.dev/spec/facets/1-0-0"

VERSION_SCHEMA: Final = (
    f"{_OL}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
)
SCHEMA_SCHEMA: Final = f"{_OL}/1-2-0/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
OWNERSHIP_DATASET_SCHEMA: Final = (
    f"{_OL}/1-0-1/OwnershipDatasetFacet.json#/$defs/OwnershipDatasetFacet"
)
OWNERSHIP_JOB_SCHEMA: Final = f"{_OL}/1-0-1/OwnershipJobFacet.json#/$defs/OwnershipJobFacet"
SOURCE_CODE_LOCATION_SCHEMA: Final = (
    f"{_OL}/1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
)
PARENT_SCHEMA: Final = f"{_OL}/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet"
PROCESSING_ENGINE_SCHEMA: Final = (
    f"{_OL}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
)
QUALITY_METRICS_SCHEMA: Final = (
    f"{_OL}/1-0-0/DataQualityMetricsDatasetFacet.json#/$defs/DataQualityMetricsDatasetFacet"
)


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


def version(fingerprint: str) -> dict[str, Any]:
    """``version`` (standard): the content fingerprint as ``datasetVersion``."""
    return _facet(VERSION_SCHEMA, datasetVersion=fingerprint)


def schema(fields: list[tuple[str, str]]) -> dict[str, Any]:
    """``schema`` (standard): column names and types."""
    return _facet(SCHEMA_SCHEMA, fields=[{"name": n, "type": t} for n, t in fields])


def ownership(owners: list[str], *, job: bool = False) -> dict[str, Any]:
    """``ownership`` (standard): owners as URNs such as ``user:jdoe`` or ``team:fraud``."""
    schema_url = OWNERSHIP_JOB_SCHEMA if job else OWNERSHIP_DATASET_SCHEMA
    return _facet(schema_url, owners=[{"name": owner} for owner in owners])


def artifact(kind: str) -> dict[str, Any]:
    """``threadline_artifact``: what an ML dataset is (dataset, features, model, …)."""
    if kind not in ARTIFACT_KINDS:
        raise UsageError(
            f"unknown artifact kind {kind!r}; expected one of {', '.join(ARTIFACT_KINDS)}"
        )
    return _facet(f"{_TL}/ArtifactDatasetFacet.json", kind=kind)


def classification(labels: list[str], inherited: list[str] | None = None) -> dict[str, Any]:
    """``threadline_classification``: labels such as ``pii``; ``inherited`` came from upstream."""
    body = _facet(f"{_TL}/ClassificationDatasetFacet.json", labels=sorted(set(labels)))
    if inherited:
        body["inherited"] = sorted(set(inherited))
    return body


def quality(metrics: dict[str, float]) -> dict[str, Any]:
    """``threadline_quality``: named quality or evaluation metrics."""
    return _facet(f"{_TL}/QualityDatasetFacet.json", metrics=dict(sorted(metrics.items())))


def stage(name: str) -> dict[str, Any]:
    """``threadline_stage``: where in the ML lifecycle a job sits."""
    return _facet(f"{_TL}/StageJobFacet.json", stage=check_stage(name))


def reason(text: str) -> dict[str, Any]:
    """``threadline_reason``: why this change happened, in the author's words."""
    return _facet(f"{_TL}/ReasonRunFacet.json", reason=text)


def parameters(values: dict[str, Any], explicit: list[str] | None = None) -> dict[str, Any]:
    """``threadline_parameters``: the parameters the run was given; ``explicit`` names those
    set away from their defaults when ``values`` holds every effective one (estimators)."""
    body = _facet(f"{_TL}/ParametersRunFacet.json", parameters=values)
    if explicit is not None:
        body["explicit"] = explicit
    return body


def context(fields: dict[str, Any]) -> dict[str, Any]:
    """``threadline_context``: who ran it, where, with which code and packages."""
    return _facet(f"{_TL}/ContextRunFacet.json", **fields)


def execution(execution_id: str, parts: dict[str, Any]) -> dict[str, Any]:
    """``threadline_execution``: the deterministic execution id and what it was derived from."""
    return _facet(f"{_TL}/ExecutionRunFacet.json", executionId=execution_id, derivedFrom=parts)


def deployment(
    endpoint: str, environment: str, valid_from: str, valid_to: str | None
) -> dict[str, Any]:
    """``threadline_deployment``: where a model serves and during which time window."""
    body = _facet(
        f"{_TL}/DeploymentDatasetFacet.json",
        endpoint=endpoint,
        environment=environment,
        validFrom=valid_from,
    )
    if valid_to is not None:
        body["validTo"] = valid_to
    return body


def parent(run_id: str, namespace: str, name: str) -> dict[str, Any]:
    """``parent`` (standard): the run that started this one."""
    return _facet(PARENT_SCHEMA, run={"runId": run_id}, job={"namespace": namespace, "name": name})


def source_code_location(
    repo_url: str | None, path: str | None, commit: str | None, branch: str | None
) -> dict[str, Any]:
    """``sourceCodeLocation`` (standard): git location of the code that ran."""
    fields: dict[str, Any] = {"type": "git", "url": repo_url or "file:///"}
    if repo_url:
        fields["repoUrl"] = repo_url
    if path:
        fields["path"] = path
    if commit:
        fields["version"] = commit
    if branch:
        fields["branch"] = branch
    return _facet(SOURCE_CODE_LOCATION_SCHEMA, **fields)


def processing_engine(python: str | None = None) -> dict[str, Any]:
    """``processing_engine`` (standard): threadline itself, so consumers know the producer;
    ``python``: the interpreter version of the process the run is of (by default this one)."""
    return _facet(
        PROCESSING_ENGINE_SCHEMA,
        name="threadline",
        version=__version__,
        openlineageAdapterVersion=python or python_version(),
    )
