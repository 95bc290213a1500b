"""Integrity admin over the tables: paging through the chain, checkpoints (the behaviour on
both backends is in :mod:`tests.store.contract`)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from tests.support.events import event
from tests.support.graphs import BACKENDS, execute, pipeline_store

from threadline.errors import IntegrityError
from threadline.integrity.chain import GENESIS, verify_chain
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.admin import INDEXED_COLUMNS


@pytest.mark.parametrize("page", [1, 2, 3, 5000])
def test_the_chain_reads_the_same_in_any_page_size(tmp_path: Path, page: int) -> None:
    with open_store(tmp_path / "lineage.db") as store:
        store.append_batch([event(run) for run in range(1, 8)])
        records = list(store.iter_chain(page=page))
    assert [r.seq for r in records] == list(range(1, 8))
    assert records[0].prev_hash == GENESIS
    assert verify_chain(records).ok


def test_a_checkpoint_is_taken_once_per_size(tmp_path: Path) -> None:
    with open_store(tmp_path / "lineage.db") as store:
        assert store.checkpoint() is None
        assert store.checkpoints() == []
        store.append_batch([event(1), event(2)])
        first = store.checkpoint()
        assert first is not None
        assert first.tree_size == 2
        assert store.checkpoint() == first
        assert store.verify().checkpoints == 1


def test_no_checkpoint_of_a_log_that_fails(tmp_path: Path) -> None:
    db = tmp_path / "lineage.db"
    with open_store(db) as store:
        store.append_batch([event(1), event(2)])
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE tl_events SET hash = ? WHERE seq = 2", (bytes(32),))
    with open_store(db) as store:
        with pytest.raises(IntegrityError, match=r"at record 2: .* no checkpoint taken"):
            store.checkpoint()
        assert store.checkpoints() == []


def test_a_hash_rewritten_as_text_is_read_as_its_bytes() -> None:
    assert s.as_bytes("ab") == b"ab"
    assert s.as_bytes(memoryview(b"\x00\x01")) == b"\x00\x01"


CORRUPTIONS = {
    "digest": "digest = :zeros",
    "event_time_us": "event_time_us = event_time_us + 1",
    "event_kind": "event_kind = 'job'",
    "event_type": "event_type = 'ABORT'",
    "run_id": "run_id = 'another-run'",
    "job_namespace": "job_namespace = 'elsewhere'",
    "job_name": "job_name = 'another-job'",
}


def test_every_indexed_column_is_corrupted_by_one_case() -> None:
    assert set(CORRUPTIONS) == set(INDEXED_COLUMNS)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("column", sorted(CORRUPTIONS))
def test_verify_names_the_record_and_the_indexed_column_that_disagrees_with_its_body(
    tmp_path: Path, backend: str, column: str
) -> None:
    with pipeline_store(backend, tmp_path) as store:
        assert store.verify().ok
        execute(store, f"UPDATE tl_events SET {CORRUPTIONS[column]} WHERE seq = 5", zeros=bytes(32))
        report = store.verify()
        assert not report.ok
        assert report.first_break is not None
        assert report.first_break.seq == 5
        assert report.first_break.reason.startswith(f"indexed column {column} (")
        assert report.records == 4  # the records before it are intact


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_earlier_chain_break_is_named_before_a_later_column(
    tmp_path: Path, backend: str
) -> None:
    with pipeline_store(backend, tmp_path) as store:
        execute(store, "UPDATE tl_events SET job_name = 'x' WHERE seq = 7")
        execute(store, "UPDATE tl_events SET hash = :zeros WHERE seq = 3", zeros=bytes(32))
        report = store.verify()
        assert report.first_break is not None
        assert report.first_break.seq == 3
        assert report.first_break.reason == "hash does not match the record's body"
