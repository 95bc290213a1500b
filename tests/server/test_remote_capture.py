"""Remote capture end to end: real scripts under ``threadline run`` (and ``autocapture()``)
shipping their lineage to a real ``threadline serve`` process, and the spool while it is down.

Every command runs as a user runs it (``python -m threadline …`` in its own process, in a
scratch folder); assertions read the server's own store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.support.live import Server, free_port

from threadline.capture.http_sink import Spool
from threadline.store import open_store
from threadline.store.base import Cursor

MAKE_RAW = """
import pandas as pd

pd.DataFrame({"a": [1, 2, 3]}).to_csv("raw.csv", index=False)
"""

CLEAN = """
import pandas as pd

frame = pd.read_csv("raw.csv")
frame["b"] = frame["a"] * 2
frame.to_csv("clean.csv", index=False)
"""

AUTOCAPTURE = """
import pandas as pd
import threadline

threadline.autocapture("autocaptured")
pd.DataFrame({"x": [1.0, 2.0]}).to_csv("auto.csv", index=False)
"""


def stored_events(store: str) -> list[dict[str, Any]]:
    opened = open_store(store)
    try:
        return [json.loads(r.body) for r in opened.read_after(Cursor(0), 100_000)]
    finally:
        opened.close()


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str, tuple[str, ...], str | None]]:
    """(event type, job, outputs, stage) of each COMPLETE event, sorted."""
    out = []
    for event in events:
        if event["eventType"] != "COMPLETE":
            continue
        outputs = tuple(sorted(d["name"] for d in event.get("outputs", [])))
        stage = (event["job"].get("facets") or {}).get("threadline_stage", {}).get("stage")
        out.append((event["eventType"], event["job"]["name"], outputs, stage))
    return sorted(out)


def identities(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((e["run"]["runId"], e["eventType"]) for e in events)


def spooled_events(spool: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for segment in Spool(spool).segments()
        for line in segment.read_bytes().splitlines()
    ]


class Workdir:
    """A scratch project folder whose commands run with the environment a user would have."""

    def __init__(self, root: Path, url: str | None) -> None:
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
        # Were anything written locally it would land here; the tests check that nothing is.
        self.env["THREADLINE_STORE"] = str(root / "local.db")
        if url is not None:
            self.env["THREADLINE_URL"] = url

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(text)

    def threadline(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "threadline", *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def python(self, script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, script],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def test_a_run_lands_in_the_servers_store(fresh_server: Server, project: Path) -> None:
    work = Workdir(project, fresh_server.url)
    work.write("make_raw.py", MAKE_RAW)
    work.write("clean.py", CLEAN)

    made = work.threadline("run", "--", sys.executable, "make_raw.py")
    assert made.returncode == 0, made.stderr
    cleaned = work.threadline("run", "--", sys.executable, "clean.py")
    assert cleaned.returncode == 0, cleaned.stderr

    raw, clean = str(project / "raw.csv"), str(project / "clean.csv")
    assert summary(stored_events(fresh_server.store)) == [
        ("COMPLETE", "clean.py", (), "features"),
        # "features", not "ingestion": the server answered that raw.csv came from a run.
        ("COMPLETE", "clean.py/write:clean.csv", (clean,), "features"),
        ("COMPLETE", "make_raw.py", (), "ingestion"),
        ("COMPLETE", "make_raw.py/write:raw.csv", (raw,), "ingestion"),
    ]
    assert not (project / "local.db").exists()
    assert Spool(project / ".threadline" / "spool").segments() == []
    assert "spooled" not in made.stderr + cleaned.stderr


def test_the_url_option_sets_the_server_for_the_command(
    fresh_server: Server, project: Path
) -> None:
    work = Workdir(project, None)
    work.write("make_raw.py", MAKE_RAW)
    probe = "import os; print(os.environ['THREADLINE_URL'])"

    # `python -m threadline run` takes the fast path; a global option first goes through Typer.
    fast = work.threadline("run", "--url", fresh_server.url, "--", sys.executable, "make_raw.py")
    assert fast.returncode == 0, fast.stderr
    typer = work.threadline(
        "--store",
        str(project / "other.db"),
        "run",
        f"--url={fresh_server.url}/",
        "--",
        sys.executable,
        "-c",
        probe,
    )
    assert typer.returncode == 0, typer.stderr
    assert typer.stdout.strip() == fresh_server.url

    jobs = {e["job"]["name"] for e in stored_events(fresh_server.store)}
    assert jobs == {"make_raw.py", "make_raw.py/write:raw.csv", "python"}
    assert not (project / "local.db").exists()
    assert not (project / "other.db").exists()


@pytest.mark.parametrize("fast", [True, False])
def test_a_bad_url_is_refused_before_the_command_runs(project: Path, fast: bool) -> None:
    work = Workdir(project, None)
    marker = project / "ran"
    prefix = () if fast else ("--store", str(project / "x.db"))
    result = work.threadline(
        *prefix,
        "run",
        "--url",
        "localhost:8765",
        "--",
        sys.executable,
        "-c",
        f"open({str(marker)!r}, 'w')",
    )
    assert result.returncode == 2
    assert "--url 'localhost:8765' is not an http(s) URL" in result.stderr
    assert not marker.exists()


def test_with_the_server_down_the_run_succeeds_and_sync_delivers_exactly_once(
    server_factory: Callable[..., Server], project: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Workdir(project, url)
    work.write("make_raw.py", MAKE_RAW)
    work.write("clean.py", CLEAN)

    made = work.threadline("run", "--", sys.executable, "make_raw.py")
    cleaned = work.threadline("run", "--", sys.executable, "clean.py")
    assert made.returncode == 0, made.stderr
    assert cleaned.returncode == 0, cleaned.stderr
    assert (project / "clean.csv").exists()
    assert f"{url} is unreachable" in made.stderr
    assert "could not be written" not in made.stderr + cleaned.stderr
    spool = project / ".threadline" / "spool"
    spooled = spooled_events(spool)
    jobs = {e["job"]["name"] for e in spooled}
    assert jobs == {
        "make_raw.py",
        "make_raw.py/write:raw.csv",
        "clean.py",
        "clean.py/write:clean.csv",
    }
    assert not (project / "local.db").exists()

    server = server_factory(port=port)
    first = work.threadline("sync")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["sent_events"] == len(spooled)
    assert report["remaining"] == report["rejected"] == 0
    assert Spool(spool).segments() == []
    landed = stored_events(server.store)
    assert identities(landed) == identities(spooled)
    # Nobody could answer while the server was down, so raw.csv counted as raw input.
    assert ("COMPLETE", "clean.py/write:clean.csv", (str(project / "clean.csv"),), "ingestion") in (
        summary(landed)
    )

    again = work.threadline("sync")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {
        "sent_segments": 0,
        "sent_events": 0,
        "remaining": 0,
        "rejected": 0,
        "quarantined": 0,
    }
    assert stored_events(server.store) == landed


def test_autocapture_in_a_script_sends_to_the_server(fresh_server: Server, project: Path) -> None:
    work = Workdir(project, fresh_server.url)
    work.write("auto.py", AUTOCAPTURE)

    result = work.python("auto.py")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert summary(stored_events(fresh_server.store)) == [
        ("COMPLETE", "autocaptured", (), "ingestion"),
        ("COMPLETE", "autocaptured/write:auto.csv", (str(project / "auto.csv"),), "ingestion"),
    ]
    assert not (project / "local.db").exists()
    assert not (project / ".threadline").exists()

    # Reading what the first script wrote: the server says a run produced it, so the
    # script's stage is features, not ingestion; and nothing is printed.
    work.write(
        "auto_read.py",
        "import pandas as pd\nimport threadline\n\nthreadline.autocapture('reader')\n"
        "pd.read_csv('auto.csv').assign(y=1).to_csv('auto_out.csv', index=False)\n",
    )
    again = work.python("auto_read.py")
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    stages = {row[1]: row[3] for row in summary(stored_events(fresh_server.store))}
    assert stages["reader"] == "features"
