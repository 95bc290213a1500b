"""What the global options chose, shared by the command modules."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from threadline.errors import NotFound

if TYPE_CHECKING:
    from threadline.store.sql import SqlStore

STORE: str | None = None


def open_existing(target: str | None = None) -> SqlStore:
    """The store for read commands (``target``, else the global choice); never creates an
    empty one by accident."""
    from threadline.store import normalize_url, open_store

    url = normalize_url(target or STORE)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.exists():
            raise NotFound(
                f"no store at {path} (record something first, or pass --store / THREADLINE_STORE)"
            )
    return open_store(url)


def open_any() -> SqlStore:
    from threadline.store import open_store

    return open_store(STORE or os.environ.get("THREADLINE_STORE"))
