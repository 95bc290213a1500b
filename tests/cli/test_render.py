"""Rendering on its own: recorded text is never markup, deep graphs draw, names shorten."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.tree import Tree
from typer.testing import CliRunner

from threadline.cli import app, render
from threadline.store.sql import SqlStore


def node(i: int, name: str | None = None, kind: str = "dataset") -> dict[str, object]:
    return {
        "id": f"{kind}:file://h/{i}@b3:{i:04x}",
        "kind": kind,
        "namespace": "file://h",
        "name": name or f"/{i}",
        "version": f"b3:{i:04x}",
        "first_seen": "2026-01-01T00:00:00.000000Z",
    }


def test_recorded_text_is_printed_literally(capsys: pytest.CaptureFixture[str]) -> None:
    root = node(1, "/data/[red]x[/red].csv")
    job = {**node(2, "train [bold]", "job"), "reason": "fix [/] bug", "parameters": {"a": "[b]"}}
    graph = {
        "root": root["id"],
        "nodes": [root, job],
        "edges": [{"from": job["id"], "to": root["id"], "relation": "output"}],
        "truncated": False,
    }
    render.lineage_tree(graph, upstream=True)
    out = capsys.readouterr().out
    assert "/data/[red]x[/red].csv" in out
    assert "train [bold]" in out
    assert "“fix [/] bug”" in out
    assert "(a=[b])" in out


def test_a_deep_chain_draws_without_recursion(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS")  # piped trees are drawn 1000 wide when COLUMNS is unset
    depth = 3000  # deeper than Python's default recursion limit
    nodes = [node(i) for i in range(depth)]
    edges = [
        {"from": nodes[i + 1]["id"], "to": nodes[i]["id"], "relation": "derived"}
        for i in range(depth - 1)
    ]
    graph = {"root": nodes[0]["id"], "nodes": nodes, "edges": edges, "truncated": True}
    render.lineage_tree(graph, upstream=True)
    out = capsys.readouterr().out
    assert "/200 b3:00c8" in out  # deeper levels are cut at the output width
    assert out.splitlines()[-1].startswith(f"upstream: {depth} data versions, 0 executions; cut")


def test_a_shared_parent_is_drawn_once(capsys: pytest.CaptureFixture[str]) -> None:
    a, b, c, shared = node(1), node(2), node(3), node(4, "/shared")
    edges = [
        {"from": b["id"], "to": a["id"], "relation": "derived"},
        {"from": c["id"], "to": a["id"], "relation": "derived"},
        {"from": shared["id"], "to": b["id"], "relation": "derived"},
        {"from": shared["id"], "to": c["id"], "relation": "derived"},
    ]
    render.lineage_tree(
        {"root": a["id"], "nodes": [a, b, c, shared], "edges": edges, "truncated": False},
        upstream=True,
    )
    out = capsys.readouterr().out
    assert out.count("dataset /shared") == 1
    assert "↺ /shared b3:0004 (shown above)" in out


def test_display_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    here = {"kind": "dataset", "namespace": "file://h", "name": f"{tmp_path}/data/x.csv"}
    assert render.display_name(here) == "data/x.csv"
    far = {"kind": "dataset", "namespace": "file://h", "name": "/a" * 40 + "/b/c/d.csv"}
    assert render.display_name(far) == "…/b/c/d.csv"
    remote = {"kind": "dataset", "namespace": "s3://bucket", "name": "raw/x.parquet"}
    assert render.display_name(remote) == "s3://bucket/raw/x.parquet"
    job = {"kind": "job", "namespace": "default", "name": "train"}
    assert render.display_name(job) == "train"


def test_short_forms() -> None:
    assert render.short("b3:" + "f" * 64) == "b3:" + "f" * 12
    assert render.short(None) == ""
    assert (
        render.short_id("job:default/train@ex:0123456789abcdef") == "default/train@ex:0123456789ab"
    )
    assert render.short_id("no-version") == "no-version"


def test_json_is_indented_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    render.print_json({"name": "café", "n": [1, 2]})
    assert capsys.readouterr().out == '{\n  "name": "café",\n  "n": [\n    1,\n    2\n  ]\n}\n'


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=2, max_value=14).flatmap(
        lambda n: st.tuples(
            st.just(n),
            # Edges from a later node to an earlier one: any DAG hanging from node 0.
            st.lists(
                st.tuples(st.integers(1, n - 1), st.integers(0, n - 2)).filter(
                    lambda e: e[0] > e[1]
                ),
                max_size=3 * n,
            ),
        )
    ),
    st.booleans(),
)
def test_a_node_marked_shown_above_was_printed_above(
    dag: tuple[int, list[tuple[int, int]]], upstream: bool
) -> None:
    n, pairs = dag
    nodes = [node(i) for i in range(n)]
    edges = [
        {"from": nodes[a]["id"], "to": nodes[b]["id"], "relation": "derived"}
        if upstream
        else {"from": nodes[b]["id"], "to": nodes[a]["id"], "relation": "derived"}
        for a, b in pairs
    ]
    graph = {"root": nodes[0]["id"], "nodes": nodes, "edges": edges, "truncated": False}
    lines = render_plain(render._tree(graph, upstream=upstream))
    drawn: set[str] = set()
    for line in lines:
        match = re.search(r"(/\d+) b3:\w+", line)
        assert match, line
        if "(shown above)" in line:
            assert match.group(1) in drawn, (line, lines)
        else:
            assert match.group(1) not in drawn, ("drawn twice", line)
            drawn.add(match.group(1))


def render_plain(tree: Tree) -> list[str]:
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(tree)
    return console.export_text().splitlines()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (64850.0, "64850.0"),
        (-64850.0, "-64850.0"),
        (0.5, "0.5"),
        (0.9649122807, "0.9649"),
        (12345.6789123, "12345.6789"),
        (1e-05, "1e-05"),
        (0.0, "0.0"),
    ],
)
def test_numbers_print_in_the_user_s_notation(value: float, shown: str) -> None:
    assert render.number(value) == shown


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_takes_an_exponent_only_when_its_own_form_has_one(value: float) -> None:
    shown = render.number(value)
    if "e" not in repr(value):
        assert "e" not in shown
    # What is shown is the value, or the value cut to fewer digits: never another magnitude.
    assert float(shown) == pytest.approx(value, rel=1e-3)


@pytest.mark.parametrize(("columns", "width"), [(None, 80), ("60", 60), ("132", 132)])
def test_piped_tables_fit_the_terminal_width(
    store: SqlStore, columns: str | None, width: int
) -> None:
    runner = CliRunner(env={"COLUMNS": columns})
    # What each command prints before its table, which is not laid out: ids, one a line.
    commands: list[tuple[list[str], int]] = [
        (["log"], 0),
        (["diff", "dataset:file://h/model_a", "dataset:file://h/model_b"], 2),
        (["show", "dataset:file://h/model_b"], 1),
        (["search", "model"], 0),
        (["ls", "jobs", "--namespace", "t"], 0),
    ]
    for args, preamble in commands:
        result = runner.invoke(app, ["--store", store.url, *args])
        assert result.exit_code == 0, (args, result.output)
        lines = result.stdout.splitlines()[preamble:]
        assert len(lines) > 2, (args, result.stdout)
        for line in lines:
            assert len(line.rstrip()) <= width, (args, line)
