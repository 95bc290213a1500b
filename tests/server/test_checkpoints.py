"""The server signs checkpoints on a schedule (only with a key, only when the log grew) and
publishes the latest at GET /api/v1/checkpoint; what it publishes verifies the store."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tests.support.events import event
from tests.support.live import Server
from typer.testing import CliRunner

from threadline.cli import app
from threadline.integrity.checkpoint import open_checkpoint
from threadline.integrity.signing import SigningKey, VerifyingKey


def latest(server: Server, size: int, timeout: float = 20.0) -> str:
    """The published note once it covers ``size`` records."""
    deadline = time.monotonic() + timeout
    with server.client() as client:
        while True:
            answer = client.get("/api/v1/checkpoint")
            if answer.status_code == 200 and f"\n{size}\n" in answer.text:
                assert answer.headers["content-type"] == "text/plain; charset=utf-8"
                return answer.text
            assert time.monotonic() < deadline, (answer.status_code, answer.text)
            time.sleep(0.1)


def stored_checkpoints(server: Server) -> list[int]:
    with closing(sqlite3.connect(server.store)) as conn:
        return [row[0] for row in conn.execute("SELECT tree_size FROM tl_checkpoints")]


def test_without_a_key_the_server_publishes_nothing_and_says_why(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()
    with server.client() as client:
        answer = client.get("/api/v1/checkpoint")
    assert answer.status_code == 404
    assert "this server signs no checkpoints: set checkpoint_key" in answer.json()["message"]


def test_the_server_signs_a_checkpoint_when_the_log_grew(
    server_factory: Callable[..., Server], tmp_path: Path
) -> None:
    key = SigningKey.generate()
    key_path = tmp_path / "log.key"
    key.save(key_path)
    key.verifying_key.save(tmp_path / "log.key.pub")
    server = server_factory(
        env={
            "THREADLINE_CHECKPOINT_KEY": str(key_path),
            "THREADLINE_CHECKPOINT_EVERY_SECONDS": "0.2",
        }
    )
    with server.client() as client:
        answer = client.get("/api/v1/checkpoint")
        assert answer.status_code == 404
        assert "no signed checkpoint yet" in answer.json()["message"]
        posted = client.post("/api/v1/lineage/batch", json=[event(n) for n in range(1, 4)])
        assert posted.status_code < 300, posted.text
    note = latest(server, 3)
    assert open_checkpoint(note, key.verifying_key).size == 3
    # Nothing new: no new checkpoint however often the schedule fires.
    time.sleep(0.8)
    assert stored_checkpoints(server) == [3]
    with server.client() as client:
        client.post("/api/v1/lineage/batch", json=[event(9)])
    assert open_checkpoint(latest(server, 4), key.verifying_key).size == 4
    assert stored_checkpoints(server) == [3, 4]
    # What the server published is what a client keeps and verifies the store with.
    kept = tmp_path / "kept.note"
    kept.write_text(note)
    result = CliRunner().invoke(
        app,
        [
            "--store",
            server.store,
            "verify",
            "--checkpoint",
            str(kept),
            "--key",
            str(tmp_path / "log.key.pub"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "✓ matches the signed checkpoint" in result.stdout
    assert VerifyingKey.load(tmp_path / "log.key.pub") == key.verifying_key
    # A log that no longer verifies is not signed: the last good note stays published.
    with closing(sqlite3.connect(server.store)) as conn, conn:
        conn.execute("UPDATE tl_events SET hash = zeroblob(32) WHERE seq = 2")
    with server.client() as client:
        client.post("/api/v1/lineage/batch", json=[event(10)])
    deadline = time.monotonic() + 20
    while "no checkpoint signed" not in server.logs():
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.1)
    assert open_checkpoint(latest(server, 4), key.verifying_key).size == 4
    assert stored_checkpoints(server) == [3, 4]
