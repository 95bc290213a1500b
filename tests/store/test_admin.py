"""Integrity admin over the tables: paging through the chain, checkpoints (the behaviour on
both backends is in :mod:`tests.store.contract`)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from tests.support.events import event

from threadline.errors import IntegrityError
from threadline.integrity.chain import GENESIS, verify_chain
from threadline.store import open_store
from threadline.store import schema as s


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
