"""Resident memory of a long-lived ``threadline serve`` after four large NDJSON batches.

Starts ``threadline serve`` on a fresh SQLite store (a scheduled health check every
``BENCH_HEALTH_SECONDS``, 5 s by default, so checks run inside the load), posts four batches of
``BENCH_BATCH_EVENTS`` events (88,000 by default: ~59 MiB of NDJSON each, every event with its
own input and output dataset, the worst case for the id caches and the page cache) to
``POST /api/v1/lineage/batch``, and prints the server's RSS (with its children) after each batch
and again after ``BENCH_SETTLE`` seconds, next to the target (issue 11: under 300 MB) and to
the server's RSS before the load.

Run: ``python bench/bench_server_memory.py``
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

BATCHES = 4
EVENTS = int(os.environ.get("BENCH_BATCH_EVENTS", "88000"))
HEALTH_SECONDS = float(os.environ.get("BENCH_HEALTH_SECONDS", "5"))
SETTLE = float(os.environ.get("BENCH_SETTLE", "10"))
TARGET_MB = 300.0
SCHEMA_FACET = {
    "_producer": "https://github.com/threadline-dev/threadline/bench",
    "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
    "fields": [
        {"name": "id", "type": "INTEGER"},
        {"name": "amount", "type": "DECIMAL"},
        {"name": "note", "type": "VARCHAR"},
    ],
}


def resident_mb(pid: int) -> float:
    """RSS of ``pid`` and its direct children, in MB."""
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    total_kib = 0
    for each in [pid, *map(int, children.split())]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        total_kib += next(
            int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmRSS")
        )
    return total_kib / 1024


def batch_body(batch: int) -> bytes:
    lines = []
    for i in range(EVENTS):
        event = {
            "eventType": "COMPLETE",
            "eventTime": "2026-01-01T00:00:00.000Z",
            "run": {"runId": str(uuid.uuid4())},
            "job": {"namespace": "bench-memory", "name": f"job_{batch}_{i % 500}"},
            "producer": "https://github.com/threadline-dev/threadline/bench",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "inputs": [{"namespace": "s3://bucket", "name": f"raw/part_{batch}_{i}.parquet"}],
            "outputs": [
                {
                    "namespace": "s3://bucket",
                    "name": f"clean/part_{batch}_{i}.parquet",
                    "facets": {"schema": SCHEMA_FACET},
                }
            ],
        }
        lines.append(orjson.dumps(event))
    return b"\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="threadline-bench-memory-"))
    (root / "threadline.toml").write_text(
        f"[tool.threadline]\nhealth_every_seconds = {HEALTH_SECONDS}\n"
    )
    port = free_port()
    log = (root / "serve.log").open("wb")
    command = [sys.executable, "-m", "threadline", "serve", "--store", str(root / "lineage.db")]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise SystemExit(f"the server did not start; see {root / 'serve.log'}")
        before = resident_mb(server.pid)
        print(
            f"server memory, {BATCHES} batches of {EVENTS:,} events, health every {HEALTH_SECONDS} s"
        )
        print(f"  before the load: {before:.0f} MB")
        for batch in range(BATCHES):
            body = batch_body(batch)
            started = time.perf_counter()
            answer = httpx.post(
                f"{base}/api/v1/lineage/batch",
                content=body,
                headers={"Content-Type": "application/x-ndjson"},
                timeout=900,
            )
            took = time.perf_counter() - started
            if answer.status_code != 201:
                raise SystemExit(f"batch {batch}: {answer.status_code} {answer.text[:300]}")
            print(
                f"  batch {batch + 1}: {len(body) / 2**20:.1f} MiB in {took:.1f} s "
                f"({EVENTS / took:,.0f} events/s); RSS {resident_mb(server.pid):.0f} MB"
            )
            del body
        time.sleep(SETTLE)
        after = resident_mb(server.pid)
        verdict = "met" if after < TARGET_MB else "MISSED"
        print(
            f"  {SETTLE:.0f} s after the load: {after:.0f} MB (target < {TARGET_MB:.0f} MB: {verdict})"
        )
    finally:
        server.terminate()
        server.wait(60)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
