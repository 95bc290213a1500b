"""The one gate every request passes: :class:`AccessGuard`, an ASGI middleware.

Always (with or without ``auth``), against DNS rebinding and cross-site requests:

1. the ``Host`` header must name this server: ``localhost``, ``127.0.0.1``, ``::1``, the bound
   host, or one of the ``allowed_hosts`` setting (else 421);
2. a request carrying an ``Origin`` other than the server's own is refused (403) unless the
   ``allowed_origins`` setting lists it (those get CORS headers, preflights included);
3. a write with a body must say ``application/json`` or NDJSON (415): a page elsewhere can send
   ``text/plain`` without a preflight, never JSON.

With ``auth`` on, each request then needs a bearer credential (an API token, or an OIDC JWT when
an issuer is configured; 401 without one), and the route's :class:`~.rules.Rule` decides
(403 when the caller lacks the role; a route without a rule is refused: default deny).  Answers
are reduced to what the caller may see (:mod:`.redact`); ingest bodies are read here to check
each event's namespaces.  Every refused request is appended to the log as an event of job
``threadline.auth/denied``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import anyio.to_thread
import orjson
import sqlalchemy as sa
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threadline.config import Settings
from threadline.errors import ThreadlineError
from threadline.server.auth.grants import Identity, Role
from threadline.server.auth.oidc import InvalidToken, OidcVerifier
from threadline.server.auth.redact import IDENTITY_STATE, Redactor, store_labels, visible_namespace
from threadline.server.auth.rules import Match, Rule, match
from threadline.server.auth.tokens import DENIED_JOB, PREFIX, TokenTable, access_event
from threadline.server.batches import inflated
from threadline.store import schema as s
from threadline.store.base import Store

log = logging.getLogger("threadline.server")

LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_TYPES: Final = ("application/json", "application/x-ndjson", "application/ndjson")
_ANY_ADDRESS: Final = frozenset({"0.0.0.0", "::", ""})


def allowed_hosts(settings: Settings) -> frozenset[str]:
    names = set(LOOPBACK_NAMES) | {h.lower() for h in settings.allowed_hosts}
    if settings.host not in _ANY_ADDRESS:
        names.add(settings.host.lower().strip("[]"))
    return frozenset(names)


def host_name(header: str) -> str:
    """The name of a ``Host`` header, without its port (``[::1]:8765`` -> ``::1``)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class Denied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(slots=True)
class Access:
    """What the guard needs from the running server, built on its first request."""

    store: Store
    tokens: TokenTable
    oidc: OidcVerifier | None
    append: Callable[[list[dict[str, Any]]], Awaitable[Any]]


class AccessGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.origins = frozenset(o.rstrip("/").lower() for o in settings.allowed_origins)
        self._access: Access | None = None
        self._background: set[asyncio.Task[Any]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        method: str = scope["method"]
        try:
            origin = self._check_transport(headers, method)
        except Denied as denied:
            await self._refuse(scope, send, denied, None)
            return
        if origin is not None and method == "OPTIONS":
            await _preflight(send, origin)
            return
        if origin is not None:
            send = _with_cors(send, origin)
        if not self.settings.auth:
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        found = match(method, path)
        if found is not None and found.rule.public:
            await self.app(scope, receive, send)
            return
        identity: Identity | None = None
        try:
            access = self._ready(scope)
            identity = await self._identify(access, headers)
            if found is None:
                raise Denied(403, "forbidden", f"no access rule for {method} {path} (default deny)")
            receive = await self._authorize(access, identity, found, scope, receive, headers)
        except Denied as denied:
            await self._refuse(scope, send, denied, identity)
            return
        if found.rule.shape == "raw":
            await self.app(scope, receive, send)
            return
        if found.rule.shape == "graph":
            # The handler reduces its own answer (redact.reduce_graph) for this identity.
            scope.setdefault("state", {})[IDENTITY_STATE] = identity
            await self.app(scope, receive, send)
            return
        redactor = Redactor(identity, store_labels(access.store))
        reduce = _stream_reducer if found.rule.shape == "stream" else _answer_reducer
        await self.app(scope, receive, reduce(send, redactor, found.rule))

    # --- transport checks (always on) -------------------------------------------------------

    def _check_transport(self, headers: dict[str, str], method: str) -> str | None:
        """Host, Origin and content type; the allowed cross origin, if any."""
        host = host_name(headers.get("host", ""))
        if host not in self.hosts:
            raise Denied(
                421,
                "misdirected_request",
                f"Host {headers.get('host', '')!r} is not a name of this server (set "
                "allowed_hosts to answer it)",
            )
        origin = headers.get("origin")
        cross: str | None = None
        if origin is not None and origin != "null":
            parsed = urlsplit(origin)
            if (parsed.hostname or "") == host and parsed.port == _port_of(headers.get("host", "")):
                origin = None  # same origin
            elif origin.rstrip("/").lower() in self.origins:
                cross = origin
            else:
                raise Denied(
                    403,
                    "cross_origin",
                    f"cross-origin request from {origin} refused (set allowed_origins to allow it)",
                )
        elif origin == "null":
            raise Denied(403, "cross_origin", "cross-origin request from an opaque origin refused")
        if method in WRITE_METHODS and _has_body(headers):
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind not in WRITE_TYPES and not kind.endswith("+json"):
                raise Denied(
                    415,
                    "unsupported_media_type",
                    f"a write needs Content-Type application/json or application/x-ndjson, "
                    f"not {kind or 'none'!r}",
                )
        return cross

    # --- identity ---------------------------------------------------------------------------

    def _ready(self, scope: Scope) -> Access:
        if self._access is None:
            runtime = getattr(scope["app"].state, "runtime", None)
            if runtime is None:
                raise Denied(503, "starting", "the server is starting; retry")
            self._access = Access(
                runtime.store,
                TokenTable(runtime.store),
                OidcVerifier.from_settings(self.settings),
                runtime.writer.append,
            )
        return self._access

    async def _identify(self, access: Access, headers: dict[str, str]) -> Identity:
        scheme, _, credential = headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Denied(
                401, "unauthorized", "authentication required: send Authorization: Bearer TOKEN"
            )
        if credential.startswith(PREFIX):
            await anyio.to_thread.run_sync(access.tokens.refresh)
            identity = access.tokens.identify(credential)
            if identity is None:
                raise Denied(401, "unauthorized", "unknown or revoked token")
            return identity
        if access.oidc is None:
            raise Denied(
                401, "unauthorized", "not a threadline token, and no OIDC issuer is configured"
            )
        try:
            return await anyio.to_thread.run_sync(access.oidc.identify, credential)
        except InvalidToken as exc:
            raise Denied(401, "unauthorized", str(exc)) from None

    # --- authorization ----------------------------------------------------------------------

    async def _authorize(
        self,
        access: Access,
        identity: Identity,
        found: Match,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
    ) -> Receive:
        rule = found.rule
        role = rule.role
        assert role is not None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))

        def need(namespace: str) -> None:
            if not identity.may(role, namespace):
                raise Denied(
                    403,
                    "forbidden",
                    f"{identity.subject} may not {_verb(role)} namespace {namespace!r}",
                )

        if rule.source == "path":
            need(found.params["namespace"])
        elif rule.source == "everywhere":
            if not identity.may_everywhere(role):
                raise Denied(
                    403, "forbidden", f"{identity.subject} needs {role.name} on every namespace (*)"
                )
        elif rule.source == "run":
            run_id = found.params.get(rule.param or "") or (query.get(rule.param or "") or [""])[0]
            namespace = await anyio.to_thread.run_sync(_run_namespace, access.store, run_id)
            if namespace is not None:
                need(namespace)
            elif not identity.may_anywhere(role):
                raise Denied(403, "forbidden", f"{identity.subject} may not {_verb(role)} anything")
        elif rule.source == "query" and query.get(rule.param or ""):
            for value in query[rule.param or ""]:
                for namespace in filter(None, (v.strip() for v in value.split(","))):
                    need(namespace)
        elif rule.source == "body":
            limit = self.settings.max_batch_bytes
            body = await _read_body(receive, limit)
            # Inflating and parsing a large body is not the event loop's to wait for.
            namespaces = (
                _event_namespaces(body, headers, limit)
                if len(body) < _READ_HERE
                else await anyio.to_thread.run_sync(_event_namespaces, body, headers, limit)
            )
            for namespace in namespaces:
                need(namespace)
            return _replay(body)
        elif not identity.may_anywhere(role):
            raise Denied(403, "forbidden", f"{identity.subject} may not {_verb(role)} anything")
        return receive

    # --- refusals ---------------------------------------------------------------------------

    async def _refuse(
        self, scope: Scope, send: Send, denied: Denied, identity: Identity | None
    ) -> None:
        body = orjson.dumps({"error": denied.code, "message": denied.message})
        extra = (
            [(b"www-authenticate", b'Bearer realm="threadline"')] if denied.status == 401 else []
        )
        await send(
            {
                "type": "http.response.start",
                "status": denied.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *extra,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        self._record_denial(scope, denied, identity)

    def _record_denial(self, scope: Scope, denied: Denied, identity: Identity | None) -> None:
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if runtime is None:
            return
        client = scope.get("client")
        record = {
            "action": "request.denied",
            "status": denied.status,
            "reason": denied.code,
            "message": denied.message,
            "method": scope["method"],
            "path": scope.get("path", ""),
            "subject": identity.subject if identity else None,
            "client": client[0] if client else None,
            # Two identical refusals in the same microsecond are still two events.
            "nonce": secrets.token_hex(8),
        }
        event = access_event(DENIED_JOB, record, time.time_ns() // 1000)
        task = asyncio.ensure_future(runtime.writer.append([event]))
        self._background.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("could not record a denied request: %s", task.exception())


def _verb(role: Role) -> str:
    return {
        Role.viewer: "read",
        Role.producer: "write events to",
        Role.steward: "change tags and policies of",
        Role.admin: "administer",
    }[role]


def _port_of(host_header: str) -> int | None:
    try:
        return urlsplit(f"//{host_header}").port
    except ValueError:
        return None


def _has_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0") not in ("", "0") or "transfer-encoding" in headers


def _run_namespace(store: Store, run_id: str) -> str | None:
    """The namespace of the job of the run ``run_id``, None for a run the store lacks."""
    r, n = s.runs.c, s.nodes.c
    stmt = (sa.select(n.namespace).join_from(s.runs, s.nodes, n.id == r.job_node_id)).where(
        r.run_id == run_id
    )
    return store.read(lambda conn: conn.execute(stmt).scalar_one_or_none())


#: Bodies from this size on are inflated and parsed in a worker thread.
_READ_HERE: Final = 32 * 1024


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Denied(400, "disconnected", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Denied(413, "payload_too_large", f"the body is over {limit:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # as a real connection: nothing more until it closes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _event_namespaces(body: bytes, headers: dict[str, str], limit: int) -> set[str]:
    """The namespaces an ingest body writes to: each event's job or dataset, and its inputs'
    and outputs'.  The body is read as the handler will read it (inflated by the same
    function, under the same limit); one that does not inflate or parse is let through: the
    handler refuses it, naming the problem."""
    try:
        body = inflated(body, headers.get("content-encoding", ""), limit)
    except ThreadlineError:
        return set()
    events: list[Any] = []
    try:
        parsed = orjson.loads(body)
        events = parsed if isinstance(parsed, list) else [parsed]
    except orjson.JSONDecodeError:
        for line in body.splitlines():
            if line.strip():
                try:
                    events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
    names: set[str] = set()
    for event in events:
        if not isinstance(event, dict):
            continue
        for item in (
            event.get("job"),
            event.get("dataset"),
            *_items(event, "inputs"),
            *_items(event, "outputs"),
        ):
            if isinstance(item, dict) and isinstance(item.get("namespace"), str):
                names.add(item["namespace"])
    return names


def _items(event: dict[str, Any], key: str) -> list[Any]:
    value = event.get(key)
    return value if isinstance(value, list) else []


async def _preflight(send: Send, origin: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-methods", b"GET, POST, PUT, DELETE"),
                (b"access-control-allow-headers", b"authorization, content-type, last-event-id"),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _with_cors(send: Send, origin: str) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                *message.get("headers", []),
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"vary", b"Origin"),
            ]
            message = {**message, "headers": headers}
        await send(message)

    return wrapped


def _answer_reducer(send: Send, redactor: Redactor, rule: Rule) -> Send:
    """Buffer a JSON answer, reduce it, send it with its new length."""
    start: Message | None = None
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        is_json = any(k.lower() == b"content-type" and b"json" in v for k, v in headers)
        if start["status"] == 200 and is_json and body:
            answer = orjson.loads(body)
            listed = (
                _namespaces(answer, redactor.identity) if rule.shape == "namespaces" else answer
            )
            reduced = redactor.reduce(listed, drop=rule.shape in ("drop", "namespaces"))
            if reduced is not answer:  # else nothing was hidden: the bytes already made do
                body = orjson.dumps(reduced)
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return wrapped


def _namespaces(answer: Any, identity: Identity) -> Any:
    if isinstance(answer, dict) and isinstance(answer.get("namespaces"), list):
        kept = [
            n
            for n in answer["namespaces"]
            if not isinstance(n, dict) or visible_namespace(identity, str(n.get("name", "")))
        ]
        answer = {**answer, "namespaces": kept}
        if "totalCount" in answer:
            answer["totalCount"] = len(kept)
    return answer


def _stream_reducer(send: Send, redactor: Redactor, rule: Rule) -> Send:
    """Reduce each ``data:`` frame of a change stream; drop those left empty."""
    pending = b""

    async def wrapped(message: Message) -> None:
        nonlocal pending
        if message["type"] != "http.response.body":
            await send(message)
            return
        pending += message.get("body", b"")
        *frames, pending = pending.split(b"\n\n")
        out = [reduced for frame in frames if (reduced := _frame(frame, redactor)) is not None]
        more = message.get("more_body", False)
        if out or not more:
            body = b"".join(f + b"\n\n" for f in out)
            await send({"type": "http.response.body", "body": body, "more_body": more})

    return wrapped


def _frame(frame: bytes, redactor: Redactor) -> bytes | None:
    head, sep, data = frame.partition(b"data: ")
    if not sep:
        return frame  # retry, keep-alive
    reduced = Redactor(redactor.identity, redactor.labels).reduce(orjson.loads(data), drop=True)
    if reduced is None:
        return None
    return head + b"data: " + orjson.dumps(reduced)


__all__ = ["AccessGuard", "allowed_hosts", "host_name"]
