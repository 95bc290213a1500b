"""``threadline ls`` through the real Typer app: tables, --json rows, paging, errors."""

from __future__ import annotations

import orjson
import pytest
from tests.support.events import uid
from tests.support.graphs import NS
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import NotFound, UsageError
from threadline.query import catalog
from threadline.store.sql import SqlStore


def run(store: SqlStore, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--store", store.url, "ls", *args])
    return result.exit_code, result.stdout, result.stderr


def test_ls_namespaces(store: SqlStore) -> None:
    code, out, err = run(store, "namespaces")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["namespace", "┃", "created", "┃", "updated"]
    assert lines[2].startswith(f"{NS} ")
    assert "2026-01-01 00:00:00" in lines[2]
    assert lines[3].startswith("t ")


def test_ls_datasets_and_paging(store: SqlStore) -> None:
    code, out, _ = run(store, "datasets", "--namespace", NS, "--limit", "2", "--offset", "1")
    assert code == 0
    assert "/eval_a" in out
    assert "/eval_b" in out
    assert "/clean" not in out
    assert out.splitlines()[-1] == "rows 2 to 3 of 12 (--limit and --offset page)"
    _, out, _ = run(store, "datasets", "--namespace", "nope")
    assert out.strip() == "no datasets recorded in namespace nope"
    _, out, _ = run(store, "datasets", "--offset", "100")
    assert out.strip() == "nothing past --offset"


def test_ls_jobs_shows_the_latest_run(store: SqlStore) -> None:
    code, out, _ = run(store, "jobs")
    assert code == 0
    train = next(line for line in out.splitlines() if line.startswith("t ") and "train" in line)
    assert "ex:tc" in train
    assert "2026-01-07 02:00:00" in train
    assert "COMPLETE" in train


def test_ls_runs_newest_first_and_by_job(store: SqlStore) -> None:
    code, out, _ = run(store, "runs", "--namespace", "t", "--job", "train")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()[2:]]
    assert ids == [uid(12), uid(9), uid(4), uid(3)]
    assert "FAIL" in out


@pytest.mark.parametrize("what", ["namespaces", "datasets", "jobs", "runs"])
def test_json_is_the_query_layer_rows(store: SqlStore, what: str) -> None:
    code, out, _ = run(store, what, "--json", "--limit", "3")
    assert code == 0
    listing = getattr(catalog, what)
    assert orjson.loads(out) == orjson.loads(orjson.dumps(listing(store, limit=3).to_dict()))


def test_errors_exit_with_their_code(store: SqlStore) -> None:
    code, _, err = run(store, "runs", "--job", "train")
    assert code == UsageError.exit_code
    assert "which namespace" in err
    code, _, err = run(store, "runs", "--namespace", "t", "--job", "nope")
    assert code == NotFound.exit_code
    assert "no job 'nope' in namespace 't'" in err
    code, _, err = run(store, "datasets", "--job", "train")
    assert code == UsageError.exit_code
    code, _, _ = run(store, "namespaces", "--namespace", "t")
    assert code == UsageError.exit_code
    code, _, _ = run(store, "tables")
    assert code == 2
