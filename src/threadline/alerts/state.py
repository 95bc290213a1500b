"""The alerts' durable state: which findings each destination was told about, and every
delivery attempt.

A SQLite file (setting ``alert_state``, default ``.threadline/alerts.db``) apart from the
lineage store: the store's log is the verifiable record of lineage, and alert bookkeeping
is neither lineage nor worth a place in the hash chain.  ``tl_alert_open`` holds, per rule,
destination and finding key, the digest last delivered; a finding is alerted again only when
its digest changes, and resolved (row removed) once it is gone.  ``tl_alert_deliveries`` logs
each delivery: what, where, attempts, outcome and the latency from the triggering event.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tl_alert_open (
    rule TEXT NOT NULL,
    destination TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    finding TEXT NOT NULL,
    opened_us INTEGER NOT NULL,
    PRIMARY KEY (rule, destination, key)
);
CREATE TABLE IF NOT EXISTS tl_alert_deliveries (
    id INTEGER PRIMARY KEY,
    rule TEXT NOT NULL,
    destination TEXT NOT NULL,
    notices INTEGER NOT NULL,
    statuses TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    detail TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    latency_ms REAL
);
CREATE TABLE IF NOT EXISTS tl_alert_feed (
    id INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    notice TEXT NOT NULL
);
"""

#: Relayed SSE notices are kept this long (a worker relays within a poll interval).
FEED_KEEP_US = 600 * 1_000_000


@dataclass(frozen=True, slots=True)
class OpenAlert:
    key: str
    digest: str
    finding: dict[str, Any]
    opened_us: int


@dataclass(frozen=True, slots=True)
class Delivery:
    rule: str
    destination: str
    notices: int
    statuses: str
    attempts: int
    ok: bool
    detail: str
    at_us: int
    latency_ms: float | None


class AlertState:
    """The state file, opened once; safe to use from several threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection inside one write transaction, held by this process's lock."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def open_alerts(self, rule: str, destination: str) -> dict[str, OpenAlert]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, digest, finding, opened_us FROM tl_alert_open "
                "WHERE rule = ? AND destination = ?",
                (rule, destination),
            ).fetchall()
        return {r[0]: OpenAlert(r[0], r[1], orjson.loads(r[2]), r[3]) for r in rows}

    def settle(
        self,
        rule: str,
        destination: str,
        opened: list[tuple[str, str, dict[str, Any]]],
        resolved: list[str],
    ) -> None:
        """After a delivery went through: remember what was alerted, forget what resolved."""
        now = time.time_ns() // 1000
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO tl_alert_open VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (rule, destination, key) DO UPDATE SET "
                "digest = excluded.digest, finding = excluded.finding",
                [(rule, destination, k, d, orjson.dumps(f).decode(), now) for k, d, f in opened],
            )
            conn.executemany(
                "DELETE FROM tl_alert_open WHERE rule = ? AND destination = ? AND key = ?",
                [(rule, destination, key) for key in resolved],
            )

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO tl_alert_deliveries (rule, destination, notices, statuses, "
                "attempts, ok, detail, at_us, latency_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    delivery.rule,
                    delivery.destination,
                    delivery.notices,
                    delivery.statuses,
                    delivery.attempts,
                    int(delivery.ok),
                    delivery.detail,
                    delivery.at_us,
                    delivery.latency_ms,
                ),
            )

    def feed_append(self, notices: list[dict[str, Any]]) -> None:
        """Queue ``notices`` for every server worker's SSE listeners (see ``RelayedFeed``)."""
        now = time.time_ns() // 1000
        with self._transaction() as conn:
            conn.executemany(
                "INSERT INTO tl_alert_feed (at_us, notice) VALUES (?, ?)",
                [(now, orjson.dumps(n).decode()) for n in notices],
            )
            conn.execute("DELETE FROM tl_alert_feed WHERE at_us < ?", (now - FEED_KEEP_US,))

    def feed_head(self) -> int:
        """The id of the newest queued notice (0: none)."""
        with self._lock:
            row = self._conn.execute("SELECT MAX(id) FROM tl_alert_feed").fetchone()
        return int(row[0] or 0)

    def feed_after(self, after: int) -> list[tuple[int, dict[str, Any]]]:
        """Queued notices after id ``after``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, notice FROM tl_alert_feed WHERE id > ? ORDER BY id", (after,)
            ).fetchall()
        return [(int(r[0]), orjson.loads(r[1])) for r in rows]

    def deliveries(self, limit: int = 100) -> list[Delivery]:
        """The most recent deliveries, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT rule, destination, notices, statuses, attempts, ok, detail, at_us, "
                "latency_ms FROM tl_alert_deliveries ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [Delivery(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8]) for r in rows]


__all__ = ["AlertState", "Delivery", "OpenAlert"]
