"""``LineageGraph``: the one JSON shape shared by the CLI's ``--json``, the HTTP API and exports.

::

    {
      "root": "predictions:file://host/out/batch.csv@b3:5bb4…",
      "nodes": [
        {"id": "…", "kind": "predictions", "namespace": "file://host", "name": "/out/batch.csv",
         "version": "b3:5bb4…", "first_seen": "2026-01-06T00:00:00.000000Z",
         "labels": ["pii"], "owners": ["team:ml"], "metrics": {"auc": 0.91}, …},
        {"id": "job:default/score@ex:0c2e…", "kind": "job", "namespace": "default",
         "name": "score", "version": "ex:0c2e…", "first_seen": "…", "stage": "scoring",
         "runs": {"count": 3, "first_seen": "…", "last_seen": "…", "states": ["COMPLETE"],
                  "ids": ["0192…"]},
         "user": "ana", "host": "vm1",
         "code": {"commit": "7dd11fee…", "dirty": false, "branch": "main", "script": "b3:…"},
         "parameters": {"C": 0.5}, "reason": "weekly refresh"}
      ],
      "edges": [{"from": "job:default/score@ex:0c2e…", "to": "predictions:…", "relation": "output"}],
      "truncated": false
    }

Every node has ``id``, ``kind``, ``namespace``, ``name``, ``version`` and ``first_seen``; the
other keys appear only when something was recorded for them.  Edges always point the way data
flowed (``input``: data → execution, ``output``: execution → data, ``derived``: data → data),
whichever direction the question walked; ``truncated`` says the answer hit its node cap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: One vertex of an answer (see the module docstring for its keys).
Node = dict[str, Any]
#: One edge of an answer: ``{"from": id, "to": id, "relation": "input" | "output" | "derived"}``.
Edge = dict[str, str]


@dataclass(frozen=True, slots=True)
class LineageGraph:
    """The part of the graph around ``root`` that a question reached."""

    root: str
    """Printable id of the vertex the question started from, e.g. ``model:file://h/m.pkl@b3:91aa…``."""
    nodes: Sequence[Node]
    """Vertices in the order the walk reached them, ``root`` first."""
    edges: Sequence[Edge]
    """Edges between returned vertices, pointing the way data flowed."""
    truncated: bool = False
    """True when the answer was cut at its node limit (raise ``limit`` to see more)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "nodes": list(self.nodes),
            "edges": list(self.edges),
            "truncated": self.truncated,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> LineageGraph:
        """Read back what :meth:`to_dict` wrote (for API clients and imports)."""
        return cls(
            root=str(body["root"]),
            nodes=tuple(dict(n) for n in body["nodes"]),
            edges=tuple(dict(e) for e in body["edges"]),
            truncated=bool(body.get("truncated", False)),
        )

    def node(self, node_id: str) -> Node:
        """The node whose printable id is ``node_id``; ``KeyError`` when it is not here."""
        for node in self.nodes:
            if node["id"] == node_id:
                return node
        raise KeyError(node_id)


def cut_note(shown: int) -> str:
    """What a view of a truncated answer says about it (the terminal tree, the pictures).

    The walk stops at the cap instead of counting what lies past it, so only the number of
    nodes shown is known, not how many were left out."""
    return f"cut at {shown} nodes (raise --limit, or 0 for no cap)"


__all__ = ["Edge", "LineageGraph", "Node", "cut_note"]
