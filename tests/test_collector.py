"""The serving processes' collector policy (:mod:`threadline.collector`): automatic
collection is off while a large batch is in flight and on again once the last one leaves; a
batch leaving a hold older than ``MAX_HOLD_SECONDS`` runs a collection; an embedding
application's collector is left alone; the writer agent is tuned before it serves.

Each test runs in an interpreter of its own: tuning freezes the process's objects and every
check reads the process-wide collector state, which other tests' threads share here.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run(script: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_holds_keep_collection_off_until_the_last_one_leaves(tmp_path: Path) -> None:
    _run(
        """
        import gc
        import threading

        from threadline import collector

        # Not a serving process (nothing tuned): an embedding application's collector stays on.
        with collector.collections_held():
            assert gc.isenabled()
            assert not collector.holding()

        collector.tune_gc_for_serving()
        assert gc.get_threshold()[0] == 100_000
        entered, release = threading.Event(), threading.Event()

        def other_batch():
            with collector.collections_held():
                entered.set()
                release.wait(10)

        thread = threading.Thread(target=other_batch)
        with collector.collections_held():
            assert not gc.isenabled()
            thread.start()
            assert entered.wait(10)
        assert not gc.isenabled(), "another batch is still in flight"
        assert collector.holding()
        release.set()
        thread.join(10)
        assert gc.isenabled()
        assert not collector.holding()

        # An exception inside a hold ends it all the same.
        try:
            with collector.collections_held():
                raise KeyError("boom")
        except KeyError:
            pass
        assert gc.isenabled()
        """,
        tmp_path,
    )


def test_a_batch_leaving_a_hold_older_than_the_limit_collects(tmp_path: Path) -> None:
    _run(
        """
        import gc

        from threadline import collector

        collector.tune_gc_for_serving()
        walks = []
        gc.callbacks.append(lambda phase, info: phase == "stop" and walks.append(info))
        first = collector.collections_held()
        first.__enter__()
        with collector.collections_held():
            pass
        assert walks == [], "within MAX_HOLD_SECONDS nothing is collected"
        collector.MAX_HOLD_SECONDS = 0.0
        with collector.collections_held():
            pass
        assert [w["generation"] for w in walks] == [1], walks
        assert not gc.isenabled(), "the first batch is still in flight"
        first.__exit__(None, None, None)
        assert gc.isenabled()
        """,
        tmp_path,
    )


def test_a_large_batch_is_checked_and_appended_with_collection_held(tmp_path: Path) -> None:
    _run(
        f"""
        import gc
        import uuid

        import orjson
        from fastapi.testclient import TestClient

        from threadline.config import Settings
        from threadline.server import openlineage
        from threadline.server.app import create_app
        from threadline.collector import tune_gc_for_serving
        from threadline.server.memory import LARGE_BODY
        from threadline.store.sql import SqlStore

        seen = []
        check, append = openlineage.check_batch, SqlStore.append_batch

        def checking(*args, **kwargs):
            seen.append(("check", gc.isenabled()))
            return check(*args, **kwargs)

        def appending(self, *args, **kwargs):
            seen.append(("append", gc.isenabled()))
            return append(self, *args, **kwargs)

        openlineage.check_batch = checking
        SqlStore.append_batch = appending

        def batch(count, pad):
            return b"\\n".join(
                orjson.dumps({{
                    "eventType": "COMPLETE",
                    "eventTime": "2026-06-01T00:00:00Z",
                    "run": {{"runId": str(uuid.uuid4()), "facets": {{"pad": {{"text": pad}}}}}},
                    "job": {{"namespace": "gc", "name": "job"}},
                    "producer": "https://example.com/p",
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
                }})
                for _ in range(count)
            )

        settings = Settings(store_url="sqlite:///{tmp_path / "lineage.db"}")
        with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
            tune_gc_for_serving()
            headers = {{"Content-Type": "application/x-ndjson"}}
            large = batch(400, "x" * 3000)
            assert len(large) >= LARGE_BODY
            answer = client.post("/api/v1/lineage/batch", content=large, headers=headers)
            assert answer.status_code == 201, answer.text
            assert seen == [("check", False), ("append", False)], seen
            assert gc.isenabled()
            seen.clear()
            answer = client.post("/api/v1/lineage/batch", content=batch(3, ""), headers=headers)
            assert answer.status_code == 201, answer.text
            assert seen == [("check", True), ("append", True)], seen
            seen.clear()
            bad = large + b"\\n{{not json"
            answer = client.post("/api/v1/lineage/batch", content=bad, headers=headers)
            assert answer.status_code == 400, answer.text
            assert seen == [("check", False)], seen
            assert gc.isenabled(), "a refused batch ends its hold"
        """,
        tmp_path,
    )


def test_the_writer_agent_freezes_what_it_imported_before_it_serves(tmp_path: Path) -> None:
    _run(
        f"""
        import gc
        import os
        import socket

        from threadline.capture import agent

        seen = []
        agent.Agent.serve = lambda self: seen.append(
            (gc.get_threshold()[0], gc.get_freeze_count())
        ) or 0
        listener = socket.socket(socket.AF_UNIX)
        listener.bind({str(tmp_path / "agent.sock")!r})
        lock = os.open({str(tmp_path / "agent.lock")!r}, os.O_RDWR | os.O_CREAT)
        url = "sqlite:///{tmp_path / "lineage.db"}"
        assert agent.main([url, str(listener.fileno()), str(lock), "5"]) == 0
        (threshold, frozen), = seen
        assert threshold == 100_000
        assert frozen > 10_000, frozen
        """,
        tmp_path,
    )
