"""Every command takes back the ids the commands print: short ids, version prefixes, run ids,
Marquez node ids; an ambiguous one is exit 2 with one line listing the candidates."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from threadline.cli import app
from threadline.cli.render import short, short_id
from threadline.store.sql import SqlStore


def run(store: SqlStore, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--store", store.url, *args])
    return result.exit_code, result.stdout, result.stderr


def shown(store: SqlStore, ref: str) -> str:
    code, out, err = run(store, "show", ref, "--json")
    assert code == 0, (ref, err)
    return str(orjson.loads(out)["node"]["id"])


def test_what_trace_and_log_print_is_accepted_by_show(store: SqlStore) -> None:
    code, out, _ = run(store, "trace", "dataset:file://h/preds", "--json")
    assert code == 0
    for node in orjson.loads(out)["nodes"]:
        for form in (node["id"], short_id(node["id"]), short(node["version"])):
            assert shown(store, form) == node["id"], form
        if node["kind"] != "job":
            # A Marquez id names the node: its newest version.
            newest = shown(store, f"dataset:{node['namespace']}:{node['name']}")
            assert newest.rpartition("@")[0] == node["id"].rpartition("@")[0]
    code, out, _ = run(store, "log", "--json")
    for entry in orjson.loads(out)["runs"]:
        if entry["execution"]:
            assert shown(store, entry["run_id"]) == entry["execution"]


def test_every_command_takes_the_short_forms(store: SqlStore) -> None:
    code, out, err = run(store, "trace", "dataset:file://h:/preds", "--json")
    assert code == 0, err
    assert orjson.loads(out)["root"] == "predictions:file://h/preds@b3:p1"
    code, out, err = run(store, "impact", "raw_a", "--json")  # not a file here, not a job
    assert code == 3
    code, out, err = run(store, "impact", "file://h/raw_a@b3:a1", "--json")
    assert code == 0, err
    assert orjson.loads(out)["root"] == "dataset:file://h/raw_a@b3:a1"
    code, out, err = run(store, "diff", "…/model_a b3:ma", "dataset:file://h:/model_b", "--json")
    assert code == 0, err
    body = orjson.loads(out)
    assert (body["a"]["id"], body["b"]["id"]) == (
        "model:file://h/model_a@b3:ma",
        "model:file://h/model_b@b3:mb",
    )
    code, out, err = run(store, "export", "--format", "dot", "--id", "ex:s")
    assert code == 0, err
    assert "score" in out
    assert "ingest" in out


def test_an_ambiguous_prefix_is_one_line_and_exit_2(store: SqlStore) -> None:
    code, out, err = run(store, "trace", "job:t/train@ex:t")
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: 'job:t/train@ex:t' is ambiguous")
    for candidate in ("job:t/train@ex:ta", "job:t/train@ex:tb", "job:t/train@ex:tc"):
        assert candidate in lines[0]
