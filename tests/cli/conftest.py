from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.graphs import BACKENDS, pipeline_store

from threadline.store.sql import SqlStore


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """The pipeline of :mod:`tests.support.graphs` in a fresh store, on SQLite and PostgreSQL."""
    with pipeline_store(request.param, tmp_path) as built:
        yield built


@pytest.fixture(autouse=True)
def _wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped tables are laid out at COLUMNS (else 80, cutting long cells): these tests read
    the cells, so they print as in a wide terminal (tests/cli/test_render.py checks the
    widths themselves, setting COLUMNS through the runner)."""
    monkeypatch.setenv("COLUMNS", "250")
