"""Graphviz ``dot`` text for a :class:`~threadline.query.result.LineageGraph`.

Data versions are ellipses labelled ``kind: name @version``, executions are boxes labelled
``job name @version``; edges point the way data flowed and are labelled with their relation
when it is not the usual ``input``/``output``.  Runs are filled with their pipeline stage's
colour (the same palette as the web UI) and the legend lists the stages present; redacted
nodes (auth stubs, which may have lost their ``kind`` and ``name``) are dashed grey stubs
labelled ``[redacted]``.  A graph cut at its node limit says so in a caption, in the words of
the terminal tree.

Names are drawn as themselves: quoting escapes what Graphviz would otherwise interpret
(``\\`` escapes such as ``\\N``, and ``&`` entities such as ``&lt;``), and characters XML cannot
hold (C0 controls, lone surrogates from ``surrogateescape`` file names, U+FFFE/U+FFFF) are
shown as Python-style ``\\xNN``/``\\uNNNN`` escapes, so the SVG is well-formed.
"""

from __future__ import annotations

import re
from typing import Any, Final

from threadline.query.result import LineageGraph, cut_note

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


#: What the SVG (XML 1.0) cannot carry: C0 controls but tab and newline (a carriage return is
#: allowed, but XML parsers turn it into a newline), surrogates, and the two non-characters.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
#: Graphviz's own escapes: a backslash starts ``\N``, ``\l``…, a double quote ends the string.
_DOT_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "&": "&amp;"})


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _quote(text: str) -> str:
    """``text`` as a dot string Graphviz draws letter for letter.

    ``&`` becomes ``&amp;`` because Graphviz decodes HTML entities in every string (a name
    ``a&lt;b`` would be drawn ``a<b``) and passes a bare ``&`` followed by ``name;`` into
    the SVG as an entity."""
    return '"' + _NOT_XML.sub(_visible, text).translate(_DOT_ESCAPES) + '"'


def _short(version: str | None) -> str:
    if not version:
        return ""
    scheme, _, rest = version.partition(":")
    return f"{scheme}:{rest[:10]}" if rest else version


def _attributes(node: dict[str, Any], root: str | None) -> str:
    kind, name = node.get("kind"), node.get("name")
    # Auth redaction keeps only the keys the identity may see: a stub may lack kind and name.
    if node.get("redacted") or not isinstance(kind, str) or not isinstance(name, str):
        label = f"{kind}: [redacted]" if isinstance(kind, str) else "[redacted]"
        look = 'shape=ellipse, style=dashed, color="#888888", fontcolor="#666666"'
    elif kind == "job":
        label = f"{name}\n@{_short(node.get('version'))}"
        stage = node.get("stage")
        fill = STAGE_COLOURS.get(stage, "#ffffff") if isinstance(stage, str) else "#ffffff"
        look = f'shape=box, style="rounded,filled", fillcolor="{fill}"'
    else:
        label = f"{kind}: {name}\n@{_short(node.get('version'))}"
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
    if graph.truncated:
        # After the legend: a cluster would inherit a graph label set before it.
        lines.append(
            f"  label={_quote(cut_note(len(graph.nodes)))}; labelloc=t; labeljust=l; "
            'fontname="Helvetica"; fontsize=11; fontcolor="#b00020";'
        )
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["STAGE_COLOURS", "to_dot"]
