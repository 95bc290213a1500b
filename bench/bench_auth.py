"""What access control costs a trace: the same questions with auth off, and with auth on for a
viewer without ``pii`` clearance (every PII-labelled node in the answer redacted to a stub) and
one with it.

The store is a chain of ``BENCH_RUNS`` runs in one namespace (run i reads the outputs of runs
i-1 and i-2 and one raw file; every fifth raw file is labelled ``pii``), so a trace from the
last output answers a few hundred nodes, a fifth of the raw files among them redacted.  Each
variant is a real app (``create_app``) on the same SQLite file, asked through Starlette's test
client (no sockets: the figures are the server's own work); the variants are interleaved,
``BENCH_ROUNDS`` rounds of ``BENCH_REPEATS`` traces each, medians compared.  Target (issue 12):
redaction overhead at most 10 %.

Run: ``python bench/bench_auth.py``
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from threadline.cli import app as cli_app
from threadline.config import current, with_overrides
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.server.app import create_app
from threadline.store import open_store

RUNS = int(os.environ.get("BENCH_RUNS", "150"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "10"))
TARGET = 0.10
NS = "file://bench"


def dataset(name: str, version: str, pii: bool = False) -> dict[str, Any]:
    facets: dict[str, Any] = {"version": {"datasetVersion": version}}
    if pii:
        facets["threadline_classification"] = {"labels": ["pii"]}
    return {"namespace": NS, "name": name, "facets": facets}


def events() -> list[dict[str, Any]]:
    made = []
    for i in range(RUNS):
        inputs = [dataset(f"/raw/{i}.csv", f"b3:r{i}", pii=i % 5 == 0)]
        inputs += [dataset(f"/step/{j}.parquet", f"b3:s{j}") for j in (i - 1, i - 2) if j >= 0]
        made.append(
            {
                "eventType": "COMPLETE",
                "eventTime": f"2026-01-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
                "producer": PRODUCER,
                "schemaURL": SCHEMA_URL,
                "run": {"runId": str(uuid.uuid4())},
                "job": {"namespace": "bench", "name": f"step_{i}"},
                "inputs": inputs,
                "outputs": [dataset(f"/step/{i}.parquet", f"b3:s{i}")],
            }
        )
    return made


def token(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli_app, ["--store", url, "token", "create", *args])
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip()


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="threadline-bench-auth-"))
    url = f"sqlite:///{folder / 'lineage.db'}"
    store = open_store(url)
    store.append_batch(events())
    store.close()
    viewer = token(url, "--name", "v", "--role", "viewer", "--namespace", "bench")
    cleared = token(
        url, "--name", "c", "--role", "viewer", "--namespace", "bench", "--clearance", "pii"
    )
    base = with_overrides(current(), store_url=url, health_every_seconds=0)
    target = {"id": f"dataset:{NS}/step/{RUNS - 1}.parquet", "limit": "100000"}
    variants = {
        "auth off": (with_overrides(base, auth=False), None),
        "auth on, viewer with pii clearance": (with_overrides(base, auth=True), cleared),
        "auth on, viewer, PII redacted": (with_overrides(base, auth=True), viewer),
    }
    clients = {
        name: (TestClient(create_app(settings), base_url="http://127.0.0.1"), secret)
        for name, (settings, secret) in variants.items()
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    sizes: dict[str, tuple[int, int]] = {}
    try:
        for client, _ in clients.values():
            client.__enter__()
        for _ in range(ROUNDS):
            for name, (client, secret) in clients.items():
                headers = {"Authorization": f"Bearer {secret}"} if secret else {}
                for _ in range(REPEATS):
                    started = time.perf_counter()
                    answer = client.get("/api/v1/threadline/trace", params=target, headers=headers)
                    times[name].append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                body = answer.json()
                stubs = sum(1 for n in body["nodes"] if n.get("redacted"))
                sizes[name] = (len(body["nodes"]), stubs)
    finally:
        for client, _ in clients.values():
            client.__exit__(None, None, None)
    reference = statistics.median(times["auth off"])
    print(f"trace through the API, {RUNS} runs deep, {ROUNDS}x{REPEATS} interleaved per variant")
    for name, values in times.items():
        median = statistics.median(values)
        nodes, stubs = sizes[name]
        ratio = median / reference
        print(
            f"  {name:<36} {median:7.2f} ms median  ({nodes} nodes, {stubs} redacted)  "
            f"x{ratio:.3f} of auth off"
        )
    overhead = statistics.median(times["auth on, viewer, PII redacted"]) / reference - 1
    verdict = "met" if overhead <= TARGET else "MISSED"
    print(f"  redaction overhead: {overhead:+.1%} (target <= {TARGET:.0%}: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
