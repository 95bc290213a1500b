"""Sending alert notices: webhooks (plain JSON or Slack-compatible), NATS, and the SSE feed.

**Webhook signature.** When a destination has a ``secret``, each POST carries
``X-Threadline-Timestamp: <unix seconds>`` and
``X-Threadline-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``; a receiver
recomputes the HMAC over the timestamp, a dot and the raw body, compares in constant time
(:func:`hmac.compare_digest`) and refuses timestamps older than a few minutes (replays).
:func:`verify_signature` does exactly that.

Each send is retried with exponential backoff (:data:`BACKOFF`); what happened is returned as
an :class:`Outcome` for the delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from threadline.alerts.rules import Destination
from threadline.alerts.state import AlertState
from threadline.errors import MissingDependency

#: Seconds to wait before each retry (so at most len(BACKOFF) + 1 attempts).
BACKOFF: Final = (0.2, 0.8, 3.2)
#: Seconds one HTTP request or NATS flush may take.
TIMEOUT: Final = 5.0
SIGNATURE_HEADER: Final = "X-Threadline-Signature"
TIMESTAMP_HEADER: Final = "X-Threadline-Timestamp"
#: The SSE event type of alert notices.
SSE_EVENT: Final = "threadline.alert"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Threadline-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str, headers: Mapping[str, str], body: bytes, *, max_age: float = 300.0
) -> bool:
    """Whether a received webhook was signed with ``secret`` within the last ``max_age`` s."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    try:
        fresh = abs(time.time() - float(timestamp)) <= max_age
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    attempts: int
    detail: str


def _slack_text(rule: str, notices: Sequence[Mapping[str, Any]]) -> str:
    icons = {"firing": ":rotating_light:", "changed": ":warning:", "resolved": ":white_check_mark:"}
    lines = [f"*threadline* rule `{rule}`: {len(notices)} alert(s)"]
    for notice in notices[:20]:
        finding = notice["finding"]
        lines.append(
            f"{icons.get(notice['status'], '')} {notice['status']} [{finding['severity']}] "
            f"{finding['check']} `{finding['node']}`: {finding['message']}"
        )
    if len(notices) > 20:
        lines.append(f"… and {len(notices) - 20} more")
    return "\n".join(lines)


def webhook_body(
    destination: Destination, rule: str, notices: Sequence[Mapping[str, Any]]
) -> bytes:
    """The JSON a webhook receives: threadline's own shape, or Slack's ``{"text": …}``."""
    if destination.type == "slack":
        return orjson.dumps({"text": _slack_text(rule, notices)})
    return orjson.dumps({"type": SSE_EVENT, "rule": rule, "alerts": list(notices)})


def _post(url: str, body: bytes, headers: dict[str, str]) -> str:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return f"HTTP {response.status}"


async def _with_retries(send: Any, backoff: Sequence[float]) -> Outcome:
    attempts, detail = 0, ""
    for delay in (0.0, *backoff):
        if delay:
            await asyncio.sleep(delay)
        attempts += 1
        try:
            detail = await send()
        except Exception as exc:  # HTTP, socket and broker errors alike: logged, retried
            detail = f"{type(exc).__name__}: {exc}"
            continue
        return Outcome(True, attempts, detail)
    return Outcome(False, attempts, detail)


class AlertFeed:
    """Alert notices for Server-Sent Events: ``event: threadline.alert``.

    The hook for the change stream: :meth:`frames` yields ready SSE frames that a stream can
    interleave with its own, and ``GET /api/v1/threadline/health/stream`` serves them alone.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        self._queues: set[asyncio.Queue[bytes]] = set()
        self._size = queue_size

    def publish(self, notices: Sequence[Mapping[str, Any]]) -> int:
        """Queue ``notices`` for every subscriber; a subscriber too slow to keep up loses the
        oldest ones rather than holding the alerts back.  Returns the subscriber count."""
        frames = [
            b"event: " + SSE_EVENT.encode() + b"\ndata: " + orjson.dumps(n) + b"\n\n"
            for n in notices
        ]
        for queue in self._queues:
            for frame in frames:
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(frame)
        return len(self._queues)

    async def frames(self) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(self._size)
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)


class RelayedFeed(AlertFeed):
    """An alert feed the workers of one server share through the alert state file.

    Only one worker delivers alerts (:class:`threadline.server.health.AlertLead`); the SSE
    listeners are spread over all of them.  The delivering worker's :meth:`publish` queues the
    notices in the state file, and every worker, itself included, relays what is queued there to
    its own listeners (:meth:`relay`, polling every ``poll`` seconds).
    """

    def __init__(self, state: AlertState, poll: float = 0.1, queue_size: int = 1000) -> None:
        super().__init__(queue_size)
        self.state = state
        self.poll = poll
        self._after = state.feed_head()

    def publish(self, notices: Sequence[Mapping[str, Any]]) -> int:
        self.state.feed_append([dict(n) for n in notices])
        return len(self._queues)

    async def relay(self) -> None:
        while True:
            rows = await asyncio.to_thread(self.state.feed_after, self._after)
            if rows:
                AlertFeed.publish(self, [notice for _, notice in rows])
                self._after = rows[-1][0]
            await asyncio.sleep(self.poll)


class Sender:
    """Sends notices to destinations; keeps one NATS connection per server URL."""

    def __init__(self, feed: AlertFeed | None = None, backoff: Sequence[float] = BACKOFF) -> None:
        self.feed = feed
        self.backoff = tuple(backoff)
        self._nats: dict[str, Any] = {}

    async def close(self) -> None:
        for connection in self._nats.values():
            # Closing on shutdown: there is nothing left to report a failure to.
            with contextlib.suppress(Exception):
                await connection.drain()
        self._nats.clear()

    async def send(
        self, destination: Destination, rule: str, notices: Sequence[Mapping[str, Any]]
    ) -> Outcome:
        if destination.type == "sse":
            if self.feed is None:
                return Outcome(False, 1, "no SSE feed in this process (alerts run in the server)")
            listeners = self.feed.publish(notices)
            return Outcome(True, 1, f"{listeners} listener(s)")
        if destination.type == "nats":
            return await _with_retries(lambda: self._publish(destination, notices), self.backoff)
        body = webhook_body(destination, rule, notices)
        headers = {"Content-Type": "application/json", "User-Agent": "threadline-alerts"}
        url = str(destination.url)

        async def post() -> str:
            # Signed per attempt: a retry carries a fresh timestamp.
            if destination.secret:
                stamp = str(int(time.time()))
                headers[TIMESTAMP_HEADER] = stamp
                headers[SIGNATURE_HEADER] = sign(destination.secret, stamp, body)
            return await asyncio.to_thread(_post, url, body, dict(headers))

        return await _with_retries(post, self.backoff)

    async def _publish(self, destination: Destination, notices: Sequence[Mapping[str, Any]]) -> str:
        try:
            import nats
        except ModuleNotFoundError as exc:
            raise MissingDependency.from_import(exc) or exc from exc
        url = str(destination.url)
        connection = self._nats.get(url)
        if connection is None or not connection.is_connected:
            connection = await nats.connect(
                url, connect_timeout=TIMEOUT, max_reconnect_attempts=0, allow_reconnect=False
            )
            self._nats[url] = connection
        for notice in notices:
            await connection.publish(str(destination.subject), orjson.dumps(notice))
        await connection.flush(timeout=int(TIMEOUT))
        return f"{len(notices)} message(s)"


__all__ = [
    "BACKOFF",
    "SIGNATURE_HEADER",
    "SSE_EVENT",
    "TIMESTAMP_HEADER",
    "AlertFeed",
    "Outcome",
    "Sender",
    "sign",
    "verify_signature",
    "webhook_body",
]
