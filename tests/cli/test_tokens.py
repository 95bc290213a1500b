"""``threadline token create|list|revoke`` and ``serve``'s refusal to listen openly without auth,
through the real CLI on a real SQLite store (and a real server for the revocation)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from threadline.cli import app
from threadline.config import current, with_overrides
from threadline.server.app import create_app


def invoke(store: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--store", store, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'lineage.db'}"


def test_create_prints_the_token_once_and_stores_only_its_hash(store: str, tmp_path: Path) -> None:
    code, out, err = invoke(
        store, "token", "create", "--name", "ci", "--role", "producer", "--namespace", "fraud"
    )
    assert code == 0, err
    token = out.strip()
    assert token.startswith("tl_")
    assert "shown once" in err
    code, out, _ = invoke(
        store,
        "token",
        "create",
        "--name",
        "bot",
        "--role",
        "viewer",
        "--namespace",
        "*",
        "--clearance",
        "pii",
        "--json",
    )
    assert code == 0
    second = orjson.loads(out)["token"]
    code, out, _ = invoke(store, "token", "list", "--json")
    listed = orjson.loads(out)["tokens"]
    assert [(t["name"], t["role"], t["namespace"], t["clearances"]) for t in listed] == [
        ("ci", "producer", "fraud", []),
        ("bot", "viewer", "*", ["pii"]),
    ]
    assert token not in out
    assert second not in out
    # Nowhere in the store file either: only hashes are kept.
    data = (tmp_path / "lineage.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("lineage.db-wal")
    )
    assert token.encode() not in data
    assert second.encode() not in data
    code, out, _ = invoke(store, "token", "list")
    assert code == 0
    assert "ci" in out
    assert "bot" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "owner", "--namespace", "fraud"], "role 'owner' is not one of"),
        (["--role", "viewer", "--namespace", "two words"], "is not a namespace"),
        (["--role", "viewer", "--namespace", " "], "is not a namespace"),
    ],
)
def test_bad_token_requests_are_refused(store: str, args: list[str], message: str) -> None:
    code, _, err = invoke(store, "token", "create", "--name", "x", *args)
    assert code == 2
    assert message in err
    code, out, _ = invoke(store, "token", "list", "--json")
    assert code != 0 or orjson.loads(out)["tokens"] == []  # nothing half-made


def test_revoked_tokens_are_refused_and_verify_passes(store: str) -> None:
    _, out, _ = invoke(
        store,
        "token",
        "create",
        "--name",
        "ci",
        "--role",
        "viewer",
        "--namespace",
        "fraud",
        "--json",
    )
    token = orjson.loads(out)["token"]
    settings = with_overrides(current(), store_url=store, auth=True, health_every_seconds=0)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        headers = {"Authorization": f"Bearer {token}"}
        # Let in (the namespace has nothing yet: 404, not 401 or 403).
        assert client.get("/api/v1/namespaces/fraud", headers=headers).status_code == 404
        _, out, _ = invoke(store, "token", "list", "--json")
        token_id = orjson.loads(out)["tokens"][0]["id"]
        code, out, err = invoke(store, "token", "revoke", token_id, "--json")
        assert code == 0, err
        assert orjson.loads(out) == {"revoked": token_id, "already": False}
        deadline = 50
        while client.get("/api/v1/namespaces/fraud", headers=headers).status_code != 401:
            deadline -= 1
            assert deadline > 0, "the revoked token was still accepted after 5 s"
            time.sleep(0.1)
    code, out, _ = invoke(store, "token", "revoke", token_id, "--json")
    assert orjson.loads(out)["already"] is True
    code, _, err = invoke(store, "token", "revoke", "tok_nothing")
    assert code == 3, err
    code, out, err = invoke(store, "verify")
    assert code == 0, out + err


def test_serve_refuses_an_open_host_without_auth(store: str) -> None:
    command = [sys.executable, "-m", "threadline", "--store", store, "serve", "--host", "0.0.0.0"]
    done = subprocess.run([*command, "--port", "0"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--insecure" in done.stderr
    assert "auth" in done.stderr


def test_serve_insecure_listens_openly_with_a_warning(store: str, tmp_path: Path) -> None:
    import httpx
    from tests.support.live import free_port

    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threadline",
                "--store",
                store,
                "serve",
                "--host",
                "0.0.0.0",
                "--insecure",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text()
    assert "warning: serving 0.0.0.0 without auth (--insecure)" in text
