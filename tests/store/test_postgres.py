"""The store contract on PostgreSQL (a fresh database per test, see :mod:`tests.support.pg`).

Locally the tests skip when no server answers; in CI (``CI`` set) they fail instead, so a
missing PostgreSQL can never pass unnoticed.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from tests.store.contract import StoreContract, raw_sql, select_all
from tests.store.revisions import PG_BACK_TO_REVISION_3, assert_identity_digests
from tests.support.events import event
from tests.support.pg import fresh_database
from tests.support.races import open_at_once

from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.sql import SqlStore

pytestmark = pytest.mark.postgres


class TestPostgresStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self) -> Iterator[SqlStore]:
        with fresh_database() as url, open_store(url) as opened:
            yield opened


def test_a_revision_1_store_is_migrated_in_place() -> None:
    with fresh_database() as url:
        with open_store(url) as store:
            store.append_batch([event(1), event(2)])
        # Put the database back in the shape revision 1 created: dedupe on the digest alone.
        with raw_sql(store) as conn:
            conn.exec_driver_sql("ALTER TABLE tl_events DROP CONSTRAINT tl_events_identity")
            conn.exec_driver_sql(
                "ALTER TABLE tl_events ADD CONSTRAINT tl_events_digest_key UNIQUE (digest)"
            )
            for statement in PG_BACK_TO_REVISION_3:
                conn.exec_driver_sql(statement)
            conn.exec_driver_sql("UPDATE tl_meta SET value = '1' WHERE key = 'schema_version'")
            conn.exec_driver_sql("DELETE FROM tl_migrations WHERE name <> '0001_initial'")
        with open_store(url) as store:
            assert store.schema_version() == s.SCHEMA_VERSION
            with raw_sql(store) as conn:
                constraints = set(
                    conn.exec_driver_sql(
                        "SELECT conname FROM pg_constraint WHERE conrelid = 'tl_events'::regclass"
                    ).scalars()
                )
            assert constraints == {"tl_events_pkey", "tl_events_identity"}
            assert_identity_digests(store)
            assert [m.name for m in select_all(store, s.migrations)] == [
                "0001_initial",
                "0002_events_identity_by_time",
                "0003_open_runs_index",
                "0004_identity_digests",
                "0005_projection_watermark",
                "0006_events_without_run_index",
            ]
            assert indexes_of_the_log(store) == {
                "tl_events_pkey",
                "tl_events_identity",
                "tl_events_job",
            }
            assert store.append_batch([event(1), event(3)]).appended == 1
            assert store.verify().records == 3


def indexes_of_the_log(store: SqlStore) -> set[str]:
    with raw_sql(store) as conn:
        return set(
            conn.exec_driver_sql(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'tl_events'"
            ).scalars()
        )


def test_writers_racing_to_create_the_schema_all_succeed() -> None:
    """Eight processes open a fresh database at the same instant: one creates, the rest wait."""
    with fresh_database() as url:
        assert open_at_once(url, writers=8, events_each=5) == ["ok"] * 8
        with open_store(url) as store:
            assert store.counts()["events"] == 8 * 5
            assert store.verify().ok


def test_a_new_store_has_the_postgresql_forms_of_its_indexes() -> None:
    # Created by a process of its own: in this one an earlier test may have set the options.
    with fresh_database() as url:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from threadline.store import open_store; "
                "open_store(sys.argv[1]).close()",
                url,
            ],
            check=True,
        )
        with open_store(url) as store, raw_sql(store) as conn:
            definitions = dict(
                conn.exec_driver_sql(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
                    "('tl_events_job', 'tl_nodes_name', 'tl_runs_open')"
                ).all()
            )
    assert "USING hash (job_name)" in definitions["tl_events_job"]
    assert "USING hash (name)" in definitions["tl_nodes_name"]
    assert definitions["tl_runs_open"].endswith("WHERE (state_rank < 3)")
