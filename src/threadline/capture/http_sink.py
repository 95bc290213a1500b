"""Remote capture: a sink that posts batches to a threadline server, spooling while it is down.

Contract (the emitter's sink protocol, after the OpenLineage client's transports): ``kind`` is
``"http"``; :meth:`HttpSink.emit_batch` posts the batch as NDJSON to
``{url}/api/v1/lineage/batch`` (gzip-compressed past 64 KiB) and returns once the server
committed it, or once it is safely spooled; :meth:`HttpSink.close` stops the background replay
and returns True when nothing was lost (every event delivered or durably spooled).

Failures:

* the server unreachable, timing out, or answering 429 / 5xx: retried ``retries`` times with
  exponential backoff (``backoff``, doubling, capped at ``max_backoff``).  Then the batch goes
  to the **spool** (:mod:`threadline.capture.spool`) and the sink stops trying the network for
  new batches: while the spool is not empty, new batches are appended to it too (so delivery
  keeps its order), and a background thread probes the server (every second, backing off to
  30 s) and replays the spool as soon as it answers;
* 413 (batch too large): the batch is split in halves and each half sent on its own;
* any other 4xx: the events are wrong, not the network.  The batch's events are sent one by one:
  the server takes the good ones, and each one it refuses goes to the spool's **quarantine**
  with the server's reason (``threadline sync --rejected`` lists and resends them).  A bad
  event never holds up another one.

Replay (background, or on demand with ``threadline sync``) sends the segments oldest first and
deletes each once the server answered 201.  Replays are idempotent: the server stores each
event once however often it arrives, so a segment sent twice (a crash between the answer and
the delete, two replaying processes) changes nothing.  A segment the server refuses is taken
apart as above.  A segment the server *fails* on (5xx) is retried on later replays; once it has
failed ``max_attempts`` times its events are sent one by one, and an event the server still
fails on while its health check answers is quarantined too: a poison event that breaks the
server (a byte its database rejects, a value past an index limit) cannot block the queue
forever, while a server that is down or broken for everything quarantines nothing.
"""

from __future__ import annotations

import contextlib
import gzip
import http.client
import os
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from threadline.capture.boundary import report
from threadline.capture.spool import DEFAULT_SPOOL, QuarantinedEvent, Spool
from threadline.config import Settings, current
from threadline.errors import InvalidEvent, UsageError

BATCH_PATH: Final = "/api/v1/lineage/batch"
PRODUCED_PATH: Final = "/api/v1/threadline/produced"
HEALTH_PATH: Final = "/api/v1/health"
_COMPRESS_ABOVE: Final = 64 * 1024
_RETRY_STATUS: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_PROBE_MIN: Final = 1.0
_PROBE_MAX: Final = 30.0
#: How many times the server may fail (5xx) on one spooled segment before its events are
#: sent one by one and those it still fails on are quarantined.
DEFAULT_MAX_ATTEMPTS: Final = 5


class Unreachable(Exception):
    """The server did not take the batch (network error, timeout, 429 or 5xx)."""


class ServerFailed(Unreachable):
    """The server answered, with an error of its own (429 or 5xx) every time it was asked."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class Refused(InvalidEvent):
    """The server refused the events as wrong (a 4xx other than 413, 408, 425, 429)."""

    def __init__(self, status: int, message: str, *, detail: dict[str, Any]) -> None:
        super().__init__(message, detail=detail)
        self.status = status


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
    """Events this replay quarantined (the server refused them, or failed on each of them)."""
    quarantined: int
    """Events in the quarantine now, this replay's and earlier ones (``sync --rejected``)."""

    def to_dict(self) -> dict[str, int]:
        return {
            "sent_segments": self.sent_segments,
            "sent_events": self.sent_events,
            "remaining": self.remaining,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
        }


@dataclass(slots=True)
class _Isolation:
    """What sending a batch's events one at a time did."""

    delivered: int = 0
    quarantined: int = 0
    left: list[bytes] | None = None
    """The events from the first one not settled onwards, when the server went away."""


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
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
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
        self.quarantine = self.spool.quarantine
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_attempts = max(1, max_attempts)
        self._headers = dict(headers or {})
        self._conn: http.client.HTTPConnection | None = None
        self._conn_lock = threading.Lock()
        self._noted = False
        self._quarantine_noted = False
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
        lines = [orjson.dumps(event) + b"\n" for event in events]
        try:
            self._deliver(b"".join(lines), len(lines), durable=durable)
        except Refused:
            # One bad event must not take its batch down: the rest are delivered, it is kept.
            outcome = self._isolate(lines, durable=durable, attempts=1, server_failed=False)
            if outcome.left:
                self._down = True
                self.spool.append([orjson.loads(line) for line in outcome.left])
                self._spooled = True
                self._wake.set()
        except Unreachable as exc:
            self._down = True
            self._to_spool(events)
            self._note_spooling(exc)

    def close(self, timeout: float = 10.0) -> bool:
        """Stop replaying (one last attempt first, within ``timeout``); True when nothing was
        lost: every event was delivered, durably spooled for ``threadline sync``, or kept in
        the quarantine with the server's reason."""
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
        try:
            status, answer = self._ask("POST", PRODUCED_PATH, body, timeout)
        except (OSError, http.client.HTTPException):
            return unknown
        if status != 200:
            return unknown
        try:
            produced = orjson.loads(answer).get("produced")
        except (orjson.JSONDecodeError, AttributeError):
            return unknown
        if not isinstance(produced, list) or len(produced) != len(keys):
            return unknown
        return [value if isinstance(value, bool) else None for value in produced]

    def server_healthy(self, timeout: float = 5.0) -> bool:
        """Does the server answer its health check (which reads the store's head)?"""
        try:
            status, _answer = self._ask("GET", HEALTH_PATH, None, timeout)
        except (OSError, http.client.HTTPException):
            return False
        return status == 200

    def _ask(self, method: str, path: str, body: bytes | None, timeout: float) -> tuple[int, bytes]:
        # Its own short-lived connection: a question must not queue behind a large batch.
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=timeout)
        try:
            headers = (
                {"Content-Type": "application/json", **self._headers} if body else self._headers
            )
            conn.request(method, self._base + path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

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
                return ReplayReport(0, 0, len(self.spool), 0, len(self.quarantine))
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
                except ServerFailed:
                    attempts = self.spool.count_attempt(segment)
                    if attempts < self.max_attempts:
                        self._down = True
                        break
                    outcome = self._replay_isolated(segment, body, attempts, server_failed=True)
                except Unreachable:
                    self._down = True
                    break
                except Refused:
                    attempts = self.spool.attempts(segment) + 1
                    outcome = self._replay_isolated(segment, body, attempts, server_failed=False)
                else:
                    self.spool.remove(segment)
                    sent += 1
                    events += count
                    continue
                events += outcome.delivered
                rejected += outcome.quarantined
                if outcome.left:
                    self._down = True
                    break
                sent += 1
            remaining = len(self.spool)
        if remaining == 0:
            self._spooled = False
            self._down = False
        return ReplayReport(sent, events, remaining, rejected, len(self.quarantine))

    def _replay_isolated(
        self, segment: Path, body: bytes, attempts: int, *, server_failed: bool
    ) -> _Isolation:
        """Send a spooled segment's events one by one; keep what is left of it in place."""
        lines = body.splitlines(keepends=True)
        outcome = self._isolate(
            lines, durable=False, attempts=attempts, server_failed=server_failed
        )
        if outcome.left:
            self.spool.rewrite(segment, outcome.left)
        else:
            self.spool.remove(segment)
        return outcome

    def _isolate(
        self, lines: Sequence[bytes], *, durable: bool, attempts: int, server_failed: bool
    ) -> _Isolation:
        """Send each event on its own: deliver the good ones, quarantine the refused ones.

        An event the server refuses (4xx) is quarantined at once.  One it fails on (5xx) is
        quarantined only when the segment has already failed ``max_attempts`` times
        (``server_failed``) *and* the server's health check answers, so that the server is
        known to work on everything but this event; otherwise the server itself is in trouble,
        and this event and the ones after it wait for the next replay.
        """
        outcome = _Isolation()
        for index, line in enumerate(lines):
            try:
                self._deliver(line, 1, durable=durable, retries=0)
            except Refused as exc:
                self._keep(line, reason=exc.message, status=exc.status, attempts=attempts)
                outcome.quarantined += 1
            except ServerFailed as exc:
                if not (server_failed and self.server_healthy()):
                    outcome.left = list(lines[index:])
                    return outcome
                reason = f"the server failed on this event {attempts} times ({exc})"
                self._keep(line, reason=reason, status=exc.status, attempts=attempts)
                outcome.quarantined += 1
            except Unreachable:
                outcome.left = list(lines[index:])
                return outcome
            else:
                outcome.delivered += 1
        return outcome

    def _keep(self, line: bytes, *, reason: str, status: int, attempts: int) -> None:
        self.quarantine.add(line, reason=reason, status=status, attempts=attempts)
        if not self._quarantine_noted:
            self._quarantine_noted = True
            print(
                f"threadline: {self.url} refused a lineage event ({reason}); it is kept in "
                f"{self.quarantine.folder} and the others are delivered (see `threadline sync "
                "--rejected`)",
                file=sys.stderr,
            )

    def resend_quarantined(self) -> ReplayReport:
        """Send every quarantined event again; those the server now takes leave the quarantine.

        For when the cause was fixed on the server's side.  An event it refuses again stays,
        with the new reason.
        """
        sent = rejected = 0
        with self.spool.locked(wait=True):
            for entry in self.quarantine.entries():
                try:
                    self._deliver(entry.event + b"\n", 1, durable=False)
                except Refused as exc:
                    self._requarantine(entry, exc.message, exc.status)
                    rejected += 1
                    continue
                except ServerFailed as exc:
                    self._requarantine(entry, str(exc), exc.status)
                    rejected += 1
                    continue
                except Unreachable:
                    break
                self.quarantine.remove(entry)
                sent += 1
        return ReplayReport(sent, sent, len(self.spool), rejected, len(self.quarantine))

    def _requarantine(self, entry: QuarantinedEvent, reason: str, status: int) -> None:
        self.quarantine.add(entry.event, reason=reason, status=status, attempts=entry.attempts + 1)

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
                result = ReplayReport(0, 0, 1, 0, 0)
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
        """POST one NDJSON batch; raise Unreachable (ServerFailed) or Refused; split on 413."""
        attempts = (self.retries if retries is None else retries) + 1
        delay = self.backoff
        failure: Unreachable = Unreachable("no attempt made")
        for attempt in range(attempts):
            try:
                status, answer = self._post(body, durable)
            except (OSError, http.client.HTTPException) as exc:
                failure = Unreachable(f"{type(exc).__name__}: {exc}")
            else:
                if 200 <= status < 300:
                    return
                if status == 413 and count > 1:
                    self._split(body, durable)
                    return
                if status not in _RETRY_STATUS:
                    raise Refused(
                        status,
                        f"the server refused the batch ({status}): {_message(answer)}",
                        detail=_detail(answer),
                    )
                failure = ServerFailed(status, _message(answer))
            if attempt + 1 < attempts:
                time.sleep(delay)
                delay = min(self.max_backoff, delay * 2)
        raise failure

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


__all__ = [
    "DEFAULT_SPOOL",
    "HttpSink",
    "Refused",
    "ReplayReport",
    "ServerFailed",
    "Spool",
    "Unreachable",
    "resolve_url",
]
