"""The catalog: what the store holds, listed by namespace, as typed rows.

* :func:`namespaces` / :func:`namespace`: every namespace a job or dataset lives in;
* :func:`datasets` / :func:`dataset`: dataset nodes with their newest version;
* :func:`dataset_versions` / :func:`dataset_version`: one dataset's versions, newest first,
  each with the run that wrote it;
* :func:`jobs` / :func:`job`: job nodes with their newest execution's inputs and outputs (or,
  for a job never run, those its latest JobEvent declared) and their latest runs;
* :func:`job_versions` / :func:`job_version`: one job's executions, newest first
  (:mod:`.job_versions`);
* :func:`runs` / :func:`run`: runs, latest activity first, with what they read and wrote;
* :func:`node_lineage`: every dataset and job connected to one node, at node level;
* :func:`upstream_runs`: the runs that wrote what a run read, and so on upstream
  (:mod:`.run_lineage`);
* :func:`column_lineage`: columns connected through ``columnLineage`` facets (:mod:`.columns`);
* :func:`search`: datasets and jobs found by name (:mod:`.name_search`);
* :func:`sources` / :func:`source`: where datasets physically live (:mod:`.sources`);
* :func:`tags`: every tag in use (:mod:`.tags`);
* :func:`events_by_time`: stored events in an event-time window (:mod:`.events_by_time`);
* :func:`version_uuid`: the UUID Marquez's API shows for a version (:mod:`.version_ids`);
  the version lookups take it as well as the token.

Rows (:mod:`.rows`) carry stored values (epoch microseconds, parsed facets); ``to_dict()``
gives the JSON of ``threadline ls --json``.  :mod:`.listings` holds the questions and
:mod:`.reads` the reads they share.  The Marquez API shapes the same rows its own way
(:mod:`threadline.server.marquez_json`).  Lists are ordered by name (runs by latest activity)
and paged with ``limit`` and ``offset``; each call reads one snapshot of the store.
"""

from threadline.query.catalog.columns import (
    column_lineage,
    column_names,
    field_inputs,
    field_types,
)
from threadline.query.catalog.events_by_time import StoredBody, events_by_time
from threadline.query.catalog.job_versions import job_version, job_versions
from threadline.query.catalog.listings import (
    DEFAULT_LIMIT,
    dataset,
    dataset_version,
    dataset_versions,
    datasets,
    job,
    jobs,
    namespace,
    namespaces,
    newest_seq,
    node_lineage,
    run,
    runs,
)
from threadline.query.catalog.name_search import SEARCH_TYPES, SearchSort, day_start_us, search
from threadline.query.catalog.reads import LATEST_RUNS, find_node
from threadline.query.catalog.rows import (
    ColumnLineage,
    Dataset,
    DatasetVersion,
    FieldInput,
    FieldNode,
    FieldRef,
    Job,
    JobVersion,
    Namespace,
    NodeLineage,
    NodeRow,
    Page,
    Run,
    SearchHit,
    Source,
    UpstreamInput,
    UpstreamRun,
    VersionRef,
    VersionRow,
)
from threadline.query.catalog.run_lineage import upstream_runs
from threadline.query.catalog.sources import source, source_of, sources
from threadline.query.catalog.tags import (
    TagName,
    entry_name,
    field_tag_names,
    retagged,
    tag_entries,
    tag_names,
    tags,
)
from threadline.query.catalog.version_ids import version_uuid

__all__ = [
    "DEFAULT_LIMIT",
    "LATEST_RUNS",
    "SEARCH_TYPES",
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
    "SearchSort",
    "Source",
    "StoredBody",
    "TagName",
    "UpstreamInput",
    "UpstreamRun",
    "VersionRef",
    "VersionRow",
    "column_lineage",
    "column_names",
    "dataset",
    "dataset_version",
    "dataset_versions",
    "datasets",
    "day_start_us",
    "entry_name",
    "events_by_time",
    "field_inputs",
    "field_tag_names",
    "field_types",
    "find_node",
    "job",
    "job_version",
    "job_versions",
    "jobs",
    "namespace",
    "namespaces",
    "newest_seq",
    "node_lineage",
    "retagged",
    "run",
    "runs",
    "search",
    "source",
    "source_of",
    "sources",
    "tag_entries",
    "tag_names",
    "tags",
    "upstream_runs",
    "version_uuid",
]
