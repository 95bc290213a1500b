"""The catalog: what the store holds, listed by namespace, as typed rows.

* :func:`namespaces` / :func:`namespace`: every namespace a job or dataset lives in;
* :func:`datasets` / :func:`dataset`: dataset nodes with their newest version;
* :func:`dataset_versions`: one dataset's versions, newest first, each with the run that
  wrote it;
* :func:`jobs` / :func:`job`: job nodes with their newest execution's inputs and outputs (or,
  for a job never run, those its latest JobEvent declared) and their latest runs;
* :func:`runs` / :func:`run`: runs, latest activity first, with what they read and wrote;
* :func:`node_lineage`: every dataset and job connected to one node, at node level.

Rows (:mod:`.rows`) carry stored values (epoch microseconds, parsed facets); ``to_dict()``
gives the JSON of ``threadline ls --json``.  :mod:`.listings` holds the questions and
:mod:`.reads` the reads they share.  The Marquez API shapes the same rows its own way
(:mod:`threadline.server.marquez_json`).  Lists are ordered by name (runs by latest activity)
and paged with ``limit`` and ``offset``; each call reads one snapshot of the store.
"""

from threadline.query.catalog.listings import (
    DEFAULT_LIMIT,
    dataset,
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
from threadline.query.catalog.reads import LATEST_RUNS, find_node
from threadline.query.catalog.rows import (
    Dataset,
    DatasetVersion,
    Job,
    Namespace,
    NodeLineage,
    NodeRow,
    Page,
    Run,
    VersionRef,
    VersionRow,
)

__all__ = [
    "DEFAULT_LIMIT",
    "LATEST_RUNS",
    "Dataset",
    "DatasetVersion",
    "Job",
    "Namespace",
    "NodeLineage",
    "NodeRow",
    "Page",
    "Run",
    "VersionRef",
    "VersionRow",
    "dataset",
    "dataset_versions",
    "datasets",
    "find_node",
    "job",
    "jobs",
    "namespace",
    "namespaces",
    "newest_seq",
    "node_lineage",
    "run",
    "runs",
]
