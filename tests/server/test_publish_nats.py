"""``threadline serve --publish nats://…``: the change stream in NATS JetStream, exactly once.

Against the real NATS server of the machine (127.0.0.1:4222, JetStream on); skipped with the
reason when none answers there.  Each test uses a subject (and so a stream) of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.server.test_stream import event
from tests.support.live import Server, start_server
from tests.support.nats import NATS_URL, require_nats

from threadline.store import open_store
from threadline.store.base import Cursor

nats = pytest.importorskip("nats")


@pytest.fixture
def subject() -> Iterator[str]:
    require_nats()
    name = f"tltest.{uuid.uuid4().hex[:10]}"
    yield name

    async def drop() -> None:
        from threadline.server.publish import stream_name

        nc = await nats.connect(NATS_URL)
        with contextlib.suppress(Exception):  # the test failed before the stream was made
            await nc.jetstream().delete_stream(stream_name(name))
        await nc.close()

    asyncio.run(drop())


async def consume(subject: str, durable: str, want: int, quiet: float = 1.0) -> list[Any]:
    """Fetch (and ack) from the durable consumer until ``want`` messages came and then
    ``quiet`` seconds passed without another."""
    nc = await nats.connect(NATS_URL)
    try:
        sub = await nc.jetstream().pull_subscribe(subject, durable=durable)
        got: list[Any] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                batch = await sub.fetch(100, timeout=quiet if len(got) >= want else 2.0)
            except (TimeoutError, nats.errors.TimeoutError):
                if len(got) >= want:
                    break
                continue
            for msg in batch:
                got.append(
                    (int(msg.headers["Threadline-Seq"]), msg.headers["Nats-Msg-Id"], msg.data)
                )
                await msg.ack()
        return got
    finally:
        await nc.close()


async def make_stream(subject: str, duplicate_window: float) -> None:
    from threadline.server.publish import stream_name

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().add_stream(
            name=stream_name(subject), subjects=[subject], duplicate_window=duplicate_window
        )
    finally:
        await nc.close()


def post(server: Server, bodies: list[dict[str, Any]]) -> None:
    http = server.client()
    answer = http.post("/api/v1/lineage/batch", json=bodies[:-1])
    assert answer.status_code == 201, answer.text
    assert http.post("/api/v1/lineage", json=bodies[-1]).status_code == 201


def stored_bodies(store_path: str) -> list[bytes]:
    store = open_store(store_path)
    try:
        return [record.body for record in store.read_after(Cursor(0), 10_000)]
    finally:
        store.close()


def test_a_durable_consumer_gets_every_event_once_across_a_server_kill(
    tmp_path: Path, subject: str
) -> None:
    store = str(tmp_path / "lineage.db")
    args = ("--publish", NATS_URL)
    # A duplicate window too short to hide anything: only resuming after what the stream
    # holds keeps the restarted server from publishing an event twice.
    asyncio.run(make_stream(subject, duplicate_window=0.2))
    env = {"THREADLINE_PUBLISH_SUBJECT": subject}
    server = start_server(tmp_path, *args, store=store, env=env)
    try:
        post(server, [event("nats") for _ in range(30)])
        first = asyncio.run(consume(subject, "tl-consumer", 30))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
    finally:
        server.stop()
    # Appended while no server runs (another writer of the store): published on restart.
    writer = open_store(store)
    try:
        writer.append_batch([event("nats") for _ in range(20)])
    finally:
        writer.close()
    server = start_server(tmp_path, *args, store=store, env=env)
    try:
        post(server, [event("nats") for _ in range(10)])
        rest = asyncio.run(consume(subject, "tl-consumer", 30))
    finally:
        server.stop()
    got = first + rest
    assert [seq for seq, _id, _data in got] == list(range(1, 61))
    assert all(msg_id == str(seq) for seq, msg_id, _data in got)
    assert [data for _seq, _id, data in got] == stored_bodies(store)


def test_two_servers_publishing_one_store_publish_each_event_once(
    tmp_path: Path, subject: str
) -> None:
    store = str(tmp_path / "lineage.db")
    env = {"THREADLINE_PUBLISH_SUBJECT": subject}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    servers = [
        start_server(tmp_path / name, "--publish", NATS_URL, store=store, env=env)
        for name in ("a", "b")
    ]
    try:
        for index in range(10):
            post(servers[index % 2], [event("nats") for _ in range(3)])
        got = asyncio.run(consume(subject, "tl-both", 30))
    finally:
        for server in servers:
            server.stop()
    assert [seq for seq, _id, _data in got] == list(range(1, 31))


def test_publish_without_the_nats_client_names_the_extra(tmp_path: Path) -> None:
    # The interpreter as it is without nats-py installed: importing it fails.
    script = (
        "import sys, runpy; sys.modules['nats'] = None; "
        "sys.argv = ['threadline', 'serve', '--publish', 'nats://127.0.0.1:4222', '--store', "
        f"{str(tmp_path / 'l.db')!r}]; runpy.run_module('threadline', run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "threadline[nats]" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_publish_url_that_is_not_nats_is_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "threadline", "serve", "--publish", "http://x:4222"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "not a NATS URL" in done.stderr


def test_an_unreachable_nats_server_does_not_stop_ingest_or_streams(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--publish", "nats://127.0.0.1:9")  # nothing listens there
    try:
        post(server, [event("nats") for _ in range(3)])
        assert server.client().get("/api/v1/health").status_code == 200
        deadline = time.monotonic() + 10
        while "cannot publish to nats://127.0.0.1:9" not in server.logs():
            assert time.monotonic() < deadline, server.logs()
            time.sleep(0.2)
    finally:
        server.stop()
    assert server.logs().count("cannot publish") == 1  # one warning per outage
