"""threadline verify: a clean log passes; an edited one exits 5 naming the first bad record."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import orjson
from tests.support.graphs import execute
from typer.testing import CliRunner

from threadline.cli import app
from threadline.cli.store import report_dict
from threadline.errors import IntegrityError
from threadline.integrity.chain import ChainBreak, ChainReport
from threadline.store.base import Cursor
from threadline.store.sql import SqlStore


def test_verify_a_clean_log(store: SqlStore) -> None:
    result = CliRunner().invoke(app, ["--store", store.url, "verify"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("✓ verified 13 records; chain head ")
    result = CliRunner().invoke(app, ["--store", store.url, "verify", "--json"])
    body = orjson.loads(result.stdout)
    assert body["ok"] is True
    assert body["records"] == 13
    assert body["first_bad"] is None
    assert len(body["head"]) == 64


def test_verify_names_the_first_edited_record(store: SqlStore) -> None:
    # Edit one recorded event in place: the chain must name it.
    execute(
        store,
        "UPDATE tl_events SET body = :body WHERE seq = 5",
        body=store.read_after(Cursor(4), limit=1)[0].body.replace(b'"bo"', b'"eve"'),
    )
    result = CliRunner().invoke(app, ["--store", store.url, "verify"])
    assert result.exit_code == IntegrityError.exit_code == 5
    assert "✗ verification failed at record 5" in result.stdout
    assert result.stderr.startswith("error: the log fails verification at record 5: ")
    result = CliRunner().invoke(app, ["--store", store.url, "verify", "--json"])
    assert result.exit_code == 5
    report = orjson.loads(result.stdout)
    assert (report["ok"], report["first_bad"], report["records"]) == (False, 5, 4)


def test_report_dict_accepts_every_report_shape() -> None:
    broken = ChainReport(3, b"\x01" * 32, ChainBreak(4, "hash does not match"))
    assert report_dict(broken) == {
        "ok": False,
        "records": 3,
        "head": "01" * 32,
        "first_bad": 4,
        "reason": "hash does not match",
    }

    class Richer:
        """A store.verify() report with its own to_dict (e.g. with checkpoints)."""

        records = 9
        head = b"\x02" * 32
        first_break = None

        def to_dict(self) -> dict[str, object]:
            return {"records": 9, "head": "02" * 32, "checkpoints": 2}

    assert report_dict(Richer()) == {
        "records": 9,
        "head": "02" * 32,
        "checkpoints": 2,
        "ok": True,
        "first_bad": None,
        "reason": None,
    }


def test_import_prints_a_readable_summary(store: SqlStore, tmp_path: Path) -> None:
    exported = tmp_path / "events.ndjson"
    result = CliRunner().invoke(app, ["--store", store.url, "export", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    fresh = str(tmp_path / "fresh.db")
    first = CliRunner().invoke(app, ["--store", fresh, "import", str(exported)])
    assert first.exit_code == 0, first.output
    assert re.fullmatch(
        rf"✓ imported 13 events from {re.escape(str(exported))} in \d+\.\d s: "
        r"13 new, 0 already stored\n",
        first.stdout,
    )
    again = CliRunner().invoke(app, ["--store", fresh, "import", str(exported)])
    assert again.stdout.endswith(": nothing new, every one was already stored\n")
    counts = CliRunner().invoke(app, ["--store", fresh, "import", str(exported), "--json"])
    assert orjson.loads(counts.stdout) == {"read": 13, "appended": 0, "duplicates": 13}


def test_import_shows_its_progress_bar_on_a_terminal(store: SqlStore, tmp_path: Path) -> None:
    exported = tmp_path / "events.ndjson"
    CliRunner().invoke(app, ["--store", store.url, "export", "-o", str(exported)])
    fresh = tmp_path / "fresh.db"
    command = [sys.executable, "-m", "threadline", "--store", str(fresh), "import", str(exported)]
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    with subprocess.Popen(
        command, stdin=secondary, stdout=secondary, stderr=secondary, env={**env, "TERM": "xterm"}
    ) as child:
        os.close(secondary)
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert child.wait(timeout=60) == 0
    os.close(primary)
    text = seen.decode(errors="replace")
    assert "importing 13 events" in text
    assert "━" in text  # the bar
    assert "✓ imported 13 events" in text
