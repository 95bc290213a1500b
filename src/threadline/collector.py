"""Garbage-collector policy: cheap walks in a process that only serves, none over a batch in
flight; and a captured program's full collections no more frequent than without capture.

CPython's cyclic collector walks every young container it tracks each time enough have been
allocated.  A batch of events parses into hundreds of thousands of dicts and lists that stay
alive until the batch is appended, so each walk while one is in flight visits all of them and
frees nothing (parsed JSON holds no cycles): on 5,000-event batches of the official client's
events the walks cost ~6 us an event, a fifth of checking it.

* :func:`tune_gc_for_serving` (startup): freeze what startup built, out of every future walk,
  and raise the first threshold so that walks are rare;
* :func:`collections_held` (around a large batch, from its parsing until its events are
  dropped): automatic collection is off while any such batch is in flight, and whatever
  accumulated is walked once they are all gone, when it is garbage or small.  Under a stream
  of overlapping batches the hold could last indefinitely, so a batch that leaves a hold
  which has lasted :data:`MAX_HOLD_SECONDS` runs one collection: garbage with cycles (rare in
  a serving process) waits at most that long, or for as long as one batch takes.

Only threadline's own serving processes are tuned: ``threadline serve`` (and its workers) and
a store's writer agent (:mod:`threadline.capture.agent`).  An application that embeds the app
or captures in process keeps its own collector settings, and :func:`collections_held` then
does nothing.

A captured program keeps its settings too, but capture's own long-lived objects (its modules,
and the wrappers of every hooked method) would count toward the program's next *full*
collection, which CPython runs once the objects that survived into the oldest generation
since the last one reach a quarter of those in it.  With pandas and scikit-learn loaded a full
collection walks ~130,000 objects (50-85 ms here), and capture's ~7,000 brought one more into
three of the demo's nine scripts.  :func:`uncounted_objects`, around capture's start and each
library's hooks, moves what they made into the oldest generation without counting it: it is
still walked by every full collection, but brings none forward.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

#: The longest automatic collection stays off while batches keep overlapping.
MAX_HOLD_SECONDS: Final = 2.0


class _Hold:
    """How many batches hold collection off, and since when (shared by every thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tuned = False
        self.holders = 0
        self.since = 0.0


_hold = _Hold()


def tune_gc_for_serving(*, collect_first: bool = True) -> None:
    """Make the cyclic garbage collector cheap for a process that only serves requests.

    Freezing what startup built moves it out of every future walk, and a larger first
    threshold makes walks rare (on 20,000-event batches the default settings took more time
    than parsing: 15,700 events/s parsed, 129,000 with the collector off).  Also lets
    :func:`collections_held` hold collection off over large batches.  ``collect_first=False``
    freezes without collecting first: for a start that leaves no garbage worth the walk.
    """
    if collect_first:
        gc.collect()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    with _hold.lock:
        _hold.tuned = True


@contextmanager
def collections_held() -> Iterator[None]:
    """No automatic collection until every batch inside such a block has left it (see the
    module docstring); the block should end once its batch's events are dropped."""
    hold = _hold
    with hold.lock:
        # Joining a hold under way, or starting one where collection is on and tuned.
        held = hold.holders > 0 or (hold.tuned and gc.isenabled())
        if held:
            if hold.holders == 0:
                gc.disable()
                hold.since = time.monotonic()
            hold.holders += 1
    if not held:
        yield
        return
    try:
        yield
    finally:
        with hold.lock:
            hold.holders -= 1
            if hold.holders == 0:
                gc.enable()
                collect = False
            else:
                collect = time.monotonic() - hold.since >= MAX_HOLD_SECONDS
                if collect:
                    hold.since = time.monotonic()
        if collect:
            gc.collect(1)


@contextmanager
def uncounted_objects() -> Iterator[None]:
    """The objects made inside the block count toward no full collection (see the module
    docstring): for capture's own start and hooks in a captured program.

    Automatic collection is off inside the block, so that everything made there is still in
    the youngest generation at its end; it then moves into the oldest one uncounted (freezing
    moves every tracked object into the permanent generation without counting it, and
    unfreezing merges that generation into the oldest).  The objects are walked by every full
    collection from then on, and cyclic garbage among them waits for the next one.  What the
    program made just before, still young then (a few thousand objects at most), moves with
    them.  Nothing is done when the program turned collection off or froze objects (unfreezing
    would hand them back to the collector), nor inside an enclosing block.
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


def holding() -> bool:
    """True while a batch holds automatic collection off."""
    with _hold.lock:
        return _hold.holders > 0


__all__ = [
    "MAX_HOLD_SECONDS",
    "collections_held",
    "holding",
    "tune_gc_for_serving",
    "uncounted_objects",
]
