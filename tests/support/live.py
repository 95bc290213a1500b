"""Helpers of the server tests: a real ``threadline serve`` process on a free loopback port,
and the spec's example events.

The server runs exactly as a user starts it (``python -m threadline serve``); its output goes to
a log file that ``conftest`` prints when a test using it fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.data import OPENLINEAGE

SPEC = OPENLINEAGE
EXAMPLES = SPEC / "examples"
PRODUCER = "https://github.com/threadline-dev/threadline/tests"
RUN_EVENT_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """One running server process."""

    url: str
    store: str
    log: Path
    process: subprocess.Popen[bytes]
    clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=self.url, timeout=30.0, **kwargs)
        self.clients.append(client)
        return client

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        for client in self.clients:
            client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    tmp: Path,
    *extra: str,
    store: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Server:
    """Start ``threadline serve`` and wait until ``/api/v1/health`` answers."""
    store = store or str(tmp / "lineage.db")
    last_error = ""
    wanted = port
    for _attempt in range(3):  # a free port can be taken between the probe and the bind
        port = wanted or free_port()
        log = tmp / f"server-{port}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threadline",
                "serve",
                "--store",
                store,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                *extra,
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        handle.close()
        server = Server(f"http://127.0.0.1:{port}", store, log, process)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(server.url + "/api/v1/health", timeout=1.0).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        last_error = server.logs()
        server.stop()
    raise RuntimeError(f"the server did not start:\n{last_error}")


# --- example events -------------------------------------------------------------------------


def load_events(path: Path) -> list[dict[str, Any]]:
    """A JSON array or NDJSON file of events."""
    text = path.read_text()
    stripped = text.lstrip()
    if stripped.startswith("["):
        events: list[dict[str, Any]] = json.loads(text)
        return events
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def client_examples() -> list[Path]:
    return sorted((EXAMPLES / "client").glob("*.json"))


def dbt_streams() -> list[Path]:
    return sorted((EXAMPLES / "dbt").glob("*.json"))


def supply(events: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    """What the dbt integration sends in production and the test fixtures leave out.

    The fixtures are *expected* events of OpenLineage's own integration tests: they omit
    ``producer`` and ``schemaURL`` (required by the core schema), each facet's ``_producer`` and
    ``_schemaURL`` (required by ``BaseFacet``), hold the template ``{{ any(result) }}`` where
    the real run ids go, and keep ``null`` values (``errorMessage.stackTrace: null``, invalid
    under ErrorMessageRunFacet) that the client's serializer drops before sending.  This
    fills the first three in and drops the nulls; a run's id is derived from its stream and
    job, so a run's START and COMPLETE, and every child's parent facet, agree.
    """

    def run_id(job: dict[str, Any]) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stream}/{job['namespace']}/{job['name']}"))

    def stamp(facets: dict[str, Any] | None) -> None:
        for facet in (facets or {}).values():
            if isinstance(facet, dict):
                facet.setdefault("_producer", PRODUCER)
                facet.setdefault("_schemaURL", "https://openlineage.io/spec/facets/1-0-0/x.json")

    def without_nulls(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_nulls(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [without_nulls(v) for v in value if v is not None]
        return value

    out = []
    for original in events:
        event = without_nulls(original)
        event.setdefault("producer", PRODUCER)
        event.setdefault("schemaURL", RUN_EVENT_SCHEMA)
        event["run"]["runId"] = run_id(event["job"])
        parent = (event["run"].get("facets") or {}).get("parent")
        if isinstance(parent, dict):
            parent["run"]["runId"] = run_id(parent["job"])
        stamp(event["run"].get("facets"))
        stamp(event["job"].get("facets"))
        for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
            stamp(dataset.get("facets"))
            stamp(dataset.get("inputFacets"))
            stamp(dataset.get("outputFacets"))
        out.append(event)
    return out
