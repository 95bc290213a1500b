"""``LineageGraph``: the one JSON shape shared by the CLI's ``--json``, the API and exports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """A subgraph around ``root``: nodes (data versions and executions) and edges."""

    root: str
    direction: str
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, str]] = field(default_factory=list)
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "nodes": self.nodes,
            "edges": self.edges,
            "truncated": self.truncated,
        }

    def node(self, node_id: str) -> dict[str, Any]:
        return next(n for n in self.nodes if n["id"] == node_id)
