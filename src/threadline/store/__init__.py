"""Stores: ``open_store(url)`` picks the backend by URL scheme.

* ``sqlite:///path/lineage.db`` (or a plain path) — embedded, the default
  (``.threadline/lineage.db`` in the working directory);
* ``postgresql+psycopg://user@host/db`` — for teams.

Third parties add schemes through the ``threadline.stores`` entry-point group (a callable that
takes the URL and returns a :class:`~threadline.store.base.Store`).
"""

from __future__ import annotations

import os

from threadline.config import DEFAULT_STORE, current, store_url
from threadline.errors import StoreUnavailable
from threadline.store.writer_agent import wait_for_agent

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

    from threadline.store.sql import SqlStore


def _sqlite(url: str) -> SqlStore:
    from threadline.store.sqlite import SqliteStore

    return SqliteStore(url)


def _postgres(url: str) -> SqlStore:
    from threadline.store.postgres import PostgresStore

    return PostgresStore(url)


BACKENDS: Final[dict[str, Callable[[str], SqlStore]]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgresql+psycopg": _postgres,
    "postgres": _postgres,
}


def normalize_url(target: str | os.PathLike[str] | None = None) -> str:
    """The store URL for an explicit target, else the resolved ``store`` setting
    (:mod:`threadline.config`: ``THREADLINE_STORE``, ``threadline.toml``, the default path)."""
    if target is not None:
        return store_url(target)
    return current().store_url


def open_store(
    target: str | os.PathLike[str] | None = None,
    *,
    cache_bytes: int | None = None,
    archive_dir: str | os.PathLike[str] | None = None,
    catch_up: bool = True,
) -> SqlStore:
    """Open (creating if needed) the store at ``target``; see the module docstring.

    ``cache_bytes`` bounds the memory of each of the store's row-id caches (the
    ``store_cache_bytes`` setting; a long-lived server sets it); ``archive_dir`` is where its
    archive files are (the ``archive_dir`` setting; default: see the backends).
    """
    url = normalize_url(target)
    scheme = url.split("://", 1)[0]
    factory = BACKENDS.get(scheme) or _entry_point(scheme)
    if factory is None:
        raise StoreUnavailable(
            f"no store backend for scheme {scheme!r}; use sqlite:///PATH or postgresql+psycopg://…"
        )
    if catch_up:
        wait_for_agent(url)
    store = factory(url)
    if cache_bytes is not None:
        store.set_cache_budget(cache_bytes)
    if archive_dir is not None:
        from pathlib import Path  # not at the top: every run's supervisor imports this package

        store.archive_dir = Path(archive_dir).expanduser().resolve()
    return store


def _entry_point(scheme: str) -> Callable[[str], SqlStore] | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="threadline.stores"):
        if ep.name == scheme:
            factory: Callable[[str], SqlStore] = ep.load()
            return factory
    return None


__all__ = ["DEFAULT_STORE", "normalize_url", "open_store"]
