"""The dot writer and Graphviz drawing on their own: names drawn letter for letter whatever
they hold, redacted stubs, and the caption of a truncated graph."""

from __future__ import annotations

import os
import re
import shutil
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.export.dot import to_dot
from threadline.export.picture import render
from threadline.query.result import LineageGraph

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (make test installs it)",
)
SVG = "{http://www.w3.org/2000/svg}"
#: XML 1.0 cannot hold these; the drawing shows them as Python-style escapes.
NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def one_dataset(name: str, **extra: Any) -> LineageGraph:
    node = {"id": f"dataset:file://h{name}@b3:ab12", "kind": "dataset", "namespace": "file://h"}
    node |= {"name": name, "version": "b3:ab12", **extra}
    return LineageGraph(root=node["id"], nodes=[node], edges=[])


def svg_lines(graph: LineageGraph) -> list[str]:
    root = ET.fromstring(render(to_dot(graph), "svg"))  # raises unless well-formed XML
    # Graphviz keeps runs of spaces as no-break spaces (&#160;).
    return [(t.text or "").replace("\xa0", " ") for t in root.iter(SVG + "text")]


def shown(name: str) -> str:
    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return NOT_XML.sub(escape, name)


@needs_graphviz
def test_ampersand_entities_are_drawn_as_typed() -> None:
    # Graphviz decodes entities in labels: unescaped, this name was drawn "R<D & T's".
    name = "/R&lt;D & T&#39;s &amp;.csv"
    assert f"dataset: {name}" in svg_lines(one_dataset(name))


@needs_graphviz
def test_control_characters_leave_the_svg_well_formed() -> None:
    name = "/bad\x01name\x1b[31m\x7f\rend"
    lines = svg_lines(one_dataset(name))
    assert "dataset: /bad\\x01name\\x1b[31m\x7f\\x0dend" in lines


@needs_graphviz
def test_lone_surrogates_are_drawn_not_fatal() -> None:
    # os.fsdecode of a file name that is not UTF-8 (b"caf\xe9.csv") keeps the byte this way.
    name = "/caf\udce9.csv"
    assert "dataset: /caf\\udce9.csv" in svg_lines(one_dataset(name))
    # Dot text from elsewhere still draws: the surrogate is written as its escape.
    picture = render('digraph { "caf\udce9" }', "svg")
    assert ET.fromstring(picture).tag == SVG + "svg"


def test_a_redacted_stub_without_kind_is_drawn_as_a_stub() -> None:
    # What auth redaction leaves of a node an identity may not see when it had no kind.
    stub = {"id": "redacted:5f1c", "namespace": "[redacted]", "name": "[redacted]"}
    stub["redacted"] = "namespace"
    graph = one_dataset("/open.csv")
    graph = LineageGraph(
        root=graph.root,
        nodes=[*graph.nodes, stub, {"id": "redacted:77aa"}],
        edges=[{"from": "redacted:5f1c", "to": graph.root, "relation": "input"}],
    )
    text = to_dot(graph)
    stubs = [
        line for line in text.splitlines() if line.startswith('  "redacted:') and "->" not in line
    ]
    assert len(stubs) == 2
    for line in stubs:
        assert 'label="[redacted]"' in line
        assert "style=dashed" in line


def test_a_truncated_graph_says_so_in_a_caption() -> None:
    whole = one_dataset("/a.csv")
    assert "cut at" not in to_dot(whole)
    cut = LineageGraph(root=whole.root, nodes=whole.nodes, edges=[], truncated=True)
    assert 'label="cut at 1 nodes (raise --limit, or 0 for no cap)"; labelloc=t' in to_dot(cut)


@needs_graphviz
@settings(max_examples=50, deadline=None)
@given(st.text(st.characters(blacklist_categories=()), max_size=40))
def test_any_name_is_drawn_as_itself(name: str) -> None:
    # Every code point, surrogates included; newlines in a name break its label into lines.
    lines = svg_lines(one_dataset(name))
    for part in f"dataset: {shown(name)}".replace("\xa0", " ").split("\n"):
        assert any(part in line for line in lines), (part, lines)
