"""Every way into the store follows the one ingest policy: the store's own check (what
embedded capture and ``threadline import --no-validate`` rely on) refuses exactly what the
policy refuses, and ``threadline import`` reviews events as the server does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from tests.support.backends import BACKEND_PARAMS, store_location
from tests.support.data import DATA
from tests.support.fuzz import mutated_events

from threadline.errors import InvalidEvent
from threadline.spec.ingest import lineage_problems
from threadline.store import open_store
from threadline.store.sql import SqlStore

MARQUEZ = DATA / "marquez"
EVENTS = [
    *sorted((MARQUEZ / "events").glob("*.json")),
    *sorted((MARQUEZ / "apples").glob("*.json")),
]


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SqlStore]:
    store = open_store(tmp_path_factory.mktemp("paths") / "lineage.db")
    try:
        yield store
    finally:
        store.close()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=mutated_events())
def test_the_store_refuses_exactly_what_the_policy_refuses(
    sqlite_store: SqlStore, body: Any
) -> None:
    try:
        sqlite_store.append_batch([body])
    except InvalidEvent:
        stored = False
    else:
        stored = True
    assert stored is (lineage_problems(body) == [])


@pytest.fixture(params=BACKEND_PARAMS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with store_location(request.param, tmp_path, "tl_import") as location:
        yield location


def _import(store: str, source: Path, *extra: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "--store",
            store,
            "import",
            "--json",
            *extra,
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_import_takes_what_real_producers_send_and_strict_refuses_it(
    store_url: str, tmp_path: Path
) -> None:
    ndjson = tmp_path / "marquez.ndjson"
    ndjson.write_text("".join(json.dumps(json.loads(p.read_bytes())) + "\n" for p in EVENTS))

    strict = _import(store_url, ndjson, "--strict")
    assert strict.returncode == 2
    # event_full.json, the third line, has a dataQualityMetrics facet without columnMetrics
    assert "line 3" in strict.stderr
    assert "$.inputs[0].inputFacets.dataQualityMetrics.columnMetrics" in strict.stderr
    by_setting = _import(store_url, ndjson, env={"THREADLINE_STRICT_INGEST": "true"})
    assert by_setting.returncode == 2, by_setting.stdout

    done = _import(store_url, ndjson)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "read": len(EVENTS),
        "appended": len(EVENTS),
        "duplicates": 0,
    }

    broken = tmp_path / "broken.ndjson"
    broken.write_text(json.dumps({"eventTime": "2026-01-01T00:00:00Z", "run": {}}) + "\n")
    refused = _import(store_url, broken)
    assert refused.returncode == 2
    assert "line 1" in refused.stderr
    assert "$.run.runId" in refused.stderr
