"""Several ``threadline serve`` processes on one PostgreSQL database, as behind a load balancer.

Writers post to every server at once while one change-stream reader per server follows the
log from its start.  Afterwards: the chain verifies (it never forked), its sequence numbers
run 1..N without a gap, every reader saw every event exactly once and in log order, within a
second of its commit even when it was committed through another server; killed with SIGKILL
mid-load, one server leaves the others serving, and a reader resumes on another server with
its ``Last-Event-ID``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, start_server
from tests.support.pg import fresh_database

from threadline.store import open_store
from threadline.store.base import Cursor

WRITERS = 4
REQUESTS_PER_WRITER = 25
#: Polling alone would take half of this on average: the notifications must do the work.
POLL = {"THREADLINE_STREAM_POLL_SECONDS": "1.0"}


def event(writer: int) -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-05-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "many", "name": f"writer-{writer}"},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@dataclass
class Reader:
    """Follows one server's stream on a thread: (seq, run id, arrival) per event."""

    server: Server
    after: str
    seen: list[tuple[int, str, float]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)
    error: list[BaseException] = field(default_factory=list)

    def start(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(30.0, read=60.0)) as client,
                client.stream(
                    "GET",
                    self.server.url + "/api/v1/stream",
                    headers={"Last-Event-ID": self.after},
                ) as response,
            ):
                assert response.status_code == 200
                seq = 0
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        seq = Cursor.decode(line[4:]).seq
                    elif line.startswith("data: "):
                        run_id = json.loads(line[6:])["run"]["runId"]
                        self.seen.append((seq, run_id, time.monotonic()))
        except httpx.TransportError:
            pass  # the server went away (killed by the test) or the test ended
        except Exception as exc:
            self.error.append(exc)
        finally:
            self.ended.set()

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def servers_on_one_database(
    tmp_path: Path, count: int, workers: int = 1
) -> Iterator[tuple[str, list[Server]]]:
    """``count`` servers on one fresh database, the last one with ``workers`` processes."""
    with fresh_database("tl_many") as url:
        # The schema is made once before the servers start, as any deployment does it
        # (creating it concurrently is the schema lock's own test).
        open_store(url).close()
        folders = [tmp_path / f"server{i}" for i in range(count)]
        for folder in folders:
            folder.mkdir()
        with ThreadPoolExecutor(count) as pool:
            started = list(
                pool.map(
                    lambda folder: start_server(
                        folder,
                        *(["--workers", str(workers)] if folder == folders[-1] else []),
                        store=url,
                        env=POLL,
                    ),
                    folders,
                )
            )
        try:
            yield url, started
        finally:
            for server in started:
                server.stop()


def write_through_all(
    servers: list[Server], alive: list[Server], sent: dict[str, float], kill: Any = None
) -> None:
    """Each writer posts batches of 1-3 events to the servers in turn, moving on to the next
    live server when one fails (as a load balancer would); records each event's commit time."""
    lock = threading.Lock()

    def writer(index: int) -> None:
        with httpx.Client(timeout=10.0) as client:
            turn = itertools.count(index)
            for request in range(REQUESTS_PER_WRITER):
                if kill is not None and index == 0 and request == REQUESTS_PER_WRITER // 3:
                    kill()
                batch = [event(index) for _ in range(1 + request % 3)]
                for _attempt in range(len(servers) + 1):
                    targets = list(alive)  # the killer may shrink it meanwhile
                    target = targets[next(turn) % len(targets)]
                    try:
                        response = client.post(target.url + "/api/v1/lineage/batch", json=batch)
                    except httpx.TransportError:
                        continue  # a dead server: the next one takes the batch
                    assert response.status_code == 201, response.text
                    committed = time.monotonic()
                    with lock:
                        for body in batch:
                            sent[body["run"]["runId"]] = committed
                    break
                else:
                    pytest.fail("no server took the batch")

    with ThreadPoolExecutor(WRITERS) as pool:
        list(pool.map(writer, range(WRITERS)))


def check_log(url: str, sent: dict[str, float]) -> list[int]:
    """The chain verifies and holds exactly the events sent, numbered 1..N."""
    store = open_store(url)
    try:
        report = store.verify()
        records = []
        cursor = Cursor(0)
        while page := store.read_after(cursor, 1000):
            records.extend(page)
            cursor = Cursor(page[-1].seq)
    finally:
        store.close()
    assert report.ok, report.first_break
    seqs = [r.seq for r in records]
    assert seqs == list(range(1, len(sent) + 1))  # no gap, nothing twice
    assert sorted(json.loads(r.body)["run"]["runId"] for r in records) == sorted(sent)
    return seqs


def delivery_latencies(reader: Reader, sent: dict[str, float]) -> list[float]:
    return [arrived - sent[run_id] for _seq, run_id, arrived in reader.seen]


@pytest.mark.parametrize(("count", "workers"), [(2, 2), (4, 1)])
def test_every_server_streams_every_event_once_in_order(
    tmp_path: Path, count: int, workers: int
) -> None:
    with servers_on_one_database(tmp_path, count, workers) as (url, servers):
        readers = [Reader(server, Cursor(0).encode()) for server in servers]
        for reader in readers:
            reader.start()
        time.sleep(0.5)
        sent: dict[str, float] = {}
        write_through_all(servers, list(servers), sent)
        for reader in readers:
            reader.wait_for(len(sent), timeout=10)
        seqs = check_log(url, sent)
        latencies = []
        for reader in readers:
            assert not reader.error, reader.error
            assert [s for s, _r, _t in reader.seen] == seqs, reader.server.url
            latencies.extend(delivery_latencies(reader, sent))
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"{count} servers ({workers} workers in one), {len(sent)} events: stream delivery p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
    )
    assert latencies[-1] < 1.0
    assert p50 < 0.3  # pushed by NOTIFY, not found by the 1 s poll


def test_a_server_killed_mid_load_leaves_the_others_serving(tmp_path: Path) -> None:
    with servers_on_one_database(tmp_path, 3) as (url, servers):
        readers = [Reader(server, Cursor(0).encode()) for server in servers]
        for reader in readers:
            reader.start()
        time.sleep(0.5)
        victim, alive = servers[0], list(servers)

        def kill() -> None:
            alive.remove(victim)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(timeout=10)

        sent: dict[str, float] = {}
        write_through_all(servers, alive, sent, kill=kill)
        assert readers[0].ended.wait(10)  # the killed server's stream ended with it
        for reader in readers[1:]:
            reader.wait_for(len(sent), timeout=10)
        seqs = check_log(url, sent)
        for reader in readers[1:]:
            assert not reader.error, reader.error
            assert [s for s, _r, _t in reader.seen] == seqs
        # The killed server's reader resumes on a survivor from the last id it got.
        cut = readers[0].seen
        last = cut[-1][0] if cut else 0
        resumed = Reader(servers[1], Cursor(last).encode())
        resumed.start()
        resumed.wait_for(len(sent) - last, timeout=10)
        assert [s for s, _r, _t in cut] + [s for s, _r, _t in resumed.seen] == seqs
        assert all(server.process.poll() is None for server in servers[1:])
