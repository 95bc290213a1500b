"""Browser tests of the web UI: Playwright driving Debian's Chromium (``/usr/bin/chromium``,
installed by ``make test``; never a downloaded browser) against a real ``threadline serve``.

Screenshots of every page a test visits land in ``.test-artifacts/webui/`` (or
``$THREADLINE_TEST_ARTIFACTS``), for people to look at when a test fails or a page changes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.graphs import build_store
from tests.support.live import Server, start_server
from threadline.server.ui import built

CHROMIUM = os.environ.get("THREADLINE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("THREADLINE_TEST_ARTIFACTS", ".test-artifacts")) / "webui"

playwright_api = pytest.importorskip("playwright.sync_api")


def _require(condition: bool, why: str) -> None:
    # In CI a missing browser or build is a failure, not a skip: the UI would go untested.
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require(
        shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file(),
        f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)",
    )
    _require(built(), "the web UI is not built (make ui)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def pipeline_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server on the hand-built pipeline of :mod:`tests.support.graphs` (known answers)."""
    tmp = tmp_path_factory.mktemp("webui")
    build_store(tmp / "lineage.db").close()
    server = start_server(
        tmp, store=str(tmp / "lineage.db"), env={"THREADLINE_HEALTH_EVERY_SECONDS": "1"}
    )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser tab; page errors fail the test; a screenshot is kept at the end."""
    context = browser.new_context(viewport={"width": 1300, "height": 950})  # type: ignore[attr-defined]
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
        try:
            tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()
    assert not errors, f"errors in the page: {errors}"
