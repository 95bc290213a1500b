"""When the derived graph catches up with the log: after appends, off the acknowledgement path.

An append is acknowledged once its records are in the log (chained, committed, durable when
asked); the graph tables are derived from the log and follow it.  ``tl_meta``'s
``graph_projected_seq`` says how far they reached, and moves in the same transaction as the
rows it accounts for, so a projection killed at any point leaves the graph at a page boundary
and the next one carries on from there, in log order, under each record's own ``seq``.

Who brings the graph up to the log (:class:`Projector`):

* a reader, before it reads the graph (read-your-writes: a query sees at least every event
  acknowledged before it began, in this process or any other);
* this process's projector thread, once appends pause for :data:`IDLE_SECONDS`, so the graph is
  usually current before anyone asks;
* an append that finds the graph more than :data:`MAX_LAG` events behind, a page at a time
  until it is within ``MAX_LAG`` again, before it returns (back-pressure: a burst of up to
  ``MAX_LAG`` events is acknowledged at the log's pace, a sustained stream at the
  projection's, and the wait of a query stays bounded, however large the appends);
* :meth:`Projector.close`, so a process that wrote leaves the graph whole behind it.

The projecting itself (one page per transaction, under the chain lock) is the store's
(:meth:`threadline.store.sql.SqlStore._project_page`); this module only decides when.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Final

#: Events the log may run ahead of the graph before an append projects them itself.
MAX_LAG: Final = 20_000
#: Events projected per transaction.
PAGE: Final = 2_000
#: Events the projector thread projects per transaction: an append that arrives meanwhile
#: waits for the page under way (~20 ms of them), not for a whole catch-up.
IDLE_PAGE: Final = 200
#: Appends must pause this long before the projector thread starts catching up: a projection
#: running beside an append competes with it for the interpreter (the GIL) and halves its pace.
IDLE_SECONDS: Final = 0.2

_log = logging.getLogger("threadline.store")

#: Projects the next page (of at most the given number of records) the graph lacks; returns
#: (projected up to, log head) as it saw them.
PageProjector = Callable[[int], tuple[int, int]]


class Projector:
    """Decides when ``project_page`` runs (see the module docstring)."""

    def __init__(
        self,
        project_page: PageProjector,
        *,
        max_lag: int = MAX_LAG,
        idle: float = IDLE_SECONDS,
        page: int = PAGE,
    ) -> None:
        self._project_page = project_page
        self.max_lag = max_lag
        self._idle = idle
        self._page = page
        # What this process knows: the graph reaches at least ``_projected``; the log's head
        # is at least ``_head``.  Another process may know more; readers ask the store.
        self._projected = 0
        self._head = 0
        self._appends = 0  # bumped by every append: the thread waits for it to stand still
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def appending(self) -> None:
        """An append begins: the projector thread stops after the page under way."""
        self._appends += 1

    def appended(self, head_seq: int) -> None:
        """An append committed and the log's head is now ``head_seq``."""
        self._head = max(self._head, head_seq)
        try:
            # Back-pressure: this append pays for the pages that bring the graph back within
            # max_lag.  (One page each let a stream of appends larger than a page leave the
            # graph further behind after every one of them.)
            while self._head - self._projected > self.max_lag:
                before = self._projected
                self._step()
                if self._projected <= before:
                    break  # no progress (the log is shorter than this process thought)
        except Exception as exc:  # acknowledged all the same: the log holds the events
            _log.warning("threadline: projecting the log onto the graph failed: %s", exc)
        with self._wake:
            # Bumped again now the append has ended, so the idle period counts from its end,
            # not its start (a long append would otherwise look like an idle one).
            self._appends += 1
            # (Not alive: this process was forked from one that had started it.)
            if not self._closed and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(
                    target=self._run, name="threadline-projector", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def catch_up(self) -> int:
        """Project until the graph reaches the log's head; returns where it reached."""
        while True:
            projected, head = self._step()
            if projected >= head:
                return projected

    def saw(self, projected: int, head: int) -> None:
        """Note positions read elsewhere (a reader's check of the store)."""
        self._projected = max(self._projected, projected)
        self._head = max(self._head, head)

    def close(self) -> None:
        """Stop the thread and bring the graph up to the log (best effort: whoever reads
        next catches up if this cannot)."""
        with self._wake:
            self._closed = True
            thread, self._thread = self._thread, None
            self._wake.notify()
        if thread is not None:
            thread.join()
        if self._head > self._projected:
            try:
                self.catch_up()
            except Exception as exc:  # the log holds the events; the next reader projects them
                _log.warning("threadline: the graph was left behind the log at close: %s", exc)

    def _step(self, limit: int | None = None) -> tuple[int, int]:
        projected, head = self._project_page(self._page if limit is None else limit)
        self.saw(projected, head)
        return projected, head

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and self._head <= self._projected:
                    self._wake.wait()
                if self._closed:
                    return
                # Wait until appends stand still for the idle period.
                seen = -1
                while not self._closed and seen != self._appends:
                    seen = self._appends
                    self._wake.wait(self._idle)
                if self._closed:
                    return
            try:
                while self._head > self._projected and seen == self._appends:
                    self._step(IDLE_PAGE)
            except Exception as exc:
                # Readers and the next append retry; a failure here must not kill the thread.
                _log.warning("threadline: projecting the log onto the graph failed: %s", exc)
                with self._wake:
                    self._wake.wait(1.0)


__all__ = ["IDLE_PAGE", "IDLE_SECONDS", "MAX_LAG", "PAGE", "PageProjector", "Projector"]
