"""The questions of the public API (``threadline.trace`` and the rest), on the configured store
when none is given, as the capture functions record into it.

Each takes the store first, as :mod:`threadline.query` does, or leaves it out::

    threadline.trace("predictions/batch.csv")                  # the configured store
    threadline.trace(store, "predictions/batch.csv", row=17)    # an open store
    threadline.trace("elsewhere/lineage.db", "predictions/batch.csv")  # a path or URL
    threadline.trace("predictions/batch.csv", store="postgresql+psycopg://…")

The configured store is the resolved ``store`` setting (:mod:`threadline.config`:
``THREADLINE_STORE``, ``threadline.toml``, ``.threadline/lineage.db``).  A store opened here
is closed before the answer is returned; a store passed in is left open.  A question never
creates a store: a missing one is :class:`~threadline.errors.StoreUnavailable`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import overload

from threadline.config import current
from threadline.errors import StoreUnavailable, UsageError
from threadline.query.diff import DIFF_LIMIT, ModelDiff
from threadline.query.diff import diff as diff_versions
from threadline.query.graph import DEFAULT_LIMIT
from threadline.query.graph import impact as downstream
from threadline.query.result import LineageGraph
from threadline.query.rows import RowTrace
from threadline.query.search import SearchResult
from threadline.query.search import search as search_nodes
from threadline.query.show import RunLog, VersionDetail
from threadline.query.show import log as recent_runs
from threadline.query.show import show as show_version
from threadline.query.tracing import trace as upstream
from threadline.store import normalize_url, open_store
from threadline.store.base import Store
from threadline.store.sql import SqlStore

#: A store, or where to find one (a path or URL); ``None`` is the configured store.
StoreLike = Store | str | os.PathLike[str] | None
#: A version: a printable id or a path.
Ref = str | os.PathLike[str]


def open_existing(target: str | os.PathLike[str] | None = None) -> SqlStore:
    """The store at ``target`` (else the configured one), refusing to create an empty one."""
    url = normalize_url(target)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///") :])
        if not path.exists():
            raise StoreUnavailable(
                f"no store at {path} (record something first, or pass --store / THREADLINE_STORE)"
            )
    return open_store(url, archive_dir=current().archive_dir)


@contextmanager
def _store(chosen: StoreLike) -> Iterator[Store]:
    if isinstance(chosen, Store):
        yield chosen
        return
    with open_existing(chosen) as opened:
        yield opened


def _one_store(positional: StoreLike, keyword: StoreLike) -> StoreLike:
    if positional is not None and keyword is not None:
        raise UsageError("the store is given twice: pass it first or as store=, not both")
    return positional if positional is not None else keyword


@overload
def trace(
    target: StoreLike | Ref,
    ref: Ref | None = ...,
    /,
    *,
    store: StoreLike = ...,
    depth: int | None = ...,
    as_of: dt.datetime | str | None = ...,
    limit: int | None = ...,
    row: int,
    row_values: bool = ...,
) -> RowTrace: ...
@overload
def trace(
    target: StoreLike | Ref,
    ref: Ref | None = ...,
    /,
    *,
    store: StoreLike = ...,
    depth: int | None = ...,
    as_of: dt.datetime | str | None = ...,
    limit: int | None = ...,
    row: None = ...,
    row_values: bool = ...,
) -> LineageGraph: ...


def trace(
    target: StoreLike | Ref,
    ref: Ref | None = None,
    /,
    *,
    store: StoreLike = None,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
    row: int | None = None,
    row_values: bool = True,
) -> LineageGraph | RowTrace:
    """Everything upstream of ``ref`` (:func:`threadline.query.trace`); ``trace(ref)`` asks the
    configured store."""
    chosen, version = _split(target, ref, store)
    with _store(chosen) as opened:
        if row is None:
            return upstream(opened, version, depth=depth, as_of=as_of, limit=limit)
        return upstream(
            opened, version, depth=depth, as_of=as_of, limit=limit, row=row, row_values=row_values
        )


def impact(
    target: StoreLike | Ref,
    ref: Ref | None = None,
    /,
    *,
    store: StoreLike = None,
    depth: int | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> LineageGraph:
    """Everything downstream of ``ref`` (:func:`threadline.query.impact`)."""
    chosen, version = _split(target, ref, store)
    with _store(chosen) as opened:
        return downstream(opened, version, depth=depth, as_of=as_of, limit=limit)


def show(
    target: StoreLike | Ref,
    ref: Ref | None = None,
    /,
    *,
    store: StoreLike = None,
    as_of: dt.datetime | str | None = None,
) -> VersionDetail:
    """Everything recorded about one version (:func:`threadline.query.show`)."""
    chosen, version = _split(target, ref, store)
    with _store(chosen) as opened:
        return show_version(opened, version, as_of=as_of)


def diff(
    first: StoreLike | Ref,
    second: Ref,
    third: Ref | None = None,
    /,
    *,
    store: StoreLike = None,
    limit: int | None = DIFF_LIMIT,
) -> ModelDiff:
    """What differs between two versions (:func:`threadline.query.diff`): ``diff(a, b)`` on
    the configured store, or ``diff(store, a, b)``."""
    if third is None:
        chosen, a, b = store, _text(first), _text(second)
    else:
        chosen, a, b = _one_store(first, store), _text(second), _text(third)
    with _store(chosen) as opened:
        return diff_versions(opened, a, b, limit=limit)


def log(
    store: StoreLike = None,
    limit: int = 20,
    *,
    job: str | None = None,
    since: dt.datetime | str | None = None,
) -> RunLog:
    """The most recent runs, newest first (:func:`threadline.query.log`)."""
    with _store(store) as opened:
        return recent_runs(opened, limit, job=job, since=since)


def search(
    first: StoreLike | str = None,
    second: str | None = None,
    /,
    *,
    store: StoreLike = None,
    kind: str | None = None,
    namespace: str | None = None,
    owner: str | None = None,
    label: str | None = None,
    stage: str | None = None,
    as_of: dt.datetime | str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> SearchResult:
    """Nodes matching every filter (:func:`threadline.query.search`): ``search("churn")`` on
    the configured store, or ``search(store, "churn")``."""
    if second is not None or (first is not None and not isinstance(first, str)):
        chosen, text = _one_store(first, store), second
    else:
        chosen, text = store, first
    with _store(chosen) as opened:
        return search_nodes(
            opened,
            text,
            kind=kind,
            namespace=namespace,
            owner=owner,
            label=label,
            stage=stage,
            as_of=as_of,
            limit=limit,
        )


def _split(target: StoreLike | Ref, ref: Ref | None, store: StoreLike) -> tuple[StoreLike, str]:
    """(the store, the version asked about) from ``(ref)`` or ``(store, ref)``."""
    if ref is None:
        if target is None or isinstance(target, Store):
            raise UsageError("which version? pass an id or a path, e.g. trace('model.joblib')")
        return store, _text(target)
    return _one_store(target, store), _text(ref)


def _text(ref: StoreLike | Ref) -> str:
    if isinstance(ref, str | os.PathLike):
        return os.fspath(ref)
    raise UsageError(f"expected an id or a path, got {type(ref).__name__}")


__all__ = [
    "diff",
    "impact",
    "log",
    "open_existing",
    "search",
    "show",
    "trace",
]
