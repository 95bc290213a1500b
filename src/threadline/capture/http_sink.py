"""Remote capture: a sink that posts batches to a threadline server, spooling while it is down.

Contract (the emitter's sink protocol, after the OpenLineage client's transports): ``kind`` is
``"http"``; :meth:`HttpSink.emit_batch` posts the batch as NDJSON to
``{url}/api/v1/lineage/batch`` (gzip-compressed past 64 KiB) and returns once the server
committed it, or once it is safely spooled; :meth:`HttpSink.close` stops the background replay
and returns True when nothing was lost (every event delivered or durably spooled).

Failures:

* the server unreachable, timing out, or answering 429 / 5xx: retried ``retries`` times with
  exponential backoff (``backoff``, doubling, capped at ``max_backoff``).  Then the batch goes
  to the **spool** and the sink stops trying the network for new batches: while the spool is
  not empty, new batches are appended to it too (so delivery keeps its order), and a background
  thread probes the server (every second, backing off to 30 s) and replays the spool as soon as
  it answers;
* 413 (batch too large): the batch is split in halves and each half sent on its own;
* any other 4xx: the events are wrong, not the network.  :class:`~threadline.errors.InvalidEvent`
  is raised (the emitter then writes the batch one event at a time and reports the bad ones);
  nothing is spooled.

The spool is a folder (default ``.threadline/spool``) of append-only NDJSON *segments*, one per
spooled batch.  A segment is written to a temporary name, fsynced, renamed into place and the
folder fsynced, so a crash leaves either the whole batch or nothing.  Replay (background, or on
demand with ``threadline sync``) sends the segments oldest first and deletes each once the
server answered 201.  Replays are idempotent: the server stores each event once however often
it arrives, so a segment sent twice (a crash between the answer and the delete, two replaying
processes) changes nothing.  A segment the server refuses as invalid is moved to
``rejected/`` so it cannot block the queue.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import itertools
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from threadline.capture.boundary import report
from threadline.config import Settings, current
from threadline.errors import InvalidEvent, UsageError

DEFAULT_SPOOL: Final = Path(".threadline") / "spool"
BATCH_PATH: Final = "/api/v1/lineage/batch"
PRODUCED_PATH: Final = "/api/v1/threadline/produced"
_COMPRESS_ABOVE: Final = 64 * 1024
_RETRY_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_PROBE_MIN: Final = 1.0
_PROBE_MAX: Final = 30.0
_SEGMENT_SUFFIX: Final = ".ndjson"
_counter = itertools.count()


class Unreachable(Exception):
    """The server did not take the batch (network error, timeout, 429 or 5xx)."""


def resolve_url(url: str | None = None, settings: Settings | None = None) -> str:
    """The server URL: ``url`` if given, else the resolved ``url`` setting
    (``THREADLINE_URL`` or ``url`` in ``threadline.toml``; :mod:`threadline.config`)."""
    chosen = url or (settings or current()).url
    if not chosen:
        raise UsageError(
            "no threadline server URL: pass --url, set THREADLINE_URL, or url in threadline.toml"
        )
    parsed = urllib.parse.urlsplit(chosen)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--url {chosen!r} is not an http(s) URL (e.g. http://host:8765)")
    return chosen.rstrip("/")


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What one replay of the spool did."""

    sent_segments: int
    sent_events: int
    remaining: int
    """Segments still spooled (the server went away again, or another process holds the spool)."""
    rejected: int
    """Segments the server refused as invalid, moved to ``rejected/``."""

    def to_dict(self) -> dict[str, int]:
        return {
            "sent_segments": self.sent_segments,
            "sent_events": self.sent_events,
            "remaining": self.remaining,
            "rejected": self.rejected,
        }


class Spool:
    """A folder of NDJSON segments, written durably, read oldest first."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    def segments(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if p.name.endswith(_SEGMENT_SUFFIX))

    def __len__(self) -> int:
        return len(self.segments())

    def append(self, events: Sequence[dict[str, Any]]) -> Path:
        """Write ``events`` as one new segment; durable once this returns."""
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter):06d}{_SEGMENT_SUFFIX}"
        final = self.folder / name
        temp = self.folder / (name + ".tmp")
        body = b"".join(orjson.dumps(event) + b"\n" for event in events)
        with temp.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, final)
        _fsync_dir(self.folder)
        return final

    @staticmethod
    def read(segment: Path) -> bytes:
        return segment.read_bytes()

    def remove(self, segment: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            segment.unlink()
        _fsync_dir(self.folder)

    def reject(self, segment: Path) -> None:
        target = self.folder / "rejected"
        target.mkdir(exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(segment, target / segment.name)
        _fsync_dir(self.folder)

    @contextlib.contextmanager
    def locked(self, *, wait: bool) -> Iterator[bool]:
        """Hold the spool's replay lock (yields False when another process holds it)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: replays are idempotent anyway
            yield True
            return
        with (self.folder / ".lock").open("a+b") as handle:
            flags = fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB)
            try:
                fcntl.flock(handle.fileno(), flags)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms that cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


class HttpSink:
    """Posts event batches to a threadline server; spools them durably while it is down."""

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.1,
        max_backoff: float = 2.0,
        replay_in_background: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = resolve_url(url)
        parsed = urllib.parse.urlsplit(self.url)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or "localhost"
        self._port = parsed.port
        self._base = parsed.path.rstrip("/")
        self._path = self._base + BATCH_PATH
        self.spool = Spool(spool_dir if spool_dir is not None else DEFAULT_SPOOL)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._headers = dict(headers or {})
        self._conn: http.client.HTTPConnection | None = None
        self._conn_lock = threading.Lock()
        self._noted = False
        self._down = False  # the last attempt failed: spool without trying until a probe works
        self._spooled = len(self.spool) > 0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._replayer: threading.Thread | None = None
        if replay_in_background:
            self._replayer = threading.Thread(
                target=self._replay_loop, name="threadline-http-replay", daemon=True
            )
            self._replayer.start()
            if self._spooled:
                self._wake.set()

    # --- the sink protocol ----------------------------------------------------------------------

    def emit_batch(self, events: Sequence[dict[str, Any]], *, durable: bool = False) -> None:
        """Deliver ``events`` to the server, or spool them durably; see the module docstring."""
        if not events:
            return
        if self._down or self._spooled:
            self._to_spool(events)
            return
        body = b"".join(orjson.dumps(event) + b"\n" for event in events)
        try:
            self._deliver(body, len(events), durable=durable)
        except Unreachable as exc:
            self._down = True
            self._to_spool(events)
            self._note_spooling(exc)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop replaying (one last attempt first, within ``timeout``); True when nothing was
        lost: every event was delivered or is durably spooled for ``threadline sync``."""
        deadline = time.monotonic() + timeout
        if self._spooled and not self._stop.is_set():
            with contextlib.suppress(Exception):
                self._replay(wait_for_lock=False, deadline=deadline)
        self._stop.set()
        self._wake.set()
        if self._replayer is not None:
            self._replayer.join(max(0.0, deadline - time.monotonic()))
        with self._conn_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        return True

    # --- questions ------------------------------------------------------------------------------

    def produced(
        self, keys: Sequence[tuple[str, str]], *, timeout: float = 2.0
    ) -> list[bool | None]:
        """For each ``(namespace, name)``: did a recorded run output a version of it?

        ``None`` for each when the server cannot say (down, spooling after a failure, slow, or
        too old to have the endpoint): the caller then infers less, and never waits long.
        """
        unknown: list[bool | None] = [None] * len(keys)
        if not keys or self._down:
            return unknown
        body = orjson.dumps({"datasets": [{"namespace": ns, "name": name} for ns, name in keys]})
        # Its own short-lived connection: a question must not queue behind a large batch.
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        try:
            conn.request(
                "POST",
                self._base + PRODUCED_PATH,
                body=body,
                headers={"Content-Type": "application/json", **self._headers},
            )
            response = conn.getresponse()
            answer = response.read()
        except (OSError, http.client.HTTPException):
            return unknown
        finally:
            conn.close()
        if response.status != 200:
            return unknown
        try:
            produced = orjson.loads(answer).get("produced")
        except (orjson.JSONDecodeError, AttributeError):
            return unknown
        if not isinstance(produced, list) or len(produced) != len(keys):
            return unknown
        return [value if isinstance(value, bool) else None for value in produced]

    # --- replay ---------------------------------------------------------------------------------

    def pending(self) -> int:
        """Segments waiting in the spool."""
        return len(self.spool)

    def replay(self) -> ReplayReport:
        """Send every spooled segment now, oldest first (waits for another replayer to finish)."""
        return self._replay(wait_for_lock=True)

    def _replay(self, *, wait_for_lock: bool, deadline: float | None = None) -> ReplayReport:
        sent = events = rejected = 0
        with self.spool.locked(wait=wait_for_lock) as held:
            if not held:
                return ReplayReport(0, 0, len(self.spool), 0)
            for segment in self.spool.segments():
                if deadline is not None and time.monotonic() > deadline:
                    break
                try:
                    body = self.spool.read(segment)
                except FileNotFoundError:  # another process replayed it
                    continue
                count = body.count(b"\n")
                try:
                    self._deliver(body, count, durable=False, retries=0)
                except Unreachable:
                    self._down = True
                    break
                except InvalidEvent as exc:
                    report("http_sink", exc)
                    self.spool.reject(segment)
                    rejected += 1
                    continue
                self.spool.remove(segment)
                sent += 1
                events += count
            remaining = len(self.spool)
        if remaining == 0:
            self._spooled = False
            self._down = False
        return ReplayReport(sent, events, remaining, rejected)

    def _replay_loop(self) -> None:
        interval = _PROBE_MIN
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            if not self.pending():
                self._spooled = False
                interval = _PROBE_MIN
                continue
            try:
                result = self._replay(wait_for_lock=False)
            except Exception as exc:  # never let the thread die
                report("http_sink.replay", exc)
                result = ReplayReport(0, 0, 1, 0)
            interval = min(_PROBE_MAX, interval * 2) if result.remaining else _PROBE_MIN

    def _note_spooling(self, exc: Unreachable) -> None:
        """Say once per sink that events are being spooled, and why."""
        if self._noted:
            return
        self._noted = True
        print(
            f"threadline: {self.url} is unreachable ({exc}); lineage events are spooled in "
            f"{self.spool.folder} and will be sent when it answers (or run `threadline sync`)",
            file=sys.stderr,
        )

    def _to_spool(self, events: Sequence[dict[str, Any]]) -> None:
        self.spool.append(events)
        self._spooled = True
        self._wake.set()

    # --- HTTP -----------------------------------------------------------------------------------

    def _deliver(
        self, body: bytes, count: int, *, durable: bool, retries: int | None = None
    ) -> None:
        """POST one NDJSON batch; raise Unreachable or InvalidEvent; split on 413."""
        attempts = (self.retries if retries is None else retries) + 1
        delay = self.backoff
        last = ""
        for attempt in range(attempts):
            try:
                status, answer = self._post(body, durable)
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if 200 <= status < 300:
                    return
                if status == 413 and count > 1:
                    self._split(body, durable)
                    return
                if status not in _RETRY_STATUS:
                    raise InvalidEvent(
                        f"the server refused the batch ({status}): {_message(answer)}",
                        detail=_detail(answer),
                    )
                last = f"HTTP {status}: {_message(answer)}"
            if attempt + 1 < attempts:
                time.sleep(delay)
                delay = min(self.max_backoff, delay * 2)
        raise Unreachable(last)

    def _split(self, body: bytes, durable: bool) -> None:
        lines = body.splitlines(keepends=True)
        half = len(lines) // 2
        for part in (lines[:half], lines[half:]):
            self._deliver(b"".join(part), len(part), durable=durable)

    def _post(self, body: bytes, durable: bool) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-ndjson", **self._headers}
        if len(body) > _COMPRESS_ABOVE:
            body = gzip.compress(body, compresslevel=3)
            headers["Content-Encoding"] = "gzip"
        path = self._path + ("?durable=true" if durable else "")
        with self._conn_lock:
            for fresh in (False, True):
                conn = self._connection(fresh)
                try:
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    answer = response.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    self._conn = None
                    if fresh:
                        raise
                    continue  # a kept-alive connection the server had closed: once more
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    self._conn = None
                return response.status, answer
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        if self._conn is not None and not fresh:
            return self._conn
        if self._conn is not None:
            self._conn.close()
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn


def _message(answer: bytes) -> str:
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return answer[:200].decode(errors="replace")
    message = body.get("message") if isinstance(body, dict) else None
    if isinstance(message, str):
        return message
    return answer[:200].decode(errors="replace")


def _detail(answer: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(answer)
    except orjson.JSONDecodeError:
        return {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, dict) else {}


__all__ = ["DEFAULT_SPOOL", "HttpSink", "ReplayReport", "Spool", "Unreachable", "resolve_url"]
