"""The store contract on PostgreSQL (a fresh database per test).

Locally the tests skip when no server answers; in CI (``CI`` set) they fail instead, so a
missing PostgreSQL can never pass unnoticed.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from tests.store.contract import StoreContract

from threadline.store import open_store
from threadline.store.sql import SqlStore

BASE = os.environ.get("THREADLINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

pytestmark = pytest.mark.postgres


@pytest.fixture
def database() -> Iterator[str]:
    admin = sa.create_engine(f"{BASE}/postgres", isolation_level="AUTOCOMMIT")
    name = f"tl_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {BASE} is required in CI: {exc.orig}")
        pytest.skip(f"PostgreSQL at {BASE} is not reachable")
    try:
        yield f"{BASE}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


class TestPostgresStore(StoreContract):
    __test__ = True

    @pytest.fixture
    def store(self, database: str) -> Iterator[SqlStore]:
        opened = open_store(database)
        yield opened
        opened.close()

    @pytest.fixture
    def opener(self, database: str) -> Callable[[], SqlStore]:
        return functools.partial(open_store, database)
