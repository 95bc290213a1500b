"""kill -9 of the server in the middle of single and batch ingest, on SQLite and PostgreSQL.

Four clients post continuously, single events and batches of 50, each remembering what the
server acknowledged (201).  At a random moment the server is killed with SIGKILL, restarted on
the same store, and the clients send everything again that was not acknowledged, plus a share
of what was (as a client that lost the answer would).  After five rounds: every acknowledged
event is stored, none is stored twice, and the log verifies.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, start_server
from tests.support.pg import fresh_database

from threadline.store import open_store
from threadline.store.base import Cursor

ROUNDS = 5
CLIENTS = 4
BATCH = 50


def event() -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-06-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "faults", "name": "kill"},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@dataclass
class Client:
    """Posts until stopped; keeps what was acknowledged and what is still owed."""

    number: int
    acknowledged: set[str] = field(default_factory=set)
    owed: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0

    def run(self, url: str, stop: threading.Event) -> None:
        with httpx.Client(base_url=url, timeout=10.0) as http:
            while not stop.is_set():
                if not self.owed:  # new events are owed until the server acknowledges them
                    self.owed = [event() for _ in range(1 if self.sent % 3 == 0 else BATCH)]
                events = self.owed[:BATCH]
                try:
                    if len(events) == 1:
                        answer = http.post("/api/v1/lineage", json=events[0])
                    else:
                        answer = http.post(
                            "/api/v1/lineage/batch",
                            content=b"".join(orjson.dumps(e) + b"\n" for e in events),
                            headers={"Content-Type": "application/x-ndjson"},
                        )
                except httpx.TransportError:
                    return  # the server is gone: the rest waits for the next round
                self.sent += 1
                if answer.status_code != 201:
                    return
                done = {e["run"]["runId"] for e in events}
                self.acknowledged |= done
                self.owed = [e for e in self.owed if e["run"]["runId"] not in done]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "lineage.db")
        return
    with fresh_database("tl_faults") as url:
        yield url


def test_no_acknowledged_event_is_lost_or_doubled_across_server_kills(
    store_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20261204)
    clients = [Client(n) for n in range(CLIENTS)]
    resent_after_ack: list[dict[str, Any]] = []
    port: int | None = None
    for _round in range(ROUNDS):
        server: Server = start_server(tmp_path, store=store_url, port=port)
        port = int(server.url.rsplit(":", 1)[1])
        # A client that lost the answer sends again what was in fact stored.
        for client in clients:
            client.owed.extend(resent_after_ack[: rng.randint(0, 20)])
        stop = threading.Event()
        threads = [
            threading.Thread(target=c.run, args=(server.url, stop), daemon=True) for c in clients
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        resent_after_ack = [
            {**event(), "run": {"runId": run_id}}
            for client in clients
            for run_id in list(client.acknowledged)[:10]
        ]

    acknowledged = set().union(*(c.acknowledged for c in clients))
    assert len(acknowledged) > 100, "the clients hardly got anything through"
    with open_store(store_url) as store:
        stored = [orjson.loads(r.body)["run"]["runId"] for r in store.read_after(Cursor(0), 10**7)]
        report = store.verify()
    # The figures for the fault report (pytest -s shows them).
    print(
        f"\nserver kill x{ROUNDS} on {'sqlite' if store_url.endswith('.db') else 'postgresql'}: "
        f"acknowledged "
        f"{len(acknowledged)}, stored {len(stored)}, lost {len(acknowledged - set(stored))}, "
        f"duplicated {len(stored) - len(set(stored))}, verify {'ok' if report.ok else 'FAILED'}"
    )
    assert acknowledged <= set(stored), "acknowledged events were lost"
    assert len(stored) == len(set(stored)), "an event was stored twice"
    assert report.ok, report
