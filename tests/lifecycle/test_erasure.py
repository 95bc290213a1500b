"""``threadline gc`` applying a ``delete`` rule: what it selects is gone from the log, the
graph, the database files and every answer; the log still verifies, old checkpoints still
hold, tampering with an erased record is caught, and legal holds are honoured (SQLite and
PostgreSQL)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from tests.support.graphs import BACKENDS, NS, day, pipeline_store
from typer.testing import CliRunner

from threadline import query
from threadline.cli import app
from threadline.errors import NotFound
from threadline.lifecycle.apply import apply_policy
from threadline.lifecycle.rules import policy_from
from threadline.model.times import parse_instant, to_us
from threadline.query.reproject import deep_check
from threadline.spec.ingest import lineage_problems
from threadline.store.admin import audit_checkpoint, erasures, inclusion
from threadline.store.sql import SqlStore

RULES = """
[[tool.threadline.lifecycle]]
name = "gdpr"
match = {{ namespace = "file://h", label = "pii", kind = "dataset" }}
older_than = "{older}"
action = "delete"
reason = "GDPR art. 17 requests, ticket queue PRIV"
{hold}
"""


def policy(older: str = "1d", hold: str = "") -> object:
    import tomllib

    return policy_from(tomllib.loads(RULES.format(older=older, hold=hold))["tool"]["threadline"])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as opened:
        yield opened


def bodies(store: SqlStore) -> list[bytes]:
    return store.read(
        lambda c: [bytes(b) for b in c.execute(sa.text("SELECT body FROM tl_events")).scalars()]
    )


def test_delete_erases_the_dataset_everywhere_and_the_log_still_verifies(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checkpoint = store.checkpoint()
    assert checkpoint is not None
    upstream_before = query.trace(store, f"dataset:{NS}/clean@b3:c1").to_dict()
    assert any(b"/raw_a" in body for body in bodies(store))
    assert set(_tables_holding(store, "/raw_a")) == {"tl_events", "tl_nodes"}
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(RULES.format(older="1d", hold="")))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--store", store.url, "gc", "--yes", "--json"])
    assert result.exit_code == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert [
        (o["rule"], o["versions"], o["nodes"], o["records_rewritten"]) for o in report["erased"]
    ] == [
        ("gdpr", 2, 1, 2)  # /raw_a@a1 and @a2, named by the two ingest runs
    ]
    # Gone from every stored body, every graph row and every answer.
    assert not any(b"/raw_a" in body for body in bodies(store))
    assert query.search(store, "raw_a").to_dict()["results"] == []
    upstream = query.trace(store, f"dataset:{NS}/clean@b3:c1").to_dict()
    names = sorted(str(n.get("name")) for n in upstream["nodes"])
    assert "/raw_a" not in names
    stubs = [n for n in upstream["nodes"] if str(n.get("name", "")).startswith("erased/")]
    assert len(stubs) == 1  # the lineage keeps its shape: a stub where raw_a was
    assert stubs[0]["erased"] == "gdpr"
    assert len(upstream["nodes"]) == len(upstream_before["nodes"])
    # The log verifies, with the two records checked as erased, and the graph is what it gives.
    verified = store.verify()
    assert verified.ok, verified.first_break
    assert verified.erased == 2
    # verify says which records were erased, when, by whom and under which rule.
    shown = CliRunner().invoke(app, ["--store", store.url, "verify", "--json"])
    assert shown.exit_code == 0, shown.stderr
    (change,) = orjson.loads(shown.stdout)["lifecycle"]
    assert change["action"] == "erase"
    assert change["rule"] == "gdpr"
    assert change["reason"] == "GDPR art. 17 requests, ticket queue PRIV"
    assert change["records"] == 2
    assert change["user"]
    assert change["host"]
    assert change["at"].startswith("20")
    text = CliRunner().invoke(app, ["--store", store.url, "verify"]).stdout
    assert "erased at" in text
    assert "under rule 'gdpr'" in text
    # No table of the store holds the erased name (PostgreSQL has no file to grep).
    assert _tables_holding(store, "/raw_a") == []
    assert deep_check(store, check_files=False).ok
    # A checkpoint taken before the erasure still holds: the leaves did not change.
    size, problems = audit_checkpoint(store, checkpoint.tree_size, checkpoint.root)
    assert problems == []
    assert size == checkpoint.tree_size + 1  # plus the erasure event
    # The erasure event says why, and names nothing it erased.
    marks = store.read(erasures)
    event = store.read(
        lambda c: bytes(
            c.execute(
                sa.text(f"SELECT body FROM tl_events WHERE seq = {next(iter(marks.values())).by}")
            ).scalar_one()
        )
    )
    assert b"GDPR art. 17" in event
    assert b"raw_a" not in event
    # No proof of an erased body can be given, and a second run has nothing to do.
    with pytest.raises(NotFound, match="was erased by record"):
        inclusion(store, next(iter(marks)), checkpoint.tree_size)
    again = CliRunner().invoke(app, ["--store", store.url, "gc", "--yes", "--json"])
    assert again.exit_code == 0, again.stderr
    assert orjson.loads(again.stdout)["erased"] == []
    assert store.verify().ok


def _tables_holding(store: SqlStore, needle: str) -> list[str]:
    def scan(conn: sa.Connection) -> list[str]:
        found = []
        for table in ("tl_events", "tl_nodes", "tl_versions", "tl_edges", "tl_runs", "tl_meta"):
            for row in conn.execute(sa.text(f"SELECT * FROM {table}")):
                text = " ".join(
                    bytes(v).decode("utf-8", "replace")
                    if isinstance(v, bytes | memoryview)
                    else str(v)
                    for v in row
                )
                if needle in text:
                    found.append(table)
                    break
        return found

    return store.read(scan)


def test_the_erased_bytes_are_gone_from_the_sqlite_files(tmp_path: Path) -> None:
    with pipeline_store("sqlite", tmp_path) as store:
        apply_policy(store, policy(), to_us(parse_instant(day(28))))  # type: ignore[arg-type]
        files = [p for p in tmp_path.iterdir() if p.name.startswith("lineage.db")]
        assert files
        for path in files:
            assert b"/raw_a" not in path.read_bytes(), path.name


def test_only_the_old_versions_go_when_newer_ones_remain(store: SqlStore) -> None:
    # On day 8, /raw_a@a1 (day 1) is older than six days, @a2 (day 7) is not.
    report = apply_policy(store, policy("6d"), to_us(parse_instant(day(8))))  # type: ignore[arg-type]
    assert [(o.versions, o.records) for o in report.erased] == [(1, 1)]
    shown = query.show(store, f"dataset:{NS}/raw_a@b3:a1").to_dict()
    assert shown["node"]["name"] == "/raw_a"  # the name stays: a2 still has it
    assert set(shown["facets"]) <= {
        "version",
        "threadline_classification",
        "threadline_erased",
        "threadline_artifact",
    }
    assert "ownership" not in shown["facets"]
    assert store.verify().ok
    assert deep_check(store, check_files=False).ok


def test_a_legal_hold_keeps_what_it_matches(store: SqlStore) -> None:
    hold = '[[tool.threadline.legal_hold]]\nname = "case-7"\nmatch = { label = "pii" }\nreason = "litigation"'
    report = apply_policy(store, policy(hold=hold), to_us(parse_instant(day(28))))  # type: ignore[arg-type]
    assert report.erased == []
    assert report.held == 2
    assert any(b"/raw_a" in body for body in bodies(store))


def test_tampering_with_an_erased_record_or_its_erasure_event_is_caught(store: SqlStore) -> None:
    apply_policy(store, policy(), to_us(parse_instant(day(28))))  # type: ignore[arg-type]
    marks = store.read(erasures)
    seq = min(marks)
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            body = bytes(
                conn.execute(sa.text(f"SELECT body FROM tl_events WHERE seq = {seq}")).scalar_one()
            )
            forged = body.replace(b'"erased/', b'"forged/')
            conn.execute(
                sa.text("UPDATE tl_events SET body = :b WHERE seq = :s"), {"b": forged, "s": seq}
            )
        report = store.verify()
        assert not report.ok
        assert report.first_break is not None
        assert report.first_break.seq == seq
        assert "changed after erasure record" in report.first_break.reason
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE tl_events SET body = :b WHERE seq = :s"), {"b": body, "s": seq}
            )
            by = marks[seq].by
            event = bytes(
                conn.execute(sa.text(f"SELECT body FROM tl_events WHERE seq = {by}")).scalar_one()
            )
            conn.execute(
                sa.text("UPDATE tl_events SET body = :b WHERE seq = :s"),
                {"b": event.replace(b"GDPR", b"CCPA"), "s": by},
            )
        report = store.verify()
        assert not report.ok
        assert report.first_break is not None
        assert report.first_break.seq == by
    finally:
        engine.dispose()


def test_producers_cannot_send_the_erasure_facet() -> None:
    event = {
        "eventType": "COMPLETE",
        "eventTime": day(1),
        "run": {
            "runId": "01a2450a-68da-7284-b6c6-6c2b32735510",
            "facets": {"threadline_erasure": {"records": []}},
        },
        "job": {"namespace": "threadline", "name": "lifecycle/erase"},
        "producer": "x",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    problems = lineage_problems(event)
    assert [p.path for p in problems] == ["$.run.facets.threadline_erasure"]


def test_the_server_refuses_the_erasure_facet(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from threadline.config import Settings
    from threadline.server.app import create_app

    event = {
        "eventType": "COMPLETE",
        "eventTime": day(1),
        "run": {
            "runId": "01a2450a-68da-7284-b6c6-6c2b32735511",
            "facets": {
                "threadline_erasure": {
                    "_producer": "x",
                    "_schemaURL": "https://x/E.json",
                    "records": [],
                }
            },
        },
        "job": {"namespace": "threadline", "name": "lifecycle/erase"},
        "producer": "x",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    settings = Settings(store_url=f"sqlite:///{tmp_path / 'l.db'}")
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        for path, body in (("/api/v1/lineage", event), ("/api/v1/lineage/batch", [event])):
            answer = client.post(path, json=body)
            assert answer.status_code == 400, (path, answer.text)
            assert "threadline_erasure" in answer.text
