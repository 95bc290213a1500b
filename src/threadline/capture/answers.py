"""Capture's view of what earlier runs recorded: cached answers, asked through one transport.

:class:`Answers` sits between the recorder and a :class:`~threadline.capture.recorded.Recorded`
transport.  It caches every answer per dataset (a script reads the same file many times),
turns a failing transport into "cannot say" (reported once, never raised into the user's
code), and, in process, opens the transport on a background thread: opening the store costs
an SQLAlchemy import, so it starts on the first file read and runs beside the user's code; a
question waits for it at most ``wait`` seconds.  :func:`in_process` picks the transport of a
process that records through its own emitter (``autocapture()``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final

from threadline.capture.boundary import capture_boundary
from threadline.capture.emitter import StoreSink, get_emitter
from threadline.capture.hooks._patch import capturing
from threadline.capture.recorded import HttpRecorded, Key, Recorded, StoreRecorded, key_of
from threadline.config import current
from threadline.model.ids import NodeId
from threadline.model.serving import Serving

#: How long a question waits for the transport to open before going on without its answer.
STORE_WAIT: Final = 10.0

_BOUNDARY: Final = "capture.recorded"


class Answers:
    """Cached answers to :class:`~threadline.capture.recorded.Recorded` questions."""

    def __init__(self, transport: Recorded | None) -> None:
        self._transport = transport
        self._opener: Callable[[], Recorded | None] | None = None
        self._wait = STORE_WAIT
        self._ready = threading.Event()
        self._ready.set()
        self._lock = threading.Lock()
        self._produced: dict[Key, bool | None] = {}
        self._labels: dict[Key, frozenset[str]] = {}

    @classmethod
    def opening(cls, opener: Callable[[], Recorded | None], *, wait: float = STORE_WAIT) -> Answers:
        """Answers through the transport ``opener`` returns, opened in the background on the
        first :meth:`start` (or question); None from it means there is nobody to ask."""
        answers = cls(None)
        answers._opener = opener
        answers._wait = wait
        answers._ready.clear()
        return answers

    def start(self) -> None:
        """Begin opening the transport, without blocking the caller."""
        with self._lock:
            opener, self._opener = self._opener, None
        if opener is not None:
            threading.Thread(
                target=self._open, args=(opener,), name="threadline-recorded", daemon=True
            ).start()

    def _open(self, opener: Callable[[], Recorded | None]) -> None:
        try:
            with capturing(), capture_boundary(_BOUNDARY):
                self._transport = opener()
        finally:
            self._ready.set()

    def _ask(self) -> Recorded | None:
        self.start()
        if not self._ready.wait(self._wait):
            return None
        return self._transport

    def prefetch(self, nodes: Sequence[NodeId]) -> None:
        """Start asking whether ``nodes`` were produced, if the transport is ready."""
        transport = self._transport if self._ready.is_set() else None
        keys = [key for key in map(key_of, nodes) if key not in self._produced]
        if transport is not None and keys:
            with capture_boundary(_BOUNDARY):
                transport.prefetch(keys)

    def produced(self, node: NodeId) -> bool | None:
        """Did a recorded run output a version of ``node``'s dataset (None: cannot say)?"""
        key = key_of(node)
        if key not in self._produced:
            answer: bool | None = None
            transport = self._ask()
            if transport is not None:
                with capture_boundary(_BOUNDARY):
                    answer = transport.produced([key])[0]
            self._produced[key] = answer
        return self._produced[key]

    def labels(self, node: NodeId) -> frozenset[str]:
        """Labels (own and inherited) recorded for the dataset ``node`` names."""
        key = key_of(node)
        if key not in self._labels:
            found: frozenset[str] = frozenset()
            transport = self._ask()
            if transport is not None:
                with capture_boundary(_BOUNDARY):
                    found = transport.labels(key)
            self._labels[key] = found
        return self._labels[key]

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        """Deployments of the model version ``model`` serving at ``at``."""
        found: list[Serving] = []
        if model.version is None:
            return found
        transport = self._ask()
        if transport is not None:
            with capture_boundary(_BOUNDARY):
                found = transport.serving(model, at)
        return found

    def close(self) -> None:
        """Close the transport once it is open (a transport still opening is left to exit)."""
        transport = self._transport if self._ready.is_set() else None
        self._transport = None
        if transport is not None:
            with capture_boundary(_BOUNDARY):
                transport.close()


def in_process() -> Recorded | None:
    """The transport of a process recording through its own emitter (``autocapture()``).

    The emitter's store is shared; events going to a server ask that server.  Otherwise (an
    emitter with another sink) the configured store is opened for reading, but only if it
    already exists: a question must never create a store.
    """
    sink = get_emitter().sink
    if isinstance(sink, StoreSink):
        return StoreRecorded(sink.store)
    # http.client and ssl load only for a process that sends its events over HTTP.
    from threadline.capture.http_sink import HttpSink

    if isinstance(sink, HttpSink):
        return HttpRecorded(sink)
    settings = current()
    if settings.url:
        return None
    url = settings.store_url
    if url.startswith("sqlite:///") and not os.path.isfile(url[len("sqlite:///") :]):
        return None
    # Imported here: a process launched by `threadline run` never opens a store itself.
    from threadline.store import open_store

    return StoreRecorded(open_store(url), owned=True)


__all__ = ["STORE_WAIT", "Answers", "in_process"]
