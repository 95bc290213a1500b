"""``trace``/``impact --format dot|svg|png`` and ``export --format svg|png``: Graphviz drawings
of the same graph ``--json`` lists, through the real CLI and the real ``dot`` program."""

from __future__ import annotations

import os
import shutil
import struct
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.export.dot import STAGE_COLOURS
from threadline.store import open_store
from threadline.store.sql import SqlStore

needs_graphviz = pytest.mark.skipif(
    shutil.which("dot") is None and not os.environ.get("CI"),
    reason="Graphviz's dot is not installed (make test installs it)",
)
SVG = "{http://www.w3.org/2000/svg}"


def invoke(store_url: str, *args: str, env: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    result = CliRunner().invoke(app, ["--store", store_url, *args], env=env)
    return result.exit_code, result.stdout_bytes, result.stderr


def svg_texts(data: bytes) -> str:
    root = ET.fromstring(data)  # raises if the drawing is not well-formed XML
    assert root.tag == SVG + "svg"
    return "\n".join(t.text or "" for t in root.iter(SVG + "text"))


def json_names(store: SqlStore, command: str, ref: str) -> set[str]:
    code, out, err = invoke(store.url, command, ref, "--json")
    assert code == 0, err
    return {n["name"] for n in orjson.loads(out)["nodes"]}


@needs_graphviz
def test_trace_svg_draws_every_node_of_the_json_trace(store: SqlStore, tmp_path: Path) -> None:
    target = tmp_path / "trace.svg"
    code, out, err = invoke(
        store.url, "trace", "dataset:file://h/preds", "-f", "svg", "-o", str(target)
    )
    assert code == 0, err
    assert out == b""
    texts = svg_texts(target.read_bytes())
    names = json_names(store, "trace", "dataset:file://h/preds")
    assert len(names) >= 8
    for name in names:
        assert name in texts, name
    # Runs are filled with their stage's colour, and the legend names the stage.
    assert STAGE_COLOURS["training"] in target.read_text()
    assert "training" in texts


@needs_graphviz
def test_impact_png_is_a_real_png(store: SqlStore, tmp_path: Path) -> None:
    target = tmp_path / "impact.png"
    code, _, err = invoke(
        store.url, "impact", "dataset:file://h/raw_a@b3:a1", "-f", "png", "-o", str(target)
    )
    assert code == 0, err
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 100
    assert height > 50


@needs_graphviz
def test_export_svg_to_stdout(store: SqlStore) -> None:
    code, out, err = invoke(store.url, "export", "--format", "svg")
    assert code == 0, err
    texts = svg_texts(out)
    assert "/model_c" in texts
    assert "/raw_b" in texts


def test_dot_to_stdout_needs_no_graphviz(store: SqlStore, tmp_path: Path) -> None:
    code, out, err = invoke(
        store.url, "trace", "dataset:file://h/preds", "-f", "dot", env={"PATH": str(tmp_path)}
    )
    assert code == 0, err
    text = out.decode()
    assert text.startswith('digraph "lineage" {')
    for name in json_names(store, "trace", "dataset:file://h/preds"):
        assert name in text


def test_missing_graphviz_names_the_package(store: SqlStore, tmp_path: Path) -> None:
    target = tmp_path / "x.svg"
    code, _, err = invoke(
        store.url,
        "trace",
        "dataset:file://h/preds",
        "-f",
        "svg",
        "-o",
        str(target),
        env={"PATH": str(tmp_path)},  # a PATH without Graphviz
    )
    assert code == 2
    assert "graphviz" in err
    assert "apt-get install graphviz" in err
    assert not target.exists()
    code, _, err = invoke(
        store.url, "export", "--format", "png", "-o", str(target), env={"PATH": str(tmp_path)}
    )
    assert code == 2
    assert "graphviz" in err
    assert not target.exists()


def test_conflicting_output_options_are_refused(store: SqlStore, tmp_path: Path) -> None:
    code, _, err = invoke(store.url, "trace", "dataset:file://h/preds", "--json", "-f", "svg")
    assert code == 2
    assert "--json" in err
    code, _, err = invoke(
        store.url, "trace", "dataset:file://h/preds", "-o", str(tmp_path / "a.svg")
    )
    assert code == 2
    assert "--out" in err
    code, _, err = invoke(
        store.url,
        "trace",
        "dataset:file://h/preds",
        "-f",
        "svg",
        "-o",
        str(tmp_path / "no" / "a.svg"),
    )
    assert code == 2
    assert "no folder" in err


@needs_graphviz
def test_awkward_names_are_drawn_as_themselves(tmp_path: Path) -> None:
    awkward = 'we"ird <b>bold</b> & ümlaut ✓.csv'
    store = open_store(tmp_path / "a.db")
    run_id = str(uuid.uuid4())
    store.append_batch(
        [
            {
                "eventType": "COMPLETE",
                "eventTime": "2026-07-01T10:00:00Z",
                "run": {"runId": run_id},
                "job": {"namespace": "pictures", "name": "clean \\ {x} [y]"},
                "inputs": [{"namespace": "file://h", "name": "/raw.csv"}],
                "outputs": [{"namespace": "file://h", "name": "/" + awkward}],
                "producer": "https://github.com/threadline-dev/threadline/tests",
                "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            }
        ]
    )
    store.close()
    code, out, err = invoke(
        f"sqlite:///{tmp_path / 'a.db'}", "trace", "dataset:file://h/" + awkward, "-f", "svg"
    )
    assert code == 0, err
    texts = svg_texts(out)
    assert awkward in texts
    assert "clean \\ {x} [y]" in texts
    assert "/raw.csv" in texts
