"""``trace``/``impact --format dot|svg|png`` and ``export --format svg|png``: Graphviz drawings
of the same graph ``--json`` lists, through the real CLI and the real ``dot`` program."""

from __future__ import annotations

import os
import shutil
import stat
import struct
import tempfile
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import IO

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


@needs_graphviz
def test_a_truncated_picture_says_it_was_cut(store: SqlStore, tmp_path: Path) -> None:
    target = tmp_path / "cut.svg"
    args = ("trace", "dataset:file://h/preds", "-f", "svg", "-o", str(target))
    code, _, err = invoke(store.url, *args, "--limit", "3")
    assert code == 0, err
    # The caption in the terminal tree's words (tests/cli/test_cli_query.py).
    assert "cut at 3 nodes (raise --limit, or 0 for no cap)" in svg_texts(target.read_bytes())
    code, _, err = invoke(store.url, *args, "--limit", "0")
    assert code == 0, err
    assert "cut at" not in svg_texts(target.read_bytes())


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder no file can be created in, whoever runs the tests (root ignores modes)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    for folder in (locked, Path("/sys")):
        try:
            fd, probe = tempfile.mkstemp(dir=folder)
        except OSError:
            return folder
        os.close(fd)
        os.unlink(probe)
    pytest.skip("no folder here refuses new files to this user")


@pytest.mark.parametrize("command", ["trace", "export"])
def test_out_that_cannot_be_written_is_a_usage_error(
    store: SqlStore, tmp_path: Path, command: str
) -> None:
    args = ["trace", "dataset:file://h/preds"] if command == "trace" else ["export"]
    code, _, err = invoke(store.url, *args, "-f", "dot", "--out", str(tmp_path))
    assert code == 2, err
    assert f"cannot write {tmp_path}: it is a folder" in err
    target = unwritable_folder(tmp_path) / "x.dot"
    code, _, err = invoke(store.url, *args, "-f", "dot", "--out", str(target))
    assert code == 2, err
    assert f"cannot write {target}: Permission denied" in err
    assert "Traceback" not in err


def test_a_failed_export_leaves_the_previous_file(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "events.ndjson"
    code, _, err = invoke(store.url, "export", "-o", str(target))
    assert code == 0, err
    before = target.read_bytes()
    assert before.count(b"\n") > 5

    def fail_part_way(store: object, out: IO[bytes], **_: object) -> None:
        out.write(b'{"eventType": "COMPL')
        raise RuntimeError("the store went away")

    monkeypatch.setattr("threadline.export.openlineage.export_events", fail_part_way)
    invoke(store.url, "export", "-o", str(target))
    assert target.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["events.ndjson"]  # no temporary left


def test_a_picture_replaces_the_file_whole_keeping_its_mode(
    store: SqlStore, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "lineage.dot"
    target.write_bytes(b"old")
    target.chmod(0o640)
    code, _, err = invoke(
        store.url, "trace", "dataset:file://h/preds", "-f", "dot", "-o", str(target)
    )
    assert code == 0, err
    assert target.read_text().startswith('digraph "lineage" {')
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    fresh = folder / "fresh.dot"
    code, _, err = invoke(store.url, "export", "-f", "dot", "-o", str(fresh))
    assert code == 0, err
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask  # as a plain open makes it
    assert sorted(p.name for p in folder.iterdir()) == ["fresh.dot", "lineage.dot"]


@pytest.mark.parametrize("command", ["trace", "impact", "export"])
def test_every_command_names_its_output_file_option_out(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "--out" in result.stdout
    assert "--output" not in result.stdout
