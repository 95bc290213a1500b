"""The store contract on PostgreSQL (a fresh database per test).

Locally the tests skip when no server answers; in CI (``CI`` set) they fail instead, so a
missing PostgreSQL can never pass unnoticed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest
from tests.pg import fresh_database
from tests.store.contract import StoreContract

from threadline.store import open_store
from threadline.store.sql import SqlStore

pytestmark = pytest.mark.postgres


@pytest.fixture
def database() -> Iterator[str]:
    with fresh_database() as url:
        yield url


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
