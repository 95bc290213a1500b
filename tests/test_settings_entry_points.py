"""Every entry point finds the store through the one settings resolution.

The store is named only in ``threadline.toml`` (no ``THREADLINE_*`` variable, no option): the
Python API, ``threadline run --``, the CLI's read commands, ``threadline.open_store()`` and the
server must all write to and read from that one store, and none may create the default
``.threadline/lineage.db``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

import threadline
from tests.support.events import event
from tests.support.live import free_port
from threadline.config import resolve

PYTHON = sys.executable
THREADLINE = str(Path(PYTHON).with_name("threadline"))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "project"
    root.mkdir()
    (root / "threadline.toml").write_text('store = "elsewhere/l.db"\nnamespace = "settings-test"\n')
    for name in [k for k in os.environ if k.startswith("THREADLINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(root)
    yield root
    assert not (root / ".threadline" / "lineage.db").exists(), "the default store was created"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def test_the_settings_file_names_the_store(project: Path) -> None:
    settings = resolve(environ={}, cwd=project)
    assert settings.store_url == "sqlite:///" + str(project / "elsewhere" / "l.db")


def test_every_entry_point_uses_the_store_from_the_settings_file(project: Path) -> None:
    store_file = project / "elsewhere" / "l.db"
    (project / "raw.csv").write_text("a,b\n1,2\n3,4\n")

    # 1. The Python API, in its own process (the emitter resolves settings there).
    api_script = textwrap.dedent(
        """
        import threadline
        with threadline.run("api-job") as run:
            run.read("raw.csv")
            run.wrote("api-out.txt")
        """
    )
    (project / "api-out.txt").write_text("written by the API job\n")
    _run([PYTHON, "-c", api_script], project)

    # 2. threadline run -- python script.py (launcher, supervisor and child).
    (project / "copy.py").write_text(
        "import pandas as pd\npd.read_csv('raw.csv').to_csv('copied.csv', index=False)\n"
    )
    _run([THREADLINE, "run", "--", PYTHON, "copy.py"], project)

    assert store_file.exists()

    # 3. The CLI's read commands open the same store.
    log = orjson.loads(_run([THREADLINE, "log", "--json"], project).stdout)
    text = orjson.dumps(log).decode()
    assert "api-job" in text
    assert "copy.py" in text
    _run([THREADLINE, "verify"], project)
    shown = _run([THREADLINE, "show", "copied.csv", "--json"], project).stdout
    assert "copied.csv" in shown
    traced = _run([THREADLINE, "trace", "copied.csv", "--json"], project).stdout
    assert "raw.csv" in traced
    found = _run([THREADLINE, "search", "api-out", "--json"], project).stdout
    assert "api-out.txt" in found
    exported = _run([THREADLINE, "export", "--format", "openlineage"], project).stdout
    assert "api-job" in exported

    # 4. threadline.open_store() with no argument.
    with threadline.open_store() as store:
        assert store.url == "sqlite:///" + str(store_file)
        assert store.counts()["events"] >= 4

    # 5. The server, built with the process's resolved settings.
    from fastapi.testclient import TestClient

    from threadline.server.app import create_app

    with TestClient(create_app(), base_url="http://127.0.0.1") as http:
        namespaces = http.get("/api/v1/namespaces").json()["namespaces"]
        assert "settings-test" in {ns["name"] for ns in namespaces}


def test_threadline_serve_takes_its_store_and_port_from_the_settings_file(project: Path) -> None:
    """``threadline serve`` with no option: store, host and port all come from the file."""
    port = free_port()
    with (project / "threadline.toml").open("a") as handle:
        handle.write(f'host = "127.0.0.1"\nport = {port}\n')
    log = project / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [THREADLINE, "serve", "--log-level", "warning"],
            cwd=project,
            env=_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if httpx.get(url + "/api/v1/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        posted = httpx.post(url + "/api/v1/lineage", json=event(1, job="served"), timeout=30)
        assert posted.status_code == 201, posted.text
        assert httpx.get(url + "/api/v1/namespaces/test/jobs/served", timeout=30).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    with threadline.open_store(project / "elsewhere" / "l.db") as store:
        assert store.counts()["events"] == 1
