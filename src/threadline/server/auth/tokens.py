"""API tokens, kept as events of the verifiable log.

``threadline token create`` appends a ``JobEvent`` of job ``threadline.auth/tokens`` whose
``threadline_access`` facet records the token's id, name, grant, clearances and the SHA-256 of
its secret (never the secret: it is printed once); ``token revoke`` appends another naming the
id.  The log is the one place tokens live, so every token change is chained, checkpointed and
verified like any lineage, and no table (no schema revision) is needed.

The server keeps a :class:`TokenTable` in memory, rebuilt from those events and brought up to
date by reading only the events after the last one it saw (the job-name index finds them).

A token reads ``tl_<id>_<secret>``: the id (8 hex digits) names it in ``token list`` and
``token revoke``; the secret is 32 random bytes.  A high-entropy secret needs no slow hash:
SHA-256 of the whole token is looked up directly.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import NotFound, UsageError
from threadline.model.events import JOB_EVENT_SCHEMA_URL, PRODUCER
from threadline.model.times import iso
from threadline.server.auth.grants import ACCESS_NAMESPACE, Grant, Identity, Role
from threadline.store import schema as s
from threadline.store.base import Store

TOKENS_JOB: Final = "tokens"
DENIED_JOB: Final = "denied"
ACCESS_FACET: Final = "threadline_access"
ACCESS_FACET_SCHEMA: Final = (
    "https://github.com/threadline-dev/threadline/blob/main/spec/facets/AccessJobFacet.json"
)
PREFIX: Final = "tl_"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One token as the log knows it (no secret)."""

    id: str
    name: str
    role: Role
    namespace: str
    clearances: tuple[str, ...]
    sha256: str
    created: str
    revoked: str | None = None

    def identity(self) -> Identity:
        return Identity(
            f"token:{self.name}", (Grant(self.role, self.namespace),), frozenset(self.clearances)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.name,
            "namespace": self.namespace,
            "clearances": list(self.clearances),
            "created": self.created,
            "revoked": self.revoked,
        }


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(id, token)``."""
    token_id = secrets.token_hex(4)
    return token_id, f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"


def access_event(job: str, record: dict[str, Any], at_us: int | None = None) -> dict[str, Any]:
    """The ``JobEvent`` recording one access change (``record`` is the facet's content)."""
    at = at_us if at_us is not None else time.time_ns() // 1000
    facet = {"_producer": PRODUCER, "_schemaURL": ACCESS_FACET_SCHEMA, **record}
    return {
        "eventTime": iso(at),
        "producer": PRODUCER,
        "schemaURL": JOB_EVENT_SCHEMA_URL,
        "job": {"namespace": ACCESS_NAMESPACE, "name": job, "facets": {ACCESS_FACET: facet}},
    }


def create_event(
    name: str, role: Role, namespace: str, clearances: Sequence[str], by: str
) -> tuple[str, dict[str, Any]]:
    """``(token, event)``: a new token and the event that records its hash."""
    if not name.strip():
        raise UsageError("a token needs a --name (what or who uses it, e.g. ci)")
    if not namespace.strip() or any(ch.isspace() for ch in namespace):
        raise UsageError(f"namespace {namespace!r} is not a namespace (or * for all)")
    token_id, token = new_token()
    record = {
        "action": "token.create",
        "id": token_id,
        "name": name,
        "role": role.name,
        "namespace": namespace,
        "clearances": sorted(set(clearances)),
        "sha256": digest(token),
        "by": by,
    }
    return token, access_event(TOKENS_JOB, record)


def revoke_event(token_id: str, by: str) -> dict[str, Any]:
    return access_event(TOKENS_JOB, {"action": "token.revoke", "id": token_id, "by": by})


def _token_events(conn: Connection, after_seq: int) -> list[tuple[int, bytes]]:
    e = s.events.c
    stmt = (
        sa.select(e.seq, e.body)
        .where(e.job_name == TOKENS_JOB, e.job_namespace == ACCESS_NAMESPACE, e.seq > after_seq)
        .order_by(e.seq)
    )
    return [(int(row.seq), bytes(row.body)) for row in conn.execute(stmt)]


def fold(records: dict[str, TokenRecord], bodies: Iterable[bytes]) -> None:
    """Apply token events, in log order, to ``records`` (by id)."""
    for body in bodies:
        event = orjson.loads(body)
        facet = event.get("job", {}).get("facets", {}).get(ACCESS_FACET) or {}
        action, token_id = facet.get("action"), str(facet.get("id"))
        if action == "token.create" and token_id not in records:
            records[token_id] = TokenRecord(
                token_id,
                str(facet["name"]),
                Role.parse(facet["role"]),
                str(facet["namespace"]),
                tuple(facet.get("clearances", ())),
                str(facet["sha256"]),
                str(event["eventTime"]),
            )
        elif action == "token.revoke" and token_id in records:
            old = records[token_id]
            if old.revoked is None:
                records[token_id] = TokenRecord(
                    old.id,
                    old.name,
                    old.role,
                    old.namespace,
                    old.clearances,
                    old.sha256,
                    old.created,
                    str(event["eventTime"]),
                )


def list_tokens(store: Store) -> list[TokenRecord]:
    records: dict[str, TokenRecord] = {}
    fold(records, (body for _, body in store.read(lambda conn: _token_events(conn, 0))))
    return sorted(records.values(), key=lambda r: r.created)


def find_token(store: Store, token_id: str) -> TokenRecord:
    for record in list_tokens(store):
        if record.id == token_id:
            return record
    raise NotFound(f"no token {token_id!r} (threadline token list shows them)")


class TokenTable:
    """The live tokens by hash, brought up to date from the log at most every ``ttl`` seconds
    (so a revocation takes effect within ``ttl``)."""

    def __init__(self, store: Store, ttl: float = 1.0) -> None:
        self._store = store
        self._ttl = ttl
        self._records: dict[str, TokenRecord] = {}
        self._by_hash: dict[str, TokenRecord] = {}
        self._seen = 0
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self._ttl:
            return
        with self._lock:
            found = self._store.read(lambda conn: _token_events(conn, self._seen))
            self._checked = time.monotonic()
            if not found:
                return
            fold(self._records, (body for _, body in found))
            self._seen = found[-1][0]
            self._by_hash = {r.sha256: r for r in self._records.values() if r.revoked is None}

    def identify(self, token: str) -> Identity | None:
        """The identity of a live token, else ``None``."""
        self.refresh()
        wanted = digest(token)
        record = self._by_hash.get(wanted)
        # compare_digest: the dict lookup already matched; this keeps the check constant-time
        # against a table keyed by something else in the future.
        if record is None or not hmac.compare_digest(record.sha256, wanted):
            return None
        return record.identity()


__all__ = [
    "ACCESS_FACET",
    "DENIED_JOB",
    "TOKENS_JOB",
    "TokenRecord",
    "TokenTable",
    "access_event",
    "create_event",
    "digest",
    "find_token",
    "list_tokens",
    "revoke_event",
]
