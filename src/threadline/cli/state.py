"""What the global options chose, shared by the command modules.

The global ``--store`` is an explicit argument in the one settings resolution
(:mod:`threadline.config`); every command opens its store through :func:`settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from threadline.config import Settings, current, with_overrides

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
    from threadline.query.configured import open_existing as open_recorded

    return open_recorded(store_url(target))


def open_any(target: str | None = None) -> SqlStore:
    """The store for write commands (``target``, else the global choice), created if new."""
    from threadline.store import open_store

    return open_store(store_url(target), archive_dir=settings().archive_dir)
