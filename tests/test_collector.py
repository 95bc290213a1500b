"""The collector policy (:mod:`threadline.collector`).  Serving processes: automatic
collection is off while a large batch is in flight and on again once the last one leaves; a
batch leaving a hold older than ``MAX_HOLD_SECONDS`` runs a collection; an embedding
application's collector is left alone; the writer agent is tuned before it serves.  Captured
programs: objects made in an uncounted block bring no full collection forward; a program's
frozen objects and a collector turned off are left alone; capture's start and its hooks are
such blocks.

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


def test_objects_made_in_an_uncounted_block_bring_no_full_collection_forward(
    tmp_path: Path,
) -> None:
    _run(
        """
        import gc

        from threadline import collector

        gc.set_threshold(700, 10, 10)
        # A large oldest generation: the few objects that survive the loop below into it
        # stay far from a quarter of it.
        program = [[] for _ in range(200_000)]
        gc.collect()
        full = []
        gc.callbacks.append(
            lambda phase, info: phase == "stop" and info["generation"] == 2 and full.append(1)
        )
        # Half as many long-lived containers as the oldest generation holds: counted on their
        # way into it, they would make the next full collection due (a quarter is enough).
        with collector.uncounted_objects():
            kept = [[] for _ in range(len(program) // 2)]
            assert not gc.isenabled()
        assert gc.isenabled()
        assert gc.get_count()[0] == 0
        oldest = {id(o) for o in gc.get_objects(generation=2)}
        assert all(id(o) in oldest for o in kept)
        # Cyclic garbage: young collections free it, and run often enough that a full
        # collection would have come twice had the kept containers been counted.
        for _ in range(160_000):
            cycle = []
            cycle.append(cycle)
        assert full == [], f"{len(full)} full collections"
        """,
        tmp_path,
    )


def test_a_programs_frozen_objects_and_a_collector_turned_off_are_left_alone(
    tmp_path: Path,
) -> None:
    _run(
        """
        import gc

        from threadline import collector

        gc.freeze()
        frozen = gc.get_freeze_count()
        with collector.uncounted_objects():
            assert gc.isenabled()
            young = [[] for _ in range(100)]
        assert gc.get_freeze_count() == frozen > 0, "the program's frozen objects stay frozen"
        gc.unfreeze()

        gc.disable()
        with collector.uncounted_objects():
            more = [[] for _ in range(100)]
        assert any(o is more[0] for o in gc.get_objects(generation=0)), "still young"
        assert not gc.isenabled(), "the program turned collection off"
        """,
        tmp_path,
    )


def test_capture_promotes_what_it_made_when_it_starts_and_when_it_hooks_a_library(
    tmp_path: Path,
) -> None:
    (tmp_path / "fakelib.py").write_text("VALUE = 1\n")
    _run(
        f"""
        import gc
        import os
        import sys

        # No young collection of its own in this test: whatever reaches the oldest generation
        # was moved there.
        gc.set_threshold(10_000_000, 10, 10)

        def oldest(obj):
            return any(o is obj for o in gc.get_objects(generation=2))

        from threadline.capture.hooks._patch import PostImportHooks

        made = []
        hooks = PostImportHooks()
        hooks.watch(["fakelib"], lambda module: made.append([module.VALUE]))
        import fakelib

        assert made and oldest(made[0]), "the hook's objects are promoted"

        os.environ["THREADLINE_STORE"] = {str(tmp_path / "lineage.db")!r}
        import threadline
        from threadline.capture import session

        threadline.autocapture()
        assert oldest(session._session), "the session's objects are promoted"
        """,
        tmp_path,
    )
