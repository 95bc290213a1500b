"""Questions over the lineage graph; they return data and never print.

* :func:`trace` / :func:`impact`: upstream / downstream of a version, as a :class:`LineageGraph`;
* :func:`diff`: what differs between two versions, as a :class:`ModelDiff`;
* :func:`show`: everything recorded about one version, as a :class:`VersionDetail`;
* :func:`log`: the recent runs, newest first, as a :class:`RunLog`;
* :func:`trace` with ``row=N`` (or ``ID#row=N``): one data row's input row, model and
  deployment on top of its trace, as a :class:`RowTrace`;
* :func:`search`: nodes by name, kind, namespace, owner, label or stage, as a
  :class:`SearchResult`;
* :func:`resolve_ref`: which vertex an id or a path names.

Beside them: :mod:`.catalog` (namespaces, datasets, jobs and runs, as the Marquez API and
``threadline ls`` list them), :mod:`.dump` (the whole graph, for exports) and
:mod:`.recorded` (what capture asks of earlier runs).
"""

from threadline.query.diff import Change, ModelDiff, diff
from threadline.query.graph import DEFAULT_LIMIT, impact
from threadline.query.resolve import Vertex, resolve_ref
from threadline.query.result import LineageGraph
from threadline.query.rows import RowTrace
from threadline.query.search import SearchResult, search
from threadline.query.show import RunLog, VersionDetail, log, show
from threadline.query.tracing import trace

__all__ = [
    "DEFAULT_LIMIT",
    "Change",
    "LineageGraph",
    "ModelDiff",
    "RowTrace",
    "RunLog",
    "SearchResult",
    "VersionDetail",
    "Vertex",
    "diff",
    "impact",
    "log",
    "resolve_ref",
    "search",
    "show",
    "trace",
]
