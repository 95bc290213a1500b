"""A full disk under the server's store and under the capture spool (a small tmpfs).

Needs permission to mount (root in the CI container); skipped, saying so, elsewhere.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, start_server

from threadline.capture.spool import Spool
from threadline.store import open_store
from threadline.store.base import Cursor


def event(padding: int = 2_000) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE",
        "eventTime": "2026-06-01T00:00:00Z",
        "run": {
            "runId": str(uuid.uuid4()),
            "facets": {
                "note": {
                    "_producer": PRODUCER,
                    "_schemaURL": "https://example.com/note.json",
                    "text": "x" * padding,
                }
            },
        },
        "job": {"namespace": "faults", "name": "full-disk"},
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def grow(mount: Path) -> None:
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True)


def test_a_full_disk_under_the_store_is_a_clear_error_and_loses_nothing(
    small_disk: Path, tmp_path: Path
) -> None:
    store = str(small_disk / "lineage.db")
    server = start_server(tmp_path, store=store)
    acknowledged: list[str] = []
    refused: list[httpx.Response] = []
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for _ in range(400):
                sent = event()
                answer = http.post("/api/v1/lineage", json=sent)
                if answer.status_code == 201:
                    acknowledged.append(sent["run"]["runId"])
                else:
                    refused.append(answer)
                    if len(refused) == 3:
                        break
            assert refused, "the disk never filled up"
            assert all(r.status_code in (503, 507) for r in refused), [r.text for r in refused]
            assert "full" in refused[0].json()["message"].lower(), refused[0].text
            assert "Traceback" not in server.logs()
            grow(small_disk)
            # Space is back: the same server takes events again.
            for _ in range(5):
                sent = event()
                assert http.post("/api/v1/lineage", json=sent).status_code == 201
                acknowledged.append(sent["run"]["runId"])
    finally:
        server.stop()
    with open_store(store) as opened:
        stored = [orjson.loads(r.body)["run"]["runId"] for r in opened.read_after(Cursor(0), 10**6)]
        assert opened.verify().ok
    assert set(acknowledged) <= set(stored)


def fill(spool: Spool, written: list[Path]) -> None:
    while True:
        written.append(spool.append([event(20_000) for _ in range(5)]))


def test_a_full_disk_under_the_spool_leaves_no_partial_segment(small_disk: Path) -> None:
    spool = Spool(small_disk / "spool")
    written: list[Path] = []
    with pytest.raises(OSError, match=r"5 lineage event\(s\) could not be spooled"):
        fill(spool, written)
    assert written
    assert not [p for p in os.listdir(spool.folder) if p.endswith(".tmp")]
    # Every segment left is whole: each line an event.
    assert spool.segments() == written
    for segment in written:
        assert all(orjson.loads(line) for line in Spool.read(segment).splitlines())
