"""Questions over the lineage graph; they return data and never print."""

from threadline.query.diff import ModelDiff, diff
from threadline.query.graph import DEFAULT_LIMIT, impact, trace
from threadline.query.result import LineageGraph
from threadline.query.show import log, show

__all__ = ["DEFAULT_LIMIT", "LineageGraph", "ModelDiff", "diff", "impact", "log", "show", "trace"]
