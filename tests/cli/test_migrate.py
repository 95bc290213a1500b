"""threadline migrate: upgrades a revision-1 store in place, reports what it did, changes
nothing on a dry run, on a current store or on a store from a newer threadline.

SQLite runs on a copy of ``tests/store/fixtures/rev1.db`` (written by threadline at schema
revision 1); PostgreSQL on a fresh database put back into the revision-1 shape.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa
from tests.store.revisions import PG_BACK_TO_REVISION_3
from tests.support.events import event
from tests.support.pg import fresh_database
from typer.testing import CliRunner

from threadline.cli import app
from threadline.errors import SchemaTooNew, StoreUnavailable
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.base import Cursor

FIXTURE = Path(__file__).resolve().parents[1] / "store" / "fixtures" / "rev1.db"
MIGRATIONS = [
    "0002_events_identity_by_time",
    "0003_open_runs_index",
    "0004_identity_digests",
    "0005_projection_watermark",
    "0006_events_without_run_index",
]
HEAD = str(s.SCHEMA_VERSION)


def migrate(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["migrate", *args])
    return result.exit_code, result.stdout, result.stderr


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file of the folder by content: a store left untouched keeps all of them."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture
def rev1(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    folder.mkdir()
    shutil.copy(FIXTURE, folder / "rev1.db")
    return folder / "rev1.db"


def sqlite_state(db: Path) -> tuple[str, list[str]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        version = conn.execute("SELECT value FROM tl_meta WHERE key = 'schema_version'").fetchone()
        names = [
            r[0] for r in conn.execute("SELECT name FROM tl_migrations ORDER BY applied_us, name")
        ]
    return version[0], names


# --- SQLite ---------------------------------------------------------------------------------


def test_dry_run_lists_the_pending_migration_and_touches_nothing(rev1: Path) -> None:
    before = folder_digest(rev1.parent)
    code, out, err = migrate("--store", str(rev1), "--dry-run")
    assert code == 0, err
    assert out.splitlines() == [
        f"sqlite:///{rev1}: schema revision 1 → {HEAD}, {len(MIGRATIONS)} migration(s) pending",
        *(f"  • {name}" for name in MIGRATIONS),
        "dry run: nothing applied (run without --dry-run to apply)",
    ]
    assert folder_digest(rev1.parent) == before
    assert sqlite_state(rev1) == ("1", ["0001_initial"])


def test_migrate_upgrades_in_place_then_is_a_no_op(rev1: Path) -> None:
    with contextlib.closing(sqlite3.connect(rev1)) as conn:
        bodies = [r[0] for r in conn.execute("SELECT body FROM tl_events ORDER BY seq")]
    assert len(bodies) == 3

    code, out, err = migrate("--store", str(rev1))
    assert code == 0, err
    assert out.splitlines() == [
        f"sqlite:///{rev1}: schema revision 1 → {HEAD}",
        *(f"  ✓ applied {name}" for name in MIGRATIONS),
        f"✓ migrated to revision {HEAD}",
    ]
    assert sqlite_state(rev1) == (HEAD, ["0001_initial", *MIGRATIONS])
    with open_store(rev1) as store:
        assert [e.body for e in store.read_after(Cursor(0))] == bodies
        assert store.verify().ok

    before = folder_digest(rev1.parent)["rev1.db"]
    # The global --store is honoured as well.
    result = CliRunner().invoke(app, ["--store", str(rev1), "migrate"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"✓ up to date sqlite:///{rev1} is at schema revision {HEAD}; nothing to migrate\n"
    )
    # (The store is in WAL mode now: even a read-only look leaves empty -wal/-shm files.)
    assert folder_digest(rev1.parent)["rev1.db"] == before
    assert sqlite_state(rev1) == (HEAD, ["0001_initial", *MIGRATIONS])


def test_json_report(rev1: Path) -> None:
    code, out, err = migrate("--store", str(rev1), "--dry-run", "--json")
    assert code == 0, err
    assert orjson.loads(out) == {
        "store": f"sqlite:///{rev1}",
        "from_revision": 1,
        "to_revision": s.SCHEMA_VERSION,
        "migrations": MIGRATIONS,
        "dry_run": True,
    }
    code, out, err = migrate("--store", str(rev1), "--json")
    assert code == 0, err
    assert orjson.loads(out)["migrations"] == MIGRATIONS
    assert orjson.loads(out)["dry_run"] is False
    code, out, err = migrate("--store", str(rev1), "--json")
    assert orjson.loads(out)["migrations"] == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_store_from_a_newer_threadline_is_refused_untouched(rev1: Path, dry_run: bool) -> None:
    with contextlib.closing(sqlite3.connect(rev1)) as conn, conn:
        conn.execute("UPDATE tl_meta SET value = '99' WHERE key = 'schema_version'")
    before = folder_digest(rev1.parent)
    code, out, err = migrate("--store", str(rev1), *(["--dry-run"] if dry_run else []))
    assert code == SchemaTooNew.exit_code == 4
    assert out == ""
    assert err.startswith(
        f"error: store schema revision 99 is newer than this threadline understands ({HEAD}); "
        "upgrade threadline"
    )
    assert folder_digest(rev1.parent) == before


def test_no_store_means_nothing_to_migrate_and_none_is_created(tmp_path: Path) -> None:
    code, _out, err = migrate("--store", str(tmp_path / "missing.db"))
    assert code == StoreUnavailable.exit_code == 4
    assert err.startswith(f"error: no store at {tmp_path / 'missing.db'} (nothing to migrate)")
    assert list(tmp_path.iterdir()) == []


# --- PostgreSQL -----------------------------------------------------------------------------


@contextlib.contextmanager
def pg_rev1() -> Iterator[tuple[str, sa.Engine]]:
    """A PostgreSQL store holding two events, put back into the shape revision 1 created."""
    with fresh_database("tl_migrate") as url:
        with open_store(url) as store:
            store.append_batch([event(1), event(2)])
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE tl_events DROP CONSTRAINT tl_events_identity")
                conn.exec_driver_sql(
                    "ALTER TABLE tl_events ADD CONSTRAINT tl_events_digest_key UNIQUE (digest)"
                )
                for statement in PG_BACK_TO_REVISION_3:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql("UPDATE tl_meta SET value = '1' WHERE key = 'schema_version'")
                conn.exec_driver_sql("DELETE FROM tl_migrations WHERE name <> '0001_initial'")
            yield url, engine
        finally:
            engine.dispose()


def pg_state(engine: sa.Engine) -> tuple[str, list[str], set[str]]:
    with engine.connect() as conn:
        version = conn.exec_driver_sql(
            "SELECT value FROM tl_meta WHERE key = 'schema_version'"
        ).scalar_one()
        names = list(
            conn.exec_driver_sql(
                "SELECT name FROM tl_migrations ORDER BY applied_us, name"
            ).scalars()
        )
        constraints = set(
            conn.exec_driver_sql(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'tl_events'::regclass"
            ).scalars()
        )
    return version, names, constraints


@pytest.mark.postgres
def test_postgres_dry_run_then_migrate_then_no_op() -> None:
    with pg_rev1() as (url, engine):
        rev1_state = ("1", ["0001_initial"], {"tl_events_pkey", "tl_events_digest_key"})
        assert pg_state(engine) == rev1_state

        code, out, err = migrate("--store", url, "--dry-run")
        assert code == 0, err
        assert out.splitlines()[1:] == [
            *(f"  • {name}" for name in MIGRATIONS),
            "dry run: nothing applied (run without --dry-run to apply)",
        ]
        assert out.splitlines()[0].endswith(
            f": schema revision 1 → {HEAD}, {len(MIGRATIONS)} migration(s) pending"
        )
        assert pg_state(engine) == rev1_state

        code, out, err = migrate("--store", url)
        assert code == 0, err
        assert out.splitlines()[1:] == [
            *(f"  ✓ applied {name}" for name in MIGRATIONS),
            f"✓ migrated to revision {HEAD}",
        ]
        assert pg_state(engine) == (
            HEAD,
            ["0001_initial", *MIGRATIONS],
            {"tl_events_pkey", "tl_events_identity"},
        )
        with open_store(url) as store:
            assert store.append_batch([event(1), event(3)]).appended == 1
            assert store.verify().records == 3

        code, out, err = migrate("--store", url)
        assert code == 0, err
        assert out.startswith("✓ up to date ")
        assert out.endswith(f" is at schema revision {HEAD}; nothing to migrate\n")


@pytest.mark.postgres
def test_postgres_store_from_a_newer_threadline_is_refused_untouched() -> None:
    with pg_rev1() as (url, engine):
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE tl_meta SET value = '7' WHERE key = 'schema_version'")
        before = pg_state(engine)
        code, _out, err = migrate("--store", url)
        assert code == 4
        assert "store schema revision 7 is newer than this threadline understands" in err
        assert pg_state(engine) == before


@pytest.mark.postgres
def test_postgres_stores_created_after_a_migration_keep_their_identity_constraint() -> None:
    # A migration that altered the shared Table object would leave later stores without it.
    with pg_rev1() as (url, _engine):
        assert migrate("--store", url)[0] == 0
    with fresh_database("tl_migrate") as url:
        open_store(url).close()
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            assert pg_state(engine)[2] == {"tl_events_pkey", "tl_events_identity"}
        finally:
            engine.dispose()
