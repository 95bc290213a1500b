"""The beneath-the-router path of ``POST /api/v1/lineage`` hands what it does not serve to the
route untouched: the body it read replayed first, in the order it came, then the rest."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from threadline.server.single_event import PATH, SingleEventIngest
from threadline.spec.ingest import IngestPolicy
from threadline.spec.validation import EventValidator


class _Route:
    """Stands for the FastAPI app: records what it received, and how many of the client's
    messages nobody had read yet when it was called."""

    def __init__(self, pending: list[Message]) -> None:
        self.received: list[Message] = []
        self._pending = pending
        self.unread_at_entry = -1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.unread_at_entry = len(self._pending)
        while True:
            message = await receive()
            self.received.append(message)
            if message["type"] != "http.request" or not message.get("more_body"):
                return


def _scope(headers: list[tuple[bytes, bytes]], limit: int) -> dict[str, Any]:
    settings = SimpleNamespace(max_body_bytes=limit)
    runtime = SimpleNamespace(settings=settings, writer=None, validator=None)
    policy = IngestPolicy(EventValidator(), strict=False)
    app = SimpleNamespace(state=SimpleNamespace(runtime=runtime, ingest_policy=policy))
    return {"type": "http", "method": "POST", "path": PATH, "headers": headers, "app": app}


def _drive(scope: dict[str, Any], messages: list[Message]) -> tuple[_Route, list[Message]]:
    pending = list(messages)
    route = _Route(pending)
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(SingleEventIngest(route)(scope, receive, send))
    return route, sent


def _chunks(*bodies: bytes) -> list[Message]:
    return [
        {"type": "http.request", "body": body, "more_body": n < len(bodies) - 1}
        for n, body in enumerate(bodies)
    ]


def test_a_body_over_the_limit_reaches_the_route_whole_and_in_order() -> None:
    messages = _chunks(b"a" * 6, b"b" * 6, b"c" * 6)
    route, sent = _drive(_scope([], limit=10), messages)
    assert route.unread_at_entry == 1  # two chunks read (12 > 10 bytes), then handed over
    assert route.received == messages
    assert sent == []


def test_a_compressed_body_is_left_to_the_route_unread() -> None:
    messages = _chunks(b"\x1f\x8b...")
    route, sent = _drive(_scope([(b"content-encoding", b"gzip")], limit=100), messages)
    assert route.unread_at_entry == len(messages)
    assert route.received == messages
    assert sent == []


def test_a_body_declared_over_the_limit_is_left_to_the_route_unread() -> None:
    messages = _chunks(b"{}")
    route, _ = _drive(_scope([(b"content-length", b"5000")], limit=100), messages)
    assert route.unread_at_entry == len(messages)
    assert route.received == messages


def test_a_body_that_is_not_json_or_is_refused_reaches_the_route_as_sent() -> None:
    for messages in (_chunks(b'{"eventTime": ', b"oops"), _chunks(b'{"run": {}}')):
        route, sent = _drive(_scope([], limit=100), messages)
        assert route.unread_at_entry == 0  # read whole, judged, then replayed
        assert route.received == messages
        assert sent == []


def test_a_client_gone_before_its_body_ended_reaches_the_route_too() -> None:
    messages = [{"type": "http.request", "body": b"{", "more_body": True}]
    route, _ = _drive(_scope([], limit=100), messages)
    assert route.unread_at_entry == 0
    assert route.received == [*messages, {"type": "http.disconnect"}]


def test_other_requests_pass_by() -> None:
    scope = {**_scope([], limit=100), "path": "/api/v1/lineage/batch"}
    messages = _chunks(b"[]")
    route, _ = _drive(scope, messages)
    assert route.received == messages
