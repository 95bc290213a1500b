"""The public API's questions, asked after this process's own records are written.

Capture is asynchronous: ``threadline.run`` returns while its events are still on their way to
the store.  A program that records and then asks (``threadline.trace`` right after the run that
wrote the file) must see what it recorded, so each question here first waits until the events
this process has handed to capture are in the store (:func:`threadline.capture.api.flush` with
``durable``: under ``threadline run`` a plain flush returns once the supervisor has them, and the
supervisor may hold them a moment to write them with the next ones), then asks the configured
store (:mod:`threadline.query.configured`).  A process that recorded nothing pays nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from threadline.capture.api import flush
from threadline.query import configured

P = ParamSpec("P")
R = TypeVar("R")


def _after_own_records(question: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(question)
    def asked(*args: P.args, **kwargs: P.kwargs) -> R:
        flush(durable=True)
        return question(*args, **kwargs)

    return asked


trace = _after_own_records(configured.trace)
impact = _after_own_records(configured.impact)
show = _after_own_records(configured.show)
diff = _after_own_records(configured.diff)
log = _after_own_records(configured.log)
search = _after_own_records(configured.search)

__all__ = ["diff", "impact", "log", "search", "show", "trace"]
