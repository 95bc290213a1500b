"""The query commands through the real Typer app: output, --json shapes, exit codes."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import InvalidIdentifier, NotFound, StoreUnavailable, UsageError
from threadline.store.sql import SqlStore


@pytest.fixture
def cli(store: SqlStore) -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, store: SqlStore, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["--store", store.url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_trace_draws_a_tree_from_the_root(cli: CliRunner, store: SqlStore) -> None:
    code, out, err = run(cli, store, "trace", "dataset:file://h/preds")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("◎ predictions /preds b3:p1")
    assert "⚙ score ex:s1" in out
    assert "runs ×2" in out  # noqa: RUF001
    assert "cy@vm1" in out
    # C=1.0 is stored as 1 (RFC 8785 writes numbers in their shortest form) and the graph
    # shows what the log holds, as a rebuild from the log would.
    assert "⚙ train ex:tb training runs ×1 bo@vm1 git:bbbbbbbbbb+dirty (C=1)" in out  # noqa: RUF001
    assert "▤ dataset /raw_a b3:a1 pii team:data" in out
    assert lines[-1] == "upstream: 8 data versions, 4 executions"


def test_trace_json_is_the_shared_shape(cli: CliRunner, store: SqlStore) -> None:
    code, out, _ = run(cli, store, "trace", "dataset:file://h/preds", "--json", "--depth", "2")
    assert code == 0
    body = orjson.loads(out)
    assert list(body) == ["root", "nodes", "edges", "truncated"]
    assert body["root"] == "predictions:file://h/preds@b3:p1"
    assert {n["name"] for n in body["nodes"]} == {"/preds", "score", "/model_b", "/unrelated"}
    assert all(set(e) == {"from", "to", "relation"} for e in body["edges"])


def test_limit_and_truncation_note(cli: CliRunner, store: SqlStore) -> None:
    code, out, _ = run(cli, store, "trace", "dataset:file://h/preds", "--limit", "3")
    assert code == 0
    assert "cut at 3 nodes (raise --limit, or 0 for no cap)" in out
    _, out, _ = run(cli, store, "trace", "dataset:file://h/preds", "--limit", "3", "--json")
    assert orjson.loads(out)["truncated"] is True
    _, out, _ = run(cli, store, "trace", "dataset:file://h/preds", "--limit", "0", "--json")
    assert len(orjson.loads(out)["nodes"]) == 12


def test_impact_and_as_of(cli: CliRunner, store: SqlStore) -> None:
    code, out, _ = run(cli, store, "impact", "dataset:file://h/raw_a@b3:a1")
    assert code == 0
    assert out.splitlines()[0].startswith("▤ dataset /raw_a b3:a1")
    assert "◆ model /model_b" in out
    assert "◎ predictions /preds" in out
    assert "✓ evaluation /eval_b b3:eb auc=0.91" in out
    _, out, _ = run(
        cli, store, "impact", "dataset:file://h/raw_a", "--as-of", "2026-01-03T12:00Z", "--json"
    )
    assert {n["name"] for n in orjson.loads(out)["nodes"] if n["kind"] != "job"} == {
        "/raw_a",
        "/clean",
        "/feat",
        "/model_a",
    }


def test_diff_table_and_json(cli: CliRunner, store: SqlStore) -> None:
    code, out, _ = run(cli, store, "diff", "model:file://h/model_a", "model:file://h/model_b")
    assert code == 0
    assert "A model:file://h/model_a@b3:ma  written by t/train@ex:ta" in out
    for text in ("parameters", "C", "0.1", "metrics", "auc", "0.88", "0.91", "holidays", "commit"):
        assert text in out
    _, out, _ = run(
        cli, store, "diff", "model:file://h/model_a", "model:file://h/model_b", "--json"
    )
    body = orjson.loads(out)
    assert list(body) == [
        "a",
        "b",
        "identical",
        "inputs",
        "parameters",
        "code",
        "upstream",
        "metrics",
        "truncated",
        "notes",
    ]
    _, out, _ = run(cli, store, "diff", "model:file://h/model_a", "model:file://h/model_a")
    assert "no differences" in out
    assert "note: A and B are the same version" in out


def test_show_and_log(cli: CliRunner, store: SqlStore) -> None:
    code, out, _ = run(cli, store, "show", "job:t/score@ex:s1")
    assert code == 0
    assert out.splitlines()[0] == "job:t/score@ex:s1"
    assert "2 (COMPLETE)" in out
    assert "cy@vm1" in out
    _, out, _ = run(cli, store, "show", "dataset:file://h/raw_a", "--json")
    assert orjson.loads(out)["versions"]["count"] == 2
    code, out, _ = run(cli, store, "log", "--limit", "2")
    assert code == 0
    assert "t/train" in out
    assert "t/features" in out
    assert "t/score" not in out
    _, out, _ = run(cli, store, "log", "--job", "train", "--json")
    assert [r["state"] for r in orjson.loads(out)["runs"]] == [
        "COMPLETE",
        "FAIL",
        "COMPLETE",
        "COMPLETE",
    ]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["trace", "dataset:file://h/none"], NotFound),
        (["impact", "dataset:file://h/raw_a@b3:zz"], NotFound),
        (["show", "/no/such/file.csv"], NotFound),
        (["trace", "dataset:file://h"], InvalidIdentifier),
        (["trace", "datset:file://h/raw_a"], InvalidIdentifier),
        (["trace", "dataset:file://h/preds", "--as-of", "soon"], UsageError),
        (["log", "--job", "nope"], NotFound),
        (["log", "--since", "whenever"], UsageError),
    ],
)
def test_errors_are_one_line_and_the_right_exit_code(
    cli: CliRunner, store: SqlStore, args: list[str], error: type[Exception]
) -> None:
    code, out, err = run(cli, store, *args)
    assert code == error.exit_code  # type: ignore[attr-defined]
    assert out == ""
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_read_commands_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "lineage.db"
    for args in (["trace", "x.csv"], ["log"], ["show", "dataset:file://h/x"], ["verify"]):
        result = CliRunner().invoke(app, ["--store", str(missing), *args])
        assert result.exit_code == StoreUnavailable.exit_code == 4, args
        assert result.stderr.startswith(f"error: no store at {missing}")
    assert not missing.parent.exists()


def test_store_from_the_environment(store: SqlStore) -> None:
    target = store.url.removeprefix("sqlite:///")  # a plain path for SQLite, else the URL
    result = CliRunner(env={"THREADLINE_STORE": target}).invoke(
        app, ["log", "--json", "--limit", "1"]
    )
    assert result.exit_code == 0, result.stderr
    assert len(orjson.loads(result.stdout)["runs"]) == 1


def test_a_file_that_is_not_a_store_is_exit_4(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.txt"
    bogus.write_text("not sqlite at all, just some text")
    result = CliRunner().invoke(app, ["--store", str(bogus), "log"])
    assert result.exit_code == 4
    assert result.stderr.startswith("error: ")
