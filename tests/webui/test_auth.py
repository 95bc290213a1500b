"""The web UI with ``serve --auth``: the page asks for a token when the API wants one, and
nodes hidden from the reader appear as redacted stubs, their edges kept."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from tests.support.graphs import NS, build_store
from tests.support.live import Server, start_server

pytestmark = pytest.mark.slow


def token(store: Path, *args: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "threadline",
            "--store",
            str(store),
            "token",
            "create",
            *args,
            "--json",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    value: str = orjson.loads(out)["token"]
    return value


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    tmp = tmp_path_factory.mktemp("webui-auth")
    store = tmp / "lineage.db"
    build_store(store).close()
    plain = token(store, "--name", "reader", "--role", "viewer", "--namespace", "*")
    cleared = token(
        store, "--name", "officer", "--role", "viewer", "--namespace", "*", "--clearance", "pii"
    )
    server = start_server(tmp, "--auth", store=str(store))
    try:
        yield server, plain, cleared
    finally:
        server.stop()


def open_with_token(page: Any, server: Server, secret: str) -> None:
    page.goto(f"{server.url}/ui/node?{urlencode({'id': f'model:{NS}/model_a', 'depth': '3'})}")
    page.wait_for_selector("main[aria-busy=false]")
    # The API said 401: the page shows the token form and the error.
    assert page.locator("#token-form").is_visible()
    assert "401" in page.get_by_role("alert").first.inner_text()
    page.fill("#token-form input[name=token]", secret)
    page.locator("#token-form button").click()
    page.wait_for_selector(".outline-list li", timeout=15_000)
    page.wait_for_selector("main[aria-busy=false]")


def test_a_reader_without_clearance_sees_pii_nodes_as_redacted_stubs(
    page: Any, guarded: tuple[Server, str, str]
) -> None:
    server, plain, _ = guarded
    open_with_token(page, server, plain)
    names = page.locator(".outline-list li .name").all_inner_texts()
    assert "[redacted]" in names  # /raw_a is labelled pii
    assert "/raw_a" not in names
    assert "/raw_b" in names
    redacted = page.locator(".outline-list li.redacted")
    assert redacted.count() == 1
    # The stub keeps its kind and its edge, so the counts stay honest.
    assert redacted.first.get_attribute("data-kind") == "dataset"
    assert "/raw_a" not in page.content()


def test_a_reader_with_pii_clearance_sees_the_names(
    page: Any, guarded: tuple[Server, str, str]
) -> None:
    server, _, cleared = guarded
    open_with_token(page, server, cleared)
    names = page.locator(".outline-list li .name").all_inner_texts()
    assert "/raw_a" in names
    assert "[redacted]" not in names
