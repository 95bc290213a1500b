"""The store contract on SQLite, plus what only a file-backed store can get wrong."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.store.contract import StoreContract, select_all
from tests.store.revisions import assert_identity_digests
from tests.support.events import dataset, event
from tests.support.races import open_at_once

from threadline.errors import SchemaTooNew, StoreUnavailable
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.base import Cursor
from threadline.store.sql import SqlStore

FIXTURES = Path(__file__).parent / "fixtures"


class TestSqliteStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SqlStore]:
        opened = open_store(tmp_path / "lineage.db")
        yield opened
        opened.close()


def test_wal_mode_and_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("THREADLINE_STORE", raising=False)
    store = open_store()
    store.close()
    db = tmp_path / ".threadline" / "lineage.db"
    assert db.exists()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_from_a_newer_threadline_is_refused_byte_for_byte(tmp_path: Path) -> None:
    db = tmp_path / "future.db"
    with open_store(db) as store:
        store.append_batch([event(1)])
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE tl_meta SET value = '999' WHERE key = 'schema_version'")
    before = db.read_bytes()
    with pytest.raises(SchemaTooNew, match="upgrade threadline"):
        open_store(db)
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["future.db"]


def _sqlite_header_then(rest: bytes) -> bytes:
    return b"SQLite format 3\x00" + rest


@pytest.mark.parametrize(
    "content",
    [
        b"hello, not a database at all" * 10,
        b"\x00" * 4096,
        _sqlite_header_then(b"\x00" * 84),
        _sqlite_header_then(b"\x10\x00\x01\x01" + b"\xa5" * 8000),
    ],
    ids=["text", "zeros", "bare-header", "corrupt-pages"],
)
def test_a_file_that_is_not_a_store_is_refused_untouched(tmp_path: Path, content: bytes) -> None:
    db = tmp_path / "junk.db"
    db.write_bytes(content)
    with pytest.raises(StoreUnavailable) as caught:
        open_store(db)
    assert str(db) in caught.value.message
    assert "\n" not in caught.value.message
    assert db.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.db"]


def test_a_directory_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="directory"):
        open_store(tmp_path)


def test_a_store_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("in the way")
    with pytest.raises(StoreUnavailable, match=r"file\.txt") as caught:
        open_store(blocker / "lineage.db")
    assert "\n" not in caught.value.message
    assert blocker.read_text() == "in the way"


def test_durable_append_and_sync(tmp_path: Path) -> None:
    store = open_store(tmp_path / "d.db")
    store.append_batch([event(1)], durable=True)
    store.sync()
    store.close()
    with open_store(tmp_path / "d.db") as again:
        assert again.counts()["events"] == 1


def test_a_revision_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    """``fixtures/rev1.db`` was written by threadline at schema revision 1 (commit f4793af):
    three events, dedupe on the digest alone."""
    db = tmp_path / "rev1.db"
    shutil.copy(FIXTURES / "rev1.db", db)
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT value FROM tl_meta WHERE key = 'schema_version'").fetchone()
        bodies = [row[0] for row in conn.execute("SELECT body FROM tl_events ORDER BY seq")]
    with open_store(db) as store:
        assert store.schema_version() == s.SCHEMA_VERSION
        names = [row.name for row in select_all(store, s.migrations)]
        assert names == [
            "0001_initial",
            "0002_events_identity_by_time",
            "0003_open_runs_index",
            "0004_identity_digests",
            "0005_projection_watermark",
            "0006_events_without_run_index",
        ]
        # Revision 6: the log is no longer indexed by run id.
        with contextlib.closing(sqlite3.connect(db)) as conn:
            indexes = {
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tl_events'"
                )
            }
        assert "tl_events_run" not in indexes
        assert "tl_events_job" in indexes
        # Revision 1 projected every record on append: the graph is not projected again.
        meta = {row.key: row.value for row in select_all(store, s.meta)}
        assert meta[s.GRAPH_PROJECTED] == "3"
        assert [e.body for e in store.read_after(Cursor(0))] == bodies
        assert_identity_digests(store)
        assert store.verify().ok
        # The stored events are still recognized, and new ones chain on.
        again = [_rev1_event(1, "START"), _rev1_event(1, "COMPLETE")]
        assert store.append_batch(again).duplicates == 2
        result = store.append_batch([event(3, inputs=[dataset("/clean.parquet")])])
        assert (result.appended, result.head_seq) == (1, 4)
        assert store.verify().records == 4


def _rev1_event(run: int, kind: str) -> dict[str, object]:
    """The first events of the fixture, exactly as they were appended."""
    body: dict[str, object] = {
        "eventType": kind,
        "eventTime": "2026-01-01T00:00:00Z" if kind == "START" else "2026-01-01T00:01:00Z",
        "producer": "https://example.com/rev1-fixture",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": f"00000000-0000-7000-8000-{run:012d}", "facets": {}},
        "job": {"namespace": "fixture", "name": f"job{run % 2}"},
        "inputs": [],
        "outputs": [],
    }
    if kind == "COMPLETE":
        body["inputs"] = [
            {
                "namespace": "file://h",
                "name": "/raw.csv",
                "facets": {"version": {"datasetVersion": "b3:01"}},
            }
        ]
        body["outputs"] = [
            {
                "namespace": "file://h",
                "name": "/clean.parquet",
                "facets": {"version": {"datasetVersion": "b3:02"}},
            }
        ]
    return body


def test_writers_racing_to_create_the_store_all_succeed(tmp_path: Path) -> None:
    """Eight processes open a store file that does not exist yet at the same instant."""
    url = f"sqlite:///{tmp_path / 'lineage.db'}"
    assert open_at_once(url, writers=8, events_each=5) == ["ok"] * 8
    with open_store(url) as store:
        assert store.counts()["events"] == 8 * 5
        assert store.verify().ok


def test_a_sqlite_store_never_loads_postgresql_support(tmp_path: Path) -> None:
    # Every writer agent and CLI command opens one: PostgreSQL's dialect is ~25 ms of CPU.
    code = (
        "import sys\n"
        "from threadline.store import open_store\n"
        "from tests.support.events import event\n"
        "with open_store(sys.argv[1]) as store:\n"
        "    store.append_batch([event(1), event(2)])\n"
        "    store.settle()\n"
        "print(sorted(m for m in sys.modules if 'postgres' in m))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"sqlite:///{tmp_path / 'lineage.db'}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads the kernel's lock table")
def test_opening_a_second_store_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    # Closing any descriptor of the file drops every POSIX lock this process holds on it:
    # the first store's shared lock would go, and another process's last connection could
    # then check the log into the file and delete it under that store.
    path = tmp_path / "lineage.db"
    with open_store(path) as first:
        first.append_batch([event(1)])
        held = _locks_held_on(path)
        assert held
        with open_store(path) as second:
            assert second.counts()["events"] == 1
            assert _locks_held_on(path) >= held


def _locks_held_on(path: Path) -> set[str]:
    """This process's POSIX locks on ``path``, as the kernel lists them."""
    inode = f":{path.stat().st_ino}"
    pid = str(os.getpid())
    with open("/proc/locks") as table:
        return {
            " ".join(fields[4:])
            for fields in (line.split() for line in table)
            if len(fields) > 5 and fields[4] == pid and fields[5].endswith(inode)
        }
