"""The asynchronous emitter: callers enqueue, one background thread batches and writes.

Contract:

* ``emit`` costs the caller an append to a deque (≈ a microsecond); serialization, hashing and
  I/O happen on the writer thread.
* Memory is bounded: at ``queue_size`` pending events ``emit`` waits for room (back-pressure);
  events are never dropped silently.
* The writer commits a batch when ``batch_size`` events are pending or ``batch_window``
  seconds passed (default 50 ms), so a SIGKILL loses at most that window and never a
  half-written record (each batch is one transaction).
* ``flush()`` returns once everything emitted before it is written; ``flush(durable=True)`` and
  ``emit(..., strict=True)`` also wait until it is fsynced.
* A clean exit (``atexit``), an exception reaching the top, and SIGTERM flush everything.

Sinks follow the transport contract of the OpenLineage client: ``kind``, ``emit_batch`` and
``close(timeout) -> bool``.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from threadline.capture.boundary import report
from threadline.config import current
from threadline.errors import CaptureError, InvalidEvent

if TYPE_CHECKING:
    from threadline.model.events import AnyEvent

#: An event as a JSON object (what capture builds) or a model.events struct (the public API).
Event: TypeAlias = "AnyEvent | dict[str, Any]"


class Sink(Protocol):
    kind: str

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        """Write the events atomically; raise on failure."""
        ...

    def close(self, timeout: float) -> bool:
        """Release resources; True when everything was delivered."""
        ...


class StoreSink:
    """Writes batches straight into a local store."""

    kind = "store"

    def __init__(self, store: Any) -> None:
        self.store = store

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool) -> None:
        self.store.append_batch(events, durable=durable)

    def sync(self) -> None:
        """Make everything already written durable."""
        self.store.sync()

    def close(self, timeout: float) -> bool:
        self.store.close()
        return True


class Emitter:
    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int = 10_000,
        batch_size: int = 1_000,
        batch_window: float = 0.05,
        retries: int = 3,
    ) -> None:
        self.sink = sink
        self._queue: collections.deque[Event | _Marker] = collections.deque()
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._window = batch_window
        self._retries = retries
        #: Set when the queue gets its first item, and by flush and close: the writer thread
        #: sleeps until then (woken by a timer, it would take the interpreter from the
        #: program ten times a second for as long as the program runs, with nothing to write).
        self._wake = threading.Event()
        #: Set when a batch's worth is queued, and by flush and close: the batch window ends.
        self._full = threading.Event()
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="threadline-emitter", daemon=True)
        self._thread.start()

    # --- caller side ------------------------------------------------------------------------

    def emit(self, event: Event, *, strict: bool = False) -> None:
        """Queue one event; with ``strict`` return only once it is durable."""
        if self._closed:
            raise CaptureError("the emitter is closed; no more events can be recorded")
        queue = self._queue
        if len(queue) >= self._queue_size:
            self._wait_for_room()
        first = not queue
        queue.append(event)
        if first:
            self._wake.set()
        if len(queue) >= self._batch_size:
            self._full.set()
        if strict and not self.flush(None, durable=True):
            raise CaptureError("the event could not be made durable (see the error above)")

    def _wait_for_room(self) -> None:
        if threading.current_thread() is self._thread:
            raise CaptureError("the emitter thread cannot wait on itself")
        self._wake.set()
        self._full.set()
        with self._cond:
            while len(self._queue) >= self._queue_size and self._thread.is_alive():
                self._cond.wait(0.1)

    def flush(self, timeout: float | None = 10.0, *, durable: bool = False) -> bool:
        """Wait until every event this thread emitted is written (and fsynced if ``durable``).

        A barrier goes into the queue behind them; the writer marks it once the batch that
        holds it has committed.
        """
        marker = _Marker(durable)
        self._queue.append(marker)
        self._wake.set()
        self._full.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not marker.done:
                if not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))
        return marker.ok

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, stop the writer thread and close the sink; True if nothing was lost."""
        if self._closed:
            return True
        flushed = self.flush(timeout)
        self._closed = True
        self._wake.set()
        self._full.set()
        self._thread.join(timeout)
        with _silenced():
            flushed = self.sink.close(timeout) and flushed
        return flushed and self.dropped == 0

    # --- writer side ------------------------------------------------------------------------

    def _run(self) -> None:
        queue = self._queue
        while True:
            self._wake.wait()
            self._wake.clear()
            if queue and not self._closed and not self._full.is_set():
                self._full.wait(self._window)  # what comes meanwhile joins the batch
            self._full.clear()
            while queue:
                batch: list[dict[str, Any]] = []
                markers: list[_Marker] = []
                while queue and len(batch) < self._batch_size:
                    item = queue.popleft()
                    if isinstance(item, _Marker):
                        markers.append(item)
                    else:
                        batch.append(item if isinstance(item, dict) else _as_dict(item))
                durable = any(marker.durable for marker in markers)
                ok = self._write(batch, durable=durable)
                with self._cond:
                    for marker in markers:
                        marker.ok = ok
                        marker.done = True
                    self._cond.notify_all()
            if self._closed and not queue:
                return

    def _write(self, batch: list[dict[str, Any]], *, durable: bool) -> bool:
        """Write with retries; False if events were lost (reported on stderr)."""
        if not batch and not durable:
            return True
        delay = 0.05
        for attempt in range(self._retries + 1):
            try:
                if batch:
                    self.sink.emit_batch(batch, durable=durable)
                else:
                    sync = getattr(self.sink, "sync", None)
                    if sync is not None:
                        sync()
                return True
            except InvalidEvent:
                # One bad event must not take its whole batch down: write the rest one by one.
                return self._write_one_by_one(batch, durable=durable)
            except Exception as exc:
                if attempt == self._retries:
                    self.dropped += len(batch)
                    report(
                        "emitter",
                        CaptureError(
                            f"{len(batch)} lineage event(s) could not be written after "
                            f"{self._retries + 1} attempts: {exc}"
                        ),
                    )
                    return False
                time.sleep(delay)
                delay *= 2
        return False

    def _write_one_by_one(self, batch: list[dict[str, Any]], *, durable: bool) -> bool:
        lost = emit_each(self.sink, batch, durable=durable, where="emitter")
        self.dropped += lost
        return not lost


def emit_each(sink: Sink, events: Sequence[dict[str, Any]], *, durable: bool, where: str) -> int:
    """Write ``events`` one at a time, after the sink refused them as a batch.

    One bad event must not take the others down with it: each is written on its own, and each
    that fails is reported (once per kind) and counted.  Returns how many were not written.
    """
    lost = 0
    for event in events:
        try:
            sink.emit_batch([event], durable=durable)
        except Exception as exc:
            lost += 1
            report(where, exc)
    return lost


class _Marker:
    """A flush barrier in the queue: carries no event, marked done once written."""

    __slots__ = ("done", "durable", "ok")

    def __init__(self, durable: bool) -> None:
        self.durable = durable
        self.done = False
        self.ok = False


class _silenced:
    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: object, tb: object) -> bool:
        if isinstance(exc, Exception):
            report("emitter.close", exc)
        return True


# --- the process-wide emitter ------------------------------------------------------------

_default: Emitter | None = None
_default_lock = threading.Lock()
_previous_sigterm: Any = None


def settings_sink() -> Sink:
    """The sink the resolved settings name: the server when a URL is set, else the store."""
    settings = current()
    if settings.url:
        from threadline.capture.http_sink import DEFAULT_SPOOL, HttpSink

        # Anchored now: a later chdir must not strand spooled events where
        # `threadline sync` (run from the same folder) will not look.
        return HttpSink(settings.url, spool_dir=DEFAULT_SPOOL.resolve())
    from threadline.store import open_store

    return StoreSink(open_store(settings.store_url))


def get_emitter() -> Emitter:
    """The process-wide emitter, created on first use from the resolved settings."""
    global _default
    if _default is not None:
        return _default
    with _default_lock:
        if _default is None:
            settings = current()
            _default = Emitter(
                settings_sink(),
                queue_size=settings.queue_size,
                batch_size=settings.batch_size,
                batch_window=min(settings.batch_window, 0.1),
            )
            atexit.register(shutdown)
            _install_sigterm()
        return _default


def current_emitter() -> Emitter | None:
    """The process-wide emitter if one exists (never creates one, unlike :func:`get_emitter`)."""
    return _default


def set_emitter(emitter: Emitter | None) -> Emitter | None:
    """Replace the process-wide emitter (returns the previous one, not closed)."""
    global _default
    with _default_lock:
        previous, _default = _default, emitter
    return previous


def _as_dict(event: AnyEvent) -> dict[str, Any]:
    # msgspec loads only for a program that builds model.events structs itself.
    from threadline.model.events import event_to_dict

    return event_to_dict(event)


def shutdown(timeout: float = 30.0) -> None:
    """Flush and close the process-wide emitter (registered with ``atexit``)."""
    global _default
    with _default_lock:
        emitter, _default = _default, None
    if emitter is not None and not emitter.close(timeout):
        print(
            f"threadline: {emitter.dropped} lineage event(s) could not be written",
            file=sys.stderr,
        )


def _install_sigterm() -> None:
    global _previous_sigterm
    if threading.current_thread() is not threading.main_thread():
        return
    current = signal.getsignal(signal.SIGTERM)
    if current not in (signal.SIG_DFL, None):
        return  # the program handles SIGTERM itself; atexit still flushes on its way out
    _previous_sigterm = current

    def _on_sigterm(signum: int, frame: Any) -> None:
        shutdown()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _on_sigterm)
