"""Project events onto the derived graph: pure functions, no I/O.

A batch of events becomes *facts* (nodes, versions, edges, run states) keyed by natural keys;
:class:`~threadline.store.upserts.ProjectionWriter` turns the keys into row ids and writes
them.  Keeping this pure means the same code serves every backend and is tested without a
database.

Trust: a facet that breaks its own schema is kept in the stored event (the ingest policy,
:mod:`threadline.spec.ingest`, accepts it with a note) but is not projected: an owner, a schema
or a version read from it would be a guess.

Order independence: a run's state is the highest-ranked state seen (terminal beats RUNNING
beats START), ties broken by event time, so COMPLETE arriving before START, duplicates and
retries all converge to the same row.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Final

from threadline.model.events import parse_time
from threadline.spec.ingest import MAX_KIND, MAX_RUN_ID, shared_validator, without

NodeKey = tuple[str, str, str]  # (type, namespace, name)
VersionKey = tuple[NodeKey, str]  # (node, version); version LATEST → resolved by the store

#: An input dataset that names no version is linked to the newest version known at ingest.
LATEST: Final = "\0latest"
#: What an input resolves to when no version of it was ever recorded.
UNVERSIONED: Final = "v:unversioned"

STATE_RANK: Final = {"OTHER": 0, "START": 1, "RUNNING": 2, "COMPLETE": 3, "FAIL": 3, "ABORT": 3}

_SAFE_VERSION = re.compile(r"^[a-z][a-z0-9]*:[A-Za-z0-9._~+\-:%]+$")


def to_micros(text: str) -> int:
    moment = parse_time(text)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def normalize_version(raw: str) -> str:
    """A producer's ``datasetVersion`` as a threadline version token."""
    if (raw.startswith(("b3:", "ex:")) and "\0" not in raw) or _SAFE_VERSION.match(raw):
        return raw
    return "v:" + urllib.parse.quote(raw, safe="._~+-:")


@dataclass(slots=True)
class NodeFact:
    kind: str
    facets: dict[str, Any]
    seen_us: int  # the latest event time that mentions the node
    first_us: int  # the earliest: a node first seen on day 1 and again on day 7 began on day 1


@dataclass(slots=True)
class VersionFact:
    facets: dict[str, Any]
    first_seen_us: int
    last_seen_us: int
    first_seq: int


@dataclass(slots=True)
class EdgeFact:
    created_us: int
    first_seq: int


@dataclass(slots=True)
class RunFact:
    job: NodeKey
    execution: VersionKey | None
    state: str
    state_rank: int
    state_time_us: int
    started_us: int | None
    ended_us: int | None
    parent_run_id: str | None
    facets: dict[str, Any]
    first_seq: int
    last_seq: int


@dataclass(slots=True)
class Projection:
    nodes: dict[NodeKey, NodeFact] = field(default_factory=dict)
    versions: dict[VersionKey, VersionFact] = field(default_factory=dict)
    edges: dict[tuple[VersionKey, VersionKey, str], EdgeFact] = field(default_factory=dict)
    runs: dict[str, RunFact] = field(default_factory=dict)
    #: Whether some edge ends at a LATEST version, for the store to resolve.
    unresolved: bool = False

    # The facts keep references to the caller's facet dicts and never mutate them: a merge
    # builds a new dict.  Copying every facet dict up front was a third of the projection cost.

    def node(self, key: NodeKey, kind: str, facets: dict[str, Any], seen_us: int) -> None:
        fact = self.nodes.get(key)
        if fact is None:
            self.nodes[key] = NodeFact(kind, facets, seen_us, seen_us)
            return
        if facets:
            fact.facets = {**fact.facets, **facets}
        if kind != "dataset" or fact.kind == "dataset":
            fact.kind = kind
        if seen_us > fact.seen_us:
            fact.seen_us = seen_us
        elif seen_us < fact.first_us:
            fact.first_us = seen_us

    def version(self, key: VersionKey, facets: dict[str, Any], seen_us: int, seq: int) -> None:
        fact = self.versions.get(key)
        if fact is None:
            self.versions[key] = VersionFact(facets, seen_us, seen_us, seq)
            return
        if facets and facets is not fact.facets:
            fact.facets = {**fact.facets, **facets}
        if seen_us < fact.first_seen_us:
            fact.first_seen_us = seen_us
        elif seen_us > fact.last_seen_us:
            fact.last_seen_us = seen_us

    def edge(self, src: VersionKey, dst: VersionKey, relation: str, seen_us: int, seq: int) -> None:
        key = (src, dst, relation)
        fact = self.edges.get(key)
        if fact is None:
            self.edges[key] = EdgeFact(seen_us, seq)
        elif seen_us < fact.created_us:
            fact.created_us = seen_us

    def project(self, seq: int, body: dict[str, Any], time_us: int) -> None:
        """Add one event's facts (its facets that hold to their schemas)."""
        body = without(body, shared_validator().untrusted_facets(body))
        if "run" in body:
            self._run_event(seq, body, time_us)
        elif "dataset" in body:
            self._dataset(body["dataset"], time_us, seq, None, versioned_only=True)
        elif "job" in body:
            job = body["job"]
            self.node(
                ("job", job["namespace"], job["name"]), "job", job.get("facets") or {}, time_us
            )
            # A job event declares static lineage: its datasets become known nodes, but with
            # no run there is no execution to link them through.
            for dataset in [*(body.get("inputs") or []), *(body.get("outputs") or [])]:
                self._dataset(dataset, time_us, seq, None, versioned_only=True)

    # The two methods below run for every dataset of every event: they inline the bookkeeping
    # of node() and version() for the common first sighting, which halves the projection cost.

    def _dataset(
        self,
        dataset: dict[str, Any],
        time_us: int,
        seq: int,
        output_of: str | None,
        *,
        versioned_only: bool = False,
    ) -> VersionKey | None:
        """Record a dataset; ``output_of`` is the run id when the dataset is a run's output."""
        facets: dict[str, Any] = dataset.get("facets") or _NO_FACETS
        key: NodeKey = ("dataset", dataset["namespace"], dataset["name"])
        kind = _artifact_kind(facets.get("threadline_artifact"))
        node_facets = _node_level(facets)
        if key in self.nodes:
            self.node(key, kind, node_facets, time_us)
        else:
            self.nodes[key] = NodeFact(kind, node_facets, time_us, time_us)
        raw = facets.get("version")
        raw_version = raw.get("datasetVersion") if isinstance(raw, dict) else None
        if isinstance(raw_version, str) and raw_version:
            version = normalize_version(raw_version)
        elif versioned_only:
            return None
        elif output_of is not None:
            # Marquez's rule: an unversioned output gets a new version per run that wrote it.
            version = f"run:{output_of}"
        else:
            self.unresolved = True
            return (key, LATEST)
        vkey: VersionKey = (key, version)
        if vkey in self.versions:
            self.version(vkey, facets, time_us, seq)
        else:
            self.versions[vkey] = VersionFact(facets, time_us, time_us, seq)
        return vkey

    def _run_event(self, seq: int, body: dict[str, Any], time_us: int) -> None:
        run = body["run"]
        job = body["job"]
        run_id = str(run["runId"])
        run_facets: dict[str, Any] = run.get("facets") or _NO_FACETS
        job_key: NodeKey = ("job", job["namespace"], job["name"])
        self.node(job_key, "job", job.get("facets") or _NO_FACETS, time_us)

        dataset = self._dataset
        inputs = [dataset(d, time_us, seq, None) for d in body.get("inputs") or ()]
        outputs = [dataset(d, time_us, seq, run_id) for d in body.get("outputs") or ()]

        execution_facet = run_facets.get("threadline_execution")
        execution: VersionKey | None = None
        if isinstance(execution_facet, dict) and isinstance(
            execution_facet.get("executionId"), str
        ):
            execution = (job_key, normalize_version(execution_facet["executionId"]))
        elif inputs or outputs:
            execution = (job_key, f"run:{run_id}")
        if execution is not None:
            self.version(execution, _NO_FACETS, time_us, seq)
            edges = self.edges
            ends = [(vkey, execution, "input") for vkey in inputs if vkey is not None]
            ends += [(execution, vkey, "output") for vkey in outputs if vkey is not None]
            for edge_key in ends:
                edge = edges.get(edge_key)
                if edge is None:
                    edges[edge_key] = EdgeFact(time_us, seq)
                elif time_us < edge.created_us:
                    edge.created_us = time_us

        event_type = str(body.get("eventType") or "OTHER")
        rank = STATE_RANK.get(event_type, 0)
        parent = run_facets.get("parent")
        parent_id = None
        if isinstance(parent, dict) and isinstance(parent.get("run"), dict):
            parent_id = _run_id(parent["run"].get("runId"))
        fact = RunFact(
            job_key,
            execution,
            event_type,
            rank,
            time_us,
            time_us if event_type == "START" else None,
            time_us if rank == 3 else None,
            parent_id,
            run_facets,  # never mutated: merges build new dicts
            seq,
            seq,
        )
        old = self.runs.get(run_id)
        self.runs[run_id] = fact if old is None else merge_runs(old, fact)


def _artifact_kind(artifact: Any) -> str:
    """A dataset's kind from its ``threadline_artifact`` facet.  The ingest policy refuses a
    kind that is not a short string; one stored by another path (an import of old events)
    projects as a plain dataset instead of failing its batch on the store's column."""
    if isinstance(artifact, dict):
        kind = artifact.get("kind", "dataset")
        if type(kind) is str and 0 < len(kind) <= MAX_KIND and "\0" not in kind:
            return kind
    return "dataset"


def _run_id(value: Any) -> str | None:
    """A parent facet's run id as the store's run columns hold it; anything else is no
    parent (the facet stays in the body, as sent)."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text if 0 < len(text) <= MAX_RUN_ID and "\0" not in text else None


def merge_runs(old: RunFact, new: RunFact) -> RunFact:
    """Combine two views of one run, whatever order they arrived in."""
    newer_state = (new.state_rank, new.state_time_us) >= (old.state_rank, old.state_time_us)
    # Facets: the event later in event time wins per facet key.
    if new.state_time_us >= old.state_time_us:
        facets = {**old.facets, **new.facets}
    else:
        facets = {**new.facets, **old.facets}
    return RunFact(
        job=old.job,
        execution=_prefer_execution(old.execution, new.execution),
        state=new.state if newer_state else old.state,
        state_rank=max(new.state_rank, old.state_rank),
        state_time_us=new.state_time_us if newer_state else old.state_time_us,
        started_us=_min(old.started_us, new.started_us),
        ended_us=_max(old.ended_us, new.ended_us),
        parent_run_id=old.parent_run_id or new.parent_run_id,
        facets=facets,
        first_seq=min(old.first_seq, new.first_seq),
        last_seq=max(old.last_seq, new.last_seq),
    )


def _prefer_execution(old: VersionKey | None, new: VersionKey | None) -> VersionKey | None:
    # A deterministic execution id (ex:) outranks the per-run placeholder (run:).
    if new is not None and (old is None or new[1].startswith("ex:")):
        return new
    return old


def _min(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


_NODE_LEVEL_FACETS: Final = frozenset(
    {"ownership", "threadline_classification", "threadline_artifact", "documentation", "tags"}
)
_NO_FACETS: Final[dict[str, Any]] = {}


def _node_level(facets: dict[str, Any]) -> dict[str, Any]:
    """Facets that describe the dataset as a whole rather than one version of it."""
    if not facets or _NODE_LEVEL_FACETS.isdisjoint(facets):
        return _NO_FACETS  # shared and never mutated: facts merge into new dicts
    return {key: value for key, value in facets.items() if key in _NODE_LEVEL_FACETS}
