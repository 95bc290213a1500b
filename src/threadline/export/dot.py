"""Graphviz ``dot`` text for a :class:`~threadline.query.result.LineageGraph`.

Data versions are ellipses labelled ``kind: name @version``, executions are boxes labelled
``job name @version``; edges point the way data flowed and are labelled with their relation
when it is not the usual ``input``/``output``.
"""

from __future__ import annotations

from threadline.query.result import LineageGraph


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(version: str | None) -> str:
    if not version:
        return ""
    scheme, _, rest = version.partition(":")
    return f"{scheme}:{rest[:10]}" if rest else version


def to_dot(graph: LineageGraph, *, name: str = "lineage") -> str:
    lines = [
        f"digraph {_quote(name)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        if node["kind"] == "job":
            label = f"{node['name']}\n@{_short(node.get('version'))}"
            shape = "box, style=rounded"
        else:
            label = f"{node['kind']}: {node['name']}\n@{_short(node.get('version'))}"
            shape = "ellipse"
        root = ", penwidth=2" if node["id"] == graph.root else ""
        lines.append(f"  {_quote(node['id'])} [label={_quote(label)}, shape={shape}{root}];")
    for edge in graph.edges:
        extra = (
            ""
            if edge["relation"] in ("input", "output")
            else f" [label={_quote(edge['relation'])}]"
        )
        lines.append(f"  {_quote(edge['from'])} -> {_quote(edge['to'])}{extra};")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["to_dot"]
