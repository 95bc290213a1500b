"""``threadline gc`` applying an ``archive`` rule: old records' bodies move to zstd NDJSON
files with their inclusion proofs, every read finds them there (and says so), the log and the
graph still verify, a changed or missing file is named, and a record erased after it was
archived leaves no trace in the files (SQLite and PostgreSQL)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import zstandard
from tests.support.graphs import BACKENDS, NS, day, pipeline_store

from threadline import query
from threadline.errors import StoreUnavailable
from threadline.integrity import merkle
from threadline.integrity.chain import link
from threadline.lifecycle.apply import apply_policy
from threadline.lifecycle.rules import policy_from
from threadline.model.times import parse_instant, to_us
from threadline.query.reproject import deep_check
from threadline.store.archive import read_archive
from threadline.store.base import Cursor
from threadline.store.sql import SqlStore

ARCHIVE = """
[[tool.threadline.lifecycle]]
name = "cold"
match = { namespace = "file://h", kind = "features" }
older_than = "3d"
action = "archive"
reason = "features older than three days go to cold storage"
"""
DELETE = """
[[tool.threadline.lifecycle]]
name = "gdpr"
match = { namespace = "file://h", label = "pii", kind = "dataset" }
older_than = "1d"
action = "delete"
reason = "GDPR art. 17"
"""
NOW = to_us(parse_instant(day(9)))


def policy(text: str) -> object:
    return policy_from(tomllib.loads(text)["tool"]["threadline"])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as opened:
        opened.archive_dir = tmp_path / "archive"
        yield opened


def empty_bodies(store: SqlStore) -> list[int]:
    return store.read(
        lambda c: [
            int(x)
            for x in c.execute(
                sa.text("SELECT seq FROM tl_events WHERE length(body) = 0 ORDER BY seq")
            ).scalars()
        ]
    )


def test_archived_records_are_read_back_and_the_log_still_verifies(store: SqlStore) -> None:
    events_before = store.read_after(Cursor(0), 10_000)
    trace_before = query.trace(store, f"model:{NS}/model_a").to_dict()
    report = apply_policy(store, policy(ARCHIVE), NOW)  # type: ignore[arg-type]
    (outcome,) = report.archived
    # The features runs (day 2 and day 7) and the trainings that read /feat (days 3, 4, 7).
    moved = empty_bodies(store)
    assert outcome.records == len(moved) > 0
    assert store.verify().ok
    # Every read finds the bodies in the files, unchanged, and says where they came from.
    events_after = store.read_after(Cursor(0), 10_000)
    assert [e.body for e in events_after[: len(events_before)]] == [e.body for e in events_before]
    assert {e.seq for e in events_after if e.archived} == set(moved)
    trace_after = query.trace(store, f"model:{NS}/model_a").to_dict()
    # The same lineage, and the versions whose records are in the archive say so.
    assert [n["id"] for n in trace_after["nodes"]] == [n["id"] for n in trace_before["nodes"]]
    assert trace_after["edges"] == trace_before["edges"]
    cold = {n["id"]: n["archived"] for n in trace_after["nodes"] if "archived" in n}
    assert cold
    assert set(cold.values()) == set(outcome.files)
    deep = deep_check(store, check_files=False)
    assert deep.ok, deep.to_dict()
    assert deep.archived_checked == len(moved)
    # Each archived line carries an inclusion proof that checks against the checkpoint.
    (name,) = outcome.files
    lines = list(read_archive(store.archive_dir / name))  # type: ignore[operator]
    assert [item["seq"] for item in lines] == moved
    for item in lines:
        body = item["body"].encode()
        leaf = merkle.leaf_hash(link(bytes.fromhex(item["prev_hash"]), body))
        assert merkle.verify_inclusion(
            leaf,
            item["leaf_index"],
            item["tree_size"],
            [bytes.fromhex(h) for h in item["audit_path"]],
            bytes.fromhex(item["root"]),
        )
    # A second run has nothing left to move.
    again = apply_policy(store, policy(ARCHIVE), NOW)  # type: ignore[arg-type]
    assert again.archived[0].records == 0


def test_a_changed_or_missing_archive_file_is_named(store: SqlStore) -> None:
    report = apply_policy(store, policy(ARCHIVE), NOW)  # type: ignore[arg-type]
    path = store.archive_dir / report.archived[0].files[0]  # type: ignore[operator]
    lines = list(read_archive(path))
    lines[0]["body"] = lines[0]["body"].replace("ex:f1", "ex:ff")
    import orjson

    path.write_bytes(
        zstandard.ZstdCompressor().compress(b"".join(orjson.dumps(i) + b"\n" for i in lines))
    )
    store.forget_cold_cache()
    deep = deep_check(store, check_files=False)
    assert not deep.ok
    assert any(f"archived record {lines[0]['seq']}" in p for p in deep.archive_problems)
    path.unlink()
    store.forget_cold_cache()
    with pytest.raises(StoreUnavailable, match="not in the archive folder"):
        store.read_after(Cursor(0), 10_000)
    assert store.verify().ok  # the log itself is intact: only the cold copy is gone


def test_a_body_put_back_changed_fails_verify(store: SqlStore) -> None:
    apply_policy(store, policy(ARCHIVE), NOW)  # type: ignore[arg-type]
    seq = empty_bodies(store)[0]
    engine = sa.create_engine(store.url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE tl_events SET body = :b WHERE seq = :s"), {"b": b"{}", "s": seq}
            )
    finally:
        engine.dispose()
    report = store.verify()
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == seq


def test_erasing_archived_records_leaves_nothing_in_the_files(
    store: SqlStore, tmp_path: Path
) -> None:
    rules = ARCHIVE.replace('kind = "features"', 'kind = "dataset"')
    archived = apply_policy(store, policy(rules), NOW)  # type: ignore[arg-type]
    assert archived.archived[0].records > 0
    files = list((tmp_path / "archive").iterdir())
    assert any(b"/raw_a" in zstandard.ZstdDecompressor().decompress(f.read_bytes()) for f in files)
    erased = apply_policy(store, policy(DELETE), NOW)  # type: ignore[arg-type]
    assert erased.erased[0].records == 2
    for file in (tmp_path / "archive").iterdir():
        assert b"/raw_a" not in zstandard.ZstdDecompressor().decompress(file.read_bytes())
    assert store.verify().ok
    deep = deep_check(store, check_files=False)
    assert deep.ok, deep.to_dict()
    assert not any(b"/raw_a" in e.body for e in store.read_after(Cursor(0), 10_000))


def test_the_events_api_says_which_bodies_came_from_the_archive(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from threadline.config import Settings
    from threadline.server.app import create_app

    with pipeline_store("sqlite", tmp_path) as store:
        apply_policy(store, policy(ARCHIVE), NOW)  # type: ignore[arg-type]
        moved = set(empty_bodies(store))
        url = store.url
    settings = Settings(store_url=url)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        page = client.get("/api/v1/events", params={"limit": 1000}).json()
    flagged = {Cursor.decode(item["cursor"]).seq for item in page["events"] if item.get("archived")}
    assert flagged == moved
    assert all(item["event"] for item in page["events"])
