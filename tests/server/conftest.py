"""Fixtures of the server tests: real server processes whose logs a failing test prints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.live import Server, start_server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        for server in item.funcargs.get("_servers_used", []) if hasattr(item, "funcargs") else []:
            report.sections.append((f"server log {server.url}", server.logs()))
    return report


@pytest.fixture
def _servers_used() -> list[Server]:
    """Servers whose logs a failing test should show."""
    return []


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server(module_server: Server, _servers_used: list[Server]) -> Server:
    """The module's server (shared by its tests: use fresh namespaces and run ids)."""
    _servers_used.append(module_server)
    return module_server


@pytest.fixture
def fresh_server(tmp_path: Path, _servers_used: list[Server]) -> Iterator[Server]:
    """A server of its own, on an empty store."""
    server = start_server(tmp_path)
    _servers_used.append(server)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_factory(tmp_path: Path, _servers_used: list[Server]) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def make(
        *extra: str,
        store: str | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> Server:
        server = start_server(tmp_path, *extra, store=store, env=env, port=port)
        started.append(server)
        _servers_used.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
