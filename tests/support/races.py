"""Processes that reach a store at the same instant, for the races only real processes show."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tests.support.events import event
from threadline.store import open_store


def _open_and_append(url: str, writer: int, events_each: int, start: Any, results: Any) -> None:
    start.wait()
    try:
        with open_store(url) as store:
            store.append_batch([event(writer * 1000 + i) for i in range(events_each)])
        results.put("ok")
    except Exception as exc:  # reported back: the test's assertion shows it
        results.put(f"{type(exc).__name__}: {exc}")


def open_at_once(url: str, *, writers: int, events_each: int) -> list[str]:
    """Start ``writers`` processes that open ``url`` together and each append some events.

    Returns each writer's outcome: ``"ok"``, or the error it met.  Spawned, not forked, so each
    one opens the store from nothing, as separate commands would.
    """
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(target=_open_and_append, args=(url, k, events_each, start, results))
        for k in range(writers)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    return sorted(outcomes, key=lambda outcome: outcome != "ok")
