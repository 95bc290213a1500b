"""A fresh store location on each backend, for tests that run a store or a server on both."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import fresh_database

#: Parameters for a backend fixture: PostgreSQL tests carry the ``postgres`` mark.
BACKEND_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextlib.contextmanager
def store_location(backend: str, tmp_path: Path, prefix: str = "tl_test") -> Iterator[str]:
    """A SQLite file path in ``tmp_path``, or the URL of a new PostgreSQL database."""
    if backend == "sqlite":
        yield str(tmp_path / "lineage.db")
        return
    with fresh_database(prefix) as url:
        yield url
