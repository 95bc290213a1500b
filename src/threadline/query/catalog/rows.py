"""The rows of the catalog listings (:mod:`threadline.query.catalog`): stored values (epoch
microseconds, parsed facets), each with the ``to_dict()`` that ``threadline ls --json`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from threadline.model.times import iso


class _Row(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


R = TypeVar("R", bound=_Row)


@dataclass(frozen=True, slots=True)
class Namespace:
    """A namespace some job or dataset lives in."""

    name: str
    created_us: int
    """When its first node was first seen."""
    updated_us: int
    """When any of its nodes last changed."""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "created": iso(self.created_us), "updated": iso(self.updated_us)}


@dataclass(frozen=True, slots=True)
class NodeRow:
    """A dataset or job node."""

    id: int
    """Row id (internal to the store)."""
    type: str
    """``dataset`` or ``job``."""
    namespace: str
    name: str
    kind: str
    """``dataset``, ``features``, ``model``, … or ``job``."""
    facets: dict[str, Any]
    """The node's own facets (a version's facets are on :class:`VersionRow`)."""
    first_seen_us: int
    updated_us: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "namespace": self.namespace,
            "name": self.name,
            "kind": self.kind,
            "created": iso(self.first_seen_us),
            "updated": iso(self.updated_us),
            "facets": self.facets,
        }


@dataclass(frozen=True, slots=True)
class VersionRow:
    """One version of a node: a data version, or an execution of a job."""

    id: int
    node_id: int
    version: str
    facets: dict[str, Any]
    first_seen_us: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "first_seen": iso(self.first_seen_us),
            "facets": self.facets,
        }


class VersionRef(NamedTuple):
    """A version named by its node: ``version`` is ``""`` when only the node is known (the
    datasets a job that never ran declared)."""

    namespace: str
    name: str
    version: str

    def to_dict(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "version": self.version or None}


@dataclass(frozen=True, slots=True)
class Run:
    """One run of a job, and the data its execution read and wrote."""

    run_id: str
    job: VersionRef
    """The job's namespace and name (``version`` empty)."""
    execution_id: int | None
    state: str
    """The OpenLineage event type of its latest event (``START``, ``COMPLETE``, ``FAIL``…)."""
    state_time_us: int
    started_us: int | None
    ended_us: int | None
    facets: dict[str, Any]
    job_version: VersionRef | None
    """The execution it ran, when one is recorded."""
    inputs: list[VersionRef] = field(default_factory=list)
    outputs: list[VersionRef] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": {"namespace": self.job.namespace, "name": self.job.name},
            "state": self.state,
            "started": iso(self.started_us),
            "ended": iso(self.ended_us),
            "updated": iso(self.state_time_us),
            "job_version": self.job_version.to_dict() if self.job_version else None,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "outputs": [ref.to_dict() for ref in self.outputs],
            "facets": self.facets,
        }


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset node and its newest version."""

    node: NodeRow
    current: VersionRow | None

    @property
    def facets(self) -> dict[str, Any]:
        """The newest version's facets overlaid with the node's: the node holds the newest
        value of each facet that describes the dataset as a whole (tags, documentation,
        ownership), which an older event's version facets must not hide."""
        return {**(self.current.facets if self.current else {}), **self.node.facets}

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.node.to_dict(),
            "current_version": self.current.to_dict() if self.current else None,
        }


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    """One version of a dataset and the run that wrote it (latest activity first)."""

    node: NodeRow
    version: VersionRow
    created_by: Run | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.node.namespace,
            "name": self.node.name,
            **self.version.to_dict(),
            "created_by": self.created_by.to_dict() if self.created_by else None,
        }


@dataclass(frozen=True, slots=True)
class Job:
    """A job node, its newest execution, what that read and wrote, and its latest runs."""

    node: NodeRow
    current: VersionRow | None
    inputs: list[VersionRef]
    """What the newest execution read; for a job never run, what its JobEvent declared."""
    outputs: list[VersionRef]
    latest_runs: list[Run]
    """At most :data:`~threadline.query.catalog.reads.LATEST_RUNS`, latest activity first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.node.to_dict(),
            "current_version": self.current.to_dict() if self.current else None,
            "inputs": [ref.to_dict() for ref in self.inputs],
            "outputs": [ref.to_dict() for ref in self.outputs],
            "latest_runs": [run.to_dict() for run in self.latest_runs],
        }


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """One page of a list, and how many there are in all."""

    total: int
    items: list[R]

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "items": [item.to_dict() for item in self.items]}


@dataclass(frozen=True, slots=True)
class NodeLineage:
    """The datasets and jobs connected to a node, and the node-level edges between them."""

    start: NodeRow
    datasets: list[Dataset]
    jobs: list[Job]
    edges: list[tuple[int, int, str]]
    """``(from node id, to node id, relation)``, the way data flowed; may repeat."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A dataset or job whose name matched a search."""

    type: str
    """``dataset`` or ``job``."""
    namespace: str
    name: str
    updated_us: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "namespace": self.namespace,
            "name": self.name,
            "updated": iso(self.updated_us),
        }


@dataclass(frozen=True, slots=True)
class Source:
    """Where datasets physically live: the ``dataSource`` facet's name and URI, or, for a
    dataset without one, its namespace (which OpenLineage names after the source)."""

    name: str
    connection_url: str
    created_us: int
    """When its first dataset was first seen."""
    updated_us: int
    """When any of its datasets last changed."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connection_url": self.connection_url,
            "created": iso(self.created_us),
            "updated": iso(self.updated_us),
        }


@dataclass(frozen=True, slots=True)
class JobVersion:
    """One execution of a job (a version of the job node), what it read and wrote, and its
    latest run."""

    node: NodeRow
    version: VersionRow
    inputs: list[VersionRef]
    outputs: list[VersionRef]
    latest_run: Run | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.node.namespace,
            "name": self.node.name,
            **self.version.to_dict(),
            "inputs": [ref.to_dict() for ref in self.inputs],
            "outputs": [ref.to_dict() for ref in self.outputs],
            "latest_run": self.latest_run.to_dict() if self.latest_run else None,
        }


@dataclass(frozen=True, slots=True)
class UpstreamInput:
    """A data version a run read, and the run that wrote it (``None`` when no recorded run
    wrote it before the reading run started)."""

    version: VersionRef
    produced_by: str | None


@dataclass(frozen=True, slots=True)
class UpstreamRun:
    """One run of a run's upstream, with what it read."""

    run: Run
    inputs: list[UpstreamInput]


class FieldRef(NamedTuple):
    """A column of a dataset."""

    namespace: str
    dataset: str
    field: str


@dataclass(frozen=True, slots=True)
class FieldInput:
    """A column a column was computed from, and how."""

    ref: FieldRef
    version: str | None
    """The input dataset's newest version."""
    description: str | None
    type: str | None


@dataclass(frozen=True, slots=True)
class FieldNode:
    """A column in a column-lineage graph, and the columns it was computed from."""

    ref: FieldRef
    version: str | None
    """Its dataset's newest version."""
    field_type: str | None
    inputs: list[FieldInput]


@dataclass(frozen=True, slots=True)
class ColumnLineage:
    """Columns connected through ``columnLineage`` facets, and the edges between them."""

    nodes: list[FieldNode]
    edges: list[tuple[FieldRef, FieldRef]]
    """``(input column, computed column)``, the way data flowed."""


__all__ = [
    "ColumnLineage",
    "Dataset",
    "DatasetVersion",
    "FieldInput",
    "FieldNode",
    "FieldRef",
    "Job",
    "JobVersion",
    "Namespace",
    "NodeLineage",
    "NodeRow",
    "Page",
    "Run",
    "SearchHit",
    "Source",
    "UpstreamInput",
    "UpstreamRun",
    "VersionRef",
    "VersionRow",
]
