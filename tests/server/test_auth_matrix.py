"""Access control with ``auth`` on: every operation of the OpenAPI document by each role by its own
or another namespace by with or without ``pii`` clearance, against a policy declared here (not
read from the code under test).

The tokens are made by the real ``threadline token create`` and checked by the real app on a
real SQLite store holding runs of two projects (``fraud``, ``crm``) and a PII-labelled dataset.
An operation the app gains without a line in :data:`POLICY` fails
:func:`test_every_operation_has_a_declared_policy`: nothing is reachable by accident.
"""

from __future__ import annotations

import contextlib
import gzip
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import orjson
import pytest
from fastapi.testclient import TestClient
from tests.support.graphs import BACKENDS, NS, ds, run_event
from tests.support.pg import fresh_database
from typer.testing import CliRunner

from threadline.cli import app as cli_app
from threadline.config import current, with_overrides
from threadline.server.app import create_app
from threadline.store import open_store

OWN, OTHER = "fraud", "crm"
ROLES = ("viewer", "producer", "steward", "admin")
Need = Literal["public", "path", "body", "run", "query", "answer", "everywhere"]


@dataclass(frozen=True)
class Expect:
    need: Need
    role: str = "viewer"


_VIEW_PATH = Expect("path")
_ANSWER = Expect("answer")
_EVERYWHERE = Expect("everywhere")
_TAGS = Expect("path", "steward")

#: What each operation needs, written from the issue's policy: public server facts; producers
#: post into their namespaces; viewers read their namespaces (answers spanning namespaces are
#: filtered, answers that cannot be split need a grant on every namespace); stewards tag.
POLICY: dict[tuple[str, str], Expect] = {
    ("GET", "/api/v1/health"): Expect("public"),
    ("GET", "/api/v1/checkpoint"): Expect("public"),
    ("POST", "/api/v1/lineage"): Expect("body", "producer"),
    ("POST", "/api/v1/lineage/batch"): Expect("body", "producer"),
    ("GET", "/api/v1/lineage"): _ANSWER,
    ("GET", "/api/v1/events"): _ANSWER,
    ("GET", "/api/v1/events/lineage"): _ANSWER,
    ("GET", "/api/v1/threadline/producers"): _EVERYWHERE,
    ("GET", "/api/v1/stream"): Expect("query"),
    ("GET", "/api/v1/namespaces"): _ANSWER,
    ("GET", "/api/v1/namespaces/{namespace}"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/datasets/{dataset}/versions/{version}"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/versions"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/versions/{version}"): _VIEW_PATH,
    ("GET", "/api/v1/namespaces/{namespace}/jobs/{job}/runs"): _VIEW_PATH,
    ("GET", "/api/v1/jobs/runs/{run_id}"): Expect("run"),
    ("GET", "/api/v1/jobs/runs/{run_id}/facets"): Expect("run"),
    ("GET", "/api/v1/sources"): _EVERYWHERE,
    ("GET", "/api/v1/sources/{source}"): _EVERYWHERE,
    ("GET", "/api/v1/search"): Expect("query"),
    ("GET", "/api/v1/column-lineage"): _ANSWER,
    ("GET", "/api/v1/runlineage/upstream"): Expect("run"),
    ("GET", "/api/v1/tags"): _ANSWER,
    ("GET", "/api/v1/threadline/trace"): _ANSWER,
    ("GET", "/api/v1/threadline/impact"): _ANSWER,
    ("GET", "/api/v1/threadline/show"): _ANSWER,
    ("GET", "/api/v1/threadline/diff"): _ANSWER,
    ("GET", "/api/v1/threadline/log"): _ANSWER,
    ("GET", "/api/v1/threadline/search"): Expect("query"),
    ("POST", "/api/v1/threadline/produced"): _ANSWER,
    ("GET", "/api/v1/threadline/health"): _EVERYWHERE,
    ("GET", "/api/v1/threadline/health/stream"): _EVERYWHERE,
    ("GET", "/api/v1/threadline/health/deliveries"): _EVERYWHERE,
    ("GET", "/api/v1/threadline/health/history"): _EVERYWHERE,
    **{
        (method, path): _TAGS
        for method in ("POST", "PUT", "DELETE")
        for path in (
            "/api/v1/namespaces/{namespace}/datasets/{dataset}/tags/{tag}",
            "/api/v1/namespaces/{namespace}/datasets/{dataset}/fields/{field}/tags/{tag}",
            "/api/v1/namespaces/{namespace}/jobs/{job}/tags/{tag}",
        )
    },
}

RUN_IDS = {OWN: str(uuid.uuid4()), OTHER: str(uuid.uuid4())}
PII_NAME = "/customers_pii.csv"


def seed_events() -> list[dict[str, Any]]:
    pii = ds(PII_NAME, "b3:c1", threadline_classification={"labels": ["pii"]})
    return [
        run_event(
            "train",
            RUN_IDS[OWN],
            [pii],
            [ds("/fraud_model.pkl", "b3:m1", "model")],
            when="2026-01-01T00:00:00Z",
            namespace=OWN,
        ),
        run_event(
            "export",
            RUN_IDS[OTHER],
            [ds("/crm_raw.csv", "b3:r1")],
            [ds("/crm_out.csv", "b3:o1")],
            when="2026-01-02T00:00:00Z",
            namespace=OTHER,
        ),
    ]


@dataclass
class Catalog:
    client: TestClient
    tokens: dict[str, str]
    store_url: str


def cli(store_url: str, *args: str) -> Any:
    result = CliRunner().invoke(cli_app, ["--store", store_url, *args])
    assert result.exit_code == 0, result.stderr
    return orjson.loads(result.stdout) if "--json" in args else result.stdout


@pytest.fixture(scope="module", params=BACKENDS)
def catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalog]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(fresh_database("tl_auth"))
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'lineage.db'}"
        yield from _catalog(url)


def _catalog(url: str) -> Iterator[Catalog]:
    store = open_store(url)
    store.append_batch(seed_events())
    store.close()
    tokens: dict[str, str] = {}
    for role in ROLES:
        for clearance in ((), ("pii",)):
            key = role + ("+pii" if clearance else "")
            extra = [a for c in clearance for a in ("--clearance", c)]
            made = cli(
                url,
                "token",
                "create",
                "--name",
                key,
                "--role",
                role,
                "--namespace",
                OWN,
                *extra,
                "--json",
            )
            tokens[key] = made["token"]
    tokens["viewer*"] = cli(
        url, "token", "create", "--name", "all", "--role", "viewer", "--namespace", "*", "--json"
    )["token"]
    tokens["revoked"] = cli(
        url, "token", "create", "--name", "gone", "--role", "admin", "--namespace", "*", "--json"
    )["token"]
    gone = next(t for t in cli(url, "token", "list", "--json")["tokens"] if t["name"] == "gone")
    cli(url, "token", "revoke", gone["id"])
    settings = with_overrides(current(), store_url=url, auth=True, health_every_seconds=0)
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        yield Catalog(client, tokens, url)


def test_every_operation_has_a_declared_policy(catalog: Catalog) -> None:
    spec = catalog.client.app.openapi()  # type: ignore[attr-defined]
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert operations - set(POLICY) == set(), "operations without a declared policy"
    assert set(POLICY) - operations == set(), "policy lines for operations that do not exist"


def _fill(template: str, namespace: str) -> str:
    values = {
        "namespace": namespace,
        "dataset": quote(f"{NS}/x.csv", safe=""),
        "job": "train",
        "version": str(uuid.uuid4()),
        "run_id": RUN_IDS[namespace],
        "tag": "pii",
        "field": "id",
        "source": "file",
    }
    path = template
    for key, value in values.items():
        path = path.replace("{" + key + "}", value)
    return path


def _event_in(namespace: str) -> bytes:
    return orjson.dumps(
        run_event(
            "late",
            str(uuid.uuid4()),
            [],
            [ds("/late.csv", "b3:l1")],
            when="2026-01-03T00:00:00Z",
            namespace=namespace,
        )
    )


def send(client: TestClient, method: str, template: str, namespace: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    path = _fill(template, namespace)
    params: dict[str, str] = {"namespace": namespace}
    if template == "/api/v1/runlineage/upstream":
        params["runId"] = RUN_IDS[namespace]
    content = None
    if template == "/api/v1/lineage":
        content, headers["Content-Type"] = _event_in(namespace), "application/json"
    elif template == "/api/v1/lineage/batch":
        content, headers["Content-Type"] = _event_in(namespace) + b"\n", "application/x-ndjson"
    elif method in ("POST", "PUT"):
        content, headers["Content-Type"] = b"{}", "application/json"
    if template.endswith("/stream"):
        with client.stream(method, path, params=params, headers=headers) as response:
            return response.status_code
    return client.request(method, path, params=params, headers=headers, content=content).status_code


def expected_allowed(expect: Expect, key: str, namespace: str) -> bool:
    if expect.need == "public":
        return True
    if key in ("none", "revoked"):
        return False
    held_role = key.split("+")[0].rstrip("*")
    everywhere = key.endswith("*")
    strong_enough = ROLES.index(held_role) >= ROLES.index(expect.role)
    if expect.need == "answer":
        return strong_enough
    if expect.need == "everywhere":
        return strong_enough and everywhere
    return strong_enough and (everywhere or namespace == OWN)


IDENTITIES = ("none", "revoked", *[r + s for r in ROLES for s in ("", "+pii")], "viewer*")


@pytest.mark.parametrize("operation", sorted(POLICY), ids=lambda op: f"{op[0]} {op[1]}")
def test_authorization_matrix(catalog: Catalog, operation: tuple[str, str]) -> None:
    method, template = operation
    wrong: list[str] = []
    for key in IDENTITIES:
        for namespace in (OWN, OTHER):
            token = None if key == "none" else catalog.tokens[key]
            status = send(catalog.client, method, template, namespace, token)
            allowed = expected_allowed(POLICY[operation], key, namespace)
            if status >= 500:
                wrong.append(f"{key} on {namespace}: {status} (a server error)")
            elif allowed and status in (401, 403):
                wrong.append(f"{key} on {namespace}: {status}, expected allowed")
            elif not allowed:
                want = 401 if key in ("none", "revoked") else 403
                if status != want:
                    wrong.append(f"{key} on {namespace}: {status}, expected {want}")
    assert wrong == []


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "gzip members"])
def test_a_compressed_batch_writes_only_where_its_sender_may(
    catalog: Catalog, encoding: str
) -> None:
    """The guard reads a compressed body exactly as the handler will (every gzip member,
    every encoding the handler takes): no event gets past it to another namespace."""
    own, other = _event_in(OWN), _event_in(OTHER)

    def packed(*events: bytes) -> tuple[bytes, str]:
        text = b"\n".join(events)
        if encoding == "deflate":
            return zlib.compress(text), "deflate"
        if encoding == "gzip members":  # the other namespace's event in a second member
            return b"".join(gzip.compress(e + b"\n") for e in events), "gzip"
        return gzip.compress(text), encoding

    def post(body: bytes, header: str) -> int:
        headers = {
            "Authorization": f"Bearer {catalog.tokens['producer']}",
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": header,
        }
        response = catalog.client.post("/api/v1/lineage/batch", content=body, headers=headers)
        return response.status_code

    assert post(*packed(own, other)) == 403
    assert post(*packed(own, _event_in(OWN))) == 201


# --- redaction: hidden names, honest counts -------------------------------------------------------


def _get(catalog: Catalog, key: str, path: str, **params: str) -> Any:
    response = catalog.client.get(
        path, params=params, headers={"Authorization": f"Bearer {catalog.tokens[key]}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("question", ["trace", "impact"])
def test_pii_is_a_stub_without_clearance_and_counts_stay_honest(
    catalog: Catalog, question: str
) -> None:
    ref = f"dataset:{NS}/fraud_model.pkl" if question == "trace" else f"dataset:{NS}{PII_NAME}"
    cleared = _get(catalog, "viewer+pii", f"/api/v1/threadline/{question}", id=ref)
    hidden = _get(catalog, "viewer", f"/api/v1/threadline/{question}", id=ref)
    assert PII_NAME in {n["name"] for n in cleared["nodes"]}
    assert len(hidden["nodes"]) == len(cleared["nodes"])
    assert len(hidden["edges"]) == len(cleared["edges"])
    text = orjson.dumps(hidden).decode()
    assert PII_NAME not in text
    stubs = [n for n in hidden["nodes"] if n.get("redacted")]
    assert len(stubs) == 1
    assert stubs[0]["name"] == "[redacted]"
    assert stubs[0]["kind"] == "dataset"
    # The stub keeps its place in the graph: edges still reach it.
    assert any(stubs[0]["id"] in (e["from"], e["to"]) for e in hidden["edges"])


def test_search_and_the_raw_log_hide_what_the_caller_may_not_see(catalog: Catalog) -> None:
    found = _get(catalog, "viewer", "/api/v1/threadline/search", text="customers")
    assert PII_NAME not in orjson.dumps(found).decode()
    found = _get(catalog, "viewer+pii", "/api/v1/threadline/search", text="customers")
    assert PII_NAME in orjson.dumps(found).decode()
    # Another project's runs are not in a fraud viewer's log.
    log = orjson.dumps(_get(catalog, "viewer", "/api/v1/events")).decode()
    assert RUN_IDS[OWN] in log
    assert RUN_IDS[OTHER] not in log
    log = orjson.dumps(_get(catalog, "viewer*", "/api/v1/events")).decode()
    assert RUN_IDS[OTHER] in log


# --- transport: Host, Origin, content type ---------------------------------------------------------


def test_transport_checks(catalog: Catalog) -> None:
    client, token = catalog.client, catalog.tokens["producer"]
    auth = {"Authorization": f"Bearer {token}"}
    # DNS rebinding: a foreign Host is not answered.
    assert client.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 421
    # A CORS-simple text/plain POST is refused before anything is parsed.
    answer = client.post(
        "/api/v1/lineage", content=_event_in(OWN), headers={**auth, "Content-Type": "text/plain"}
    )
    assert answer.status_code == 415
    # Cross-origin writes are refused unless the origin is configured.
    answer = client.post(
        "/api/v1/lineage",
        content=_event_in(OWN),
        headers={**auth, "Content-Type": "application/json", "Origin": "https://evil.example"},
    )
    assert answer.status_code == 403
    answer = client.post(
        "/api/v1/lineage",
        content=_event_in(OWN),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 201


def _access_log(store_url: str) -> list[dict[str, Any]]:
    """The access log's records, read back from the exported OpenLineage log."""
    exported = CliRunner().invoke(cli_app, ["--store", store_url, "export"])
    assert exported.exit_code == 0, exported.stderr
    events = [orjson.loads(line) for line in exported.stdout.splitlines() if line.strip()]
    return [e for e in events if e.get("job", {}).get("namespace") == "threadline.auth"]


def test_denials_and_token_changes_are_in_the_verified_log(catalog: Catalog) -> None:
    denied = catalog.client.get(
        "/api/v1/namespaces/crm", headers={"Authorization": f"Bearer {catalog.tokens['viewer']}"}
    )
    assert denied.status_code == 403
    deadline = time.monotonic() + 10
    while True:
        records = orjson.dumps(_access_log(catalog.store_url)).decode()
        if "/api/v1/namespaces/crm" in records or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert "/api/v1/namespaces/crm" in records  # the denied request, with its path
    assert "token.create" in records
    assert "token.revoke" in records
    for token in catalog.tokens.values():
        assert token not in records
    result = CliRunner().invoke(cli_app, ["--store", catalog.store_url, "verify"])
    assert result.exit_code == 0, result.stdout + result.stderr


def test_transport_checks_hold_with_auth_off_too(tmp_path: Path) -> None:
    settings = with_overrides(
        current(),
        store_url=f"sqlite:///{tmp_path / 'open.db'}",
        auth=False,
        health_every_seconds=0,
        allowed_origins=("https://lineage.example",),
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        assert client.get("/api/v1/health", headers={"Host": "evil.example"}).status_code == 421
        plain = {"Content-Type": "text/plain"}
        assert (
            client.post("/api/v1/lineage", content=_event_in(OWN), headers=plain).status_code == 415
        )
        json_type = {"Content-Type": "application/json"}
        foreign = {**json_type, "Origin": "https://evil.example"}
        assert (
            client.post("/api/v1/lineage", content=_event_in(OWN), headers=foreign).status_code
            == 403
        )
        # The configured origin is let through, and told so (CORS).
        mine = {**json_type, "Origin": "https://lineage.example"}
        answer = client.post("/api/v1/lineage", content=_event_in(OWN), headers=mine)
        assert answer.status_code == 201
        assert answer.headers["access-control-allow-origin"] == "https://lineage.example"
