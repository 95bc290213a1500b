"""A poison event never blocks anybody else's lineage: the spool's quarantine, end to end.

Real server, real spool folders; the 5xx cases put a fault-injecting proxy
(:mod:`tests.support.faulty_proxy`) in front of the real server, since the server itself is
meant to answer 400, not 500, for every bad value it knows of.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

from tests.support.faulty_proxy import faulty_proxy
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, Server, free_port

from threadline.capture.http_sink import HttpSink
from threadline.capture.spool import Spool
from threadline.store import open_store
from threadline.store.base import Cursor

POISON = "poison-\u2620"


def event(job: str = "valid") -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-03-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "quarantine", "name": job},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


def stored_jobs(server: Server) -> list[str]:
    with open_store(server.store) as store:
        return [json.loads(r.body)["job"]["name"] for r in store.read_after(Cursor(0), 100_000)]


def sync(spool: Path, url: str, *flags: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "threadline", "sync", "--url", url, "--spool", str(spool), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def spooled_while_down(spool: Path, batches: list[list[dict[str, Any]]]) -> None:
    sink = HttpSink(
        f"http://127.0.0.1:{free_port()}", spool_dir=spool, retries=0, replay_in_background=False
    )
    for batch in batches:
        sink.emit_batch(batch)
    sink.close(0.1)


def test_a_refused_event_in_the_spool_is_quarantined_and_the_queue_moves_on(
    fresh_server: Server, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    bad = event()
    del bad["run"]["runId"]
    spooled_while_down(spool, [[event("a"), bad, event("b")], [event("c")]])

    code, report = sync(spool, fresh_server.url)
    assert code == 1, "sync must not exit 0 while an event is quarantined"
    assert report == {
        "sent_segments": 2,
        "sent_events": 3,
        "remaining": 0,
        "rejected": 1,
        "quarantined": 1,
    }
    assert sorted(stored_jobs(fresh_server)) == ["a", "b", "c"]

    code, listed = sync(spool, fresh_server.url, "--rejected")
    assert code == 1
    [entry] = listed["quarantined"]
    assert entry["status"] == 400
    assert "runId" in entry["reason"]
    assert entry["job"] == "quarantine/valid"

    # Resent as it is, the server refuses it again: it stays, with the reason, and so does exit 1.
    code, report = sync(spool, fresh_server.url, "--rejected", "--resend")
    assert (code, report["quarantined"], report["rejected"]) == (1, 1, 1)


def test_resend_delivers_a_quarantined_event_the_server_now_takes(
    fresh_server: Server, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "spool")
    kept = event("fixed-on-the-server")
    spool.quarantine.add(json.dumps(kept).encode(), reason="HTTP 500: boom", status=500)
    code, report = sync(spool.folder, fresh_server.url, "--rejected", "--resend")
    assert (code, report["sent_events"], report["quarantined"]) == (0, 1, 0)
    assert stored_jobs(fresh_server) == ["fixed-on-the-server"]
    code, listed = sync(spool.folder, fresh_server.url, "--rejected")
    assert (code, listed) == (0, {"quarantined": []})


def test_an_event_the_server_keeps_failing_on_is_quarantined_after_max_attempts(
    fresh_server: Server, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spooled_while_down(spool, [[event("a"), event(POISON), event("b")], [event("c")]])
    with faulty_proxy(fresh_server.url, poison=POISON.encode()) as proxy:
        sink = HttpSink(proxy.url, spool_dir=spool, max_attempts=3, replay_in_background=False)
        for attempt in (1, 2):
            report = sink.replay()
            assert (report.remaining, report.quarantined) == (2, 0), f"attempt {attempt}"
            assert stored_jobs(fresh_server) == []
        report = sink.replay()
        sink.close(1.0)
    assert (report.remaining, report.rejected, report.quarantined) == (0, 1, 1)
    assert sorted(stored_jobs(fresh_server)) == ["a", "b", "c"]
    [kept] = Spool(spool).quarantine.entries()
    assert kept.status == 500
    assert "3 times" in kept.reason
    assert json.loads(kept.event)["job"]["name"] == POISON


def test_a_server_failing_on_everything_quarantines_nothing(
    fresh_server: Server, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    spooled_while_down(spool, [[event("a"), event("b")]])
    with faulty_proxy(fresh_server.url, poison=b"never-sent") as proxy:
        proxy.broken = True
        sink = HttpSink(proxy.url, spool_dir=spool, max_attempts=2, replay_in_background=False)
        for _ in range(4):
            report = sink.replay()
        assert (report.remaining, report.quarantined) == (1, 0)
        proxy.broken = False
        report = sink.replay()
        sink.close(1.0)
    assert (report.remaining, report.quarantined) == (0, 0)
    assert sorted(stored_jobs(fresh_server)) == ["a", "b"]


def test_a_failed_spool_write_leaves_no_temporary_and_says_what_was_not_written(
    tmp_path: Path,
) -> None:
    """A disk that takes no more bytes (here: a file size limit, the same ENOSPC-like failure)."""
    script = textwrap.dedent(
        f"""
        import resource, signal
        from threadline.capture.spool import Spool
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256, 256))
        try:
            Spool({str(tmp_path / "spool")!r}).append([{{"big": "x" * 10_000}}] * 3)
        except OSError as exc:
            print(exc)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert "3 lineage event(s) could not be spooled" in result.stdout, result.stderr
    assert sorted(p.name for p in (tmp_path / "spool").iterdir()) == []


def test_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    abandoned = folder / f"1-2-000001.ndjson.{dead.pid}.tmp"
    live = folder / f"1-2-000002.ndjson.{os.getppid()}.tmp"
    for path in (abandoned, live):
        path.write_bytes(b"{}\n")
    spool = Spool(folder)
    assert spool.removed_temporaries == 1
    assert not abandoned.exists()
    assert live.exists()
    assert spool.segments() == []
