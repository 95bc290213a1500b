"""A fresh PostgreSQL database per test, for every suite that runs on both backends.

Skipped when no server answers locally; in CI (``CI`` set) a missing server fails the test,
so PostgreSQL coverage can never vanish silently.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

PG_BASE = os.environ.get("THREADLINE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@contextlib.contextmanager
def fresh_database(prefix: str = "tl_test") -> Iterator[str]:
    """Create a uniquely named database, yield its URL, drop it afterwards."""
    admin = sa.create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        admin.dispose()
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL at {PG_BASE} is required in CI: {exc.orig}")
        pytest.skip(f"PostgreSQL at {PG_BASE} is not reachable")
    try:
        yield f"{PG_BASE}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
