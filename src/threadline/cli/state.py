"""What the global options chose, shared by the command modules.

The global ``--store`` is an explicit argument in the one settings resolution
(:mod:`threadline.config`); every command opens its store through :func:`settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadline.config import Settings, current, with_overrides
from threadline.errors import StoreUnavailable

if TYPE_CHECKING:
    from threadline.store.sql import SqlStore

STORE: str | None = None


def settings(**explicit: Any) -> Settings:
    """The resolved settings, with the global ``--store`` and a command's own options (an
    option left unset is ``None`` and takes the setting's resolved value)."""
    chosen = {"store": STORE} | {k: v for k, v in explicit.items() if v is not None}
    return with_overrides(current(), **chosen)


def store_url(target: str | None = None) -> str:
    return settings(store=target).store_url


def open_existing(target: str | None = None) -> SqlStore:
    """The store for read commands (``target``, else the global choice); never creates an
    empty one by accident."""
    from threadline.store import open_store

    url = store_url(target)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.exists():
            raise StoreUnavailable(
                f"no store at {path} (record something first, or pass --store / THREADLINE_STORE)"
            )
    return open_store(url)


def open_any() -> SqlStore:
    from threadline.store import open_store

    return open_store(store_url())
