"""The store protocols and the opaque cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.support.events import event
from tests.support.pg import fresh_database

from threadline.errors import UsageError
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.base import Cursor, IntegrityAdmin, Store
from threadline.store.postgres import PostgresStore
from threadline.store.sql import SqlStore
from threadline.store.sqlite import SqliteStore


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        with open_store(tmp_path / "lineage.db") as store:
            yield store
        return
    with fresh_database() as url, open_store(url) as store:
        yield store


def test_both_backends_satisfy_both_protocols(backend: SqlStore) -> None:
    assert type(backend) in (SqliteStore, PostgresStore)
    assert isinstance(backend, Store)
    assert isinstance(backend, IntegrityAdmin)


def test_the_read_side_works_through_the_protocol(backend: SqlStore) -> None:
    def use(store: Store) -> tuple[int, int, list[int]]:
        store.append_batch([event(1), event(2)])
        count = store.read(
            lambda conn: int(conn.execute(sa.select(sa.func.count()).select_from(s.runs)).scalar())
        )
        return count, store.counts()["events"], [e.seq for e in store.read_after(Cursor(0))]

    assert use(backend) == (2, 2, [1, 2])
    assert backend.schema_version() == s.SCHEMA_VERSION


class _Complete:
    """Every member of both protocols, doing nothing: the runtime check sees names only."""

    url = "memory://"
    safe_url = "memory://"
    append_batch = append_chunks = sync = settle = read = read_after = counts = print
    schema_version = close = print
    iter_chain = verify = checkpoint = checkpoints = print


@pytest.mark.parametrize("missing", ["read", "counts", "read_after", "schema_version", "close"])
def test_a_store_without_its_read_side_is_not_a_store(missing: str) -> None:
    partial: Any = type("Partial", (), {k: v for k, v in vars(_Complete).items() if k != missing})
    assert isinstance(_Complete(), Store)
    assert not isinstance(partial(), Store)


@pytest.mark.parametrize("missing", ["iter_chain", "verify", "checkpoint", "checkpoints"])
def test_the_admin_protocol_is_separate_from_the_store(missing: str) -> None:
    hot_only: Any = type(
        "HotOnly",
        (),
        {k: v for k, v in vars(_Complete).items() if k not in IntegrityAdmin.__dict__},
    )
    assert isinstance(hot_only(), Store)
    assert not isinstance(hot_only(), IntegrityAdmin)
    partial: Any = type("Partial", (), {k: v for k, v in vars(_Complete).items() if k != missing})
    assert not isinstance(partial(), IntegrityAdmin)


@pytest.mark.parametrize("seq", [0, 1, 41, 2**62])
def test_a_cursor_round_trips_through_its_token(seq: int) -> None:
    token = Cursor(seq).encode()
    assert "=" not in token
    assert Cursor.decode(token) == Cursor(seq)


@pytest.mark.parametrize("token", ["", "not-a-cursor", Cursor(3).encode()[:-2] + "!!"])
def test_a_foreign_token_is_a_usage_error(token: str) -> None:
    with pytest.raises(UsageError, match="is not a threadline cursor"):
        Cursor.decode(token)


def test_cursors_order_by_position() -> None:
    assert sorted([Cursor(5), Cursor(2)]) == [Cursor(2), Cursor(5)]
