"""Graphviz ``dot`` text for a :class:`~threadline.query.result.LineageGraph`.

Data versions are ellipses labelled ``kind: name @version``, executions are boxes labelled
``job name @version``; edges point the way data flowed and are labelled with their relation
when it is not the usual ``input``/``output``.  Runs are filled with their pipeline stage's
colour (the same palette as the web UI) and the legend lists the stages present; redacted
nodes are dashed grey stubs labelled ``[redacted]``.
"""

from __future__ import annotations

from typing import Any, Final

from threadline.query.result import LineageGraph

#: Fill colour of each pipeline stage (colour-blind safe, light enough for black text).
STAGE_COLOURS: Final[dict[str, str]] = {
    "ingestion": "#c6dbef",
    "features": "#c7e9c0",
    "training": "#fdd0a2",
    "evaluation": "#dadaeb",
    "registration": "#fcbba1",
    "deployment": "#d9d9d9",
    "scoring": "#fff3b0",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(version: str | None) -> str:
    if not version:
        return ""
    scheme, _, rest = version.partition(":")
    return f"{scheme}:{rest[:10]}" if rest else version


def _attributes(node: dict[str, Any], root: str | None) -> str:
    if node.get("redacted"):
        label = f"{node['kind']}: [redacted]"
        look = 'shape=ellipse, style=dashed, color="#888888", fontcolor="#666666"'
    elif node["kind"] == "job":
        label = f"{node['name']}\n@{_short(node.get('version'))}"
        stage = node.get("stage")
        fill = STAGE_COLOURS.get(stage, "#ffffff") if isinstance(stage, str) else "#ffffff"
        look = f'shape=box, style="rounded,filled", fillcolor="{fill}"'
    else:
        label = f"{node['kind']}: {node['name']}\n@{_short(node.get('version'))}"
        look = "shape=ellipse"
    if node["id"] == root:
        look += ", penwidth=2"
    return f"label={_quote(label)}, {look}"


def to_dot(graph: LineageGraph, *, name: str = "lineage") -> str:
    lines = [
        f"digraph {_quote(name)} {{",
        "  rankdir=LR;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    for node in graph.nodes:
        lines.append(f"  {_quote(node['id'])} [{_attributes(node, graph.root)}];")
    for edge in graph.edges:
        extra = (
            ""
            if edge["relation"] in ("input", "output")
            else f" [label={_quote(edge['relation'])}]"
        )
        lines.append(f"  {_quote(edge['from'])} -> {_quote(edge['to'])}{extra};")
    stages = [s for s in STAGE_COLOURS if any(n.get("stage") == s for n in graph.nodes)]
    if stages:
        lines.append('  subgraph "cluster_legend" {')
        lines.append('    label="stages"; fontname="Helvetica"; fontsize=9; color="#bbbbbb";')
        for stage in stages:
            lines.append(
                f"    {_quote('legend:' + stage)} [label={_quote(stage)}, shape=box, "
                f'style="rounded,filled", fillcolor="{STAGE_COLOURS[stage]}", fontsize=9];'
            )
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["STAGE_COLOURS", "to_dot"]
