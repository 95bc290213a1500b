"""The web UI in a real browser: search, a node and its graph, expansion, as-of, a run, a
diff, the health dashboard, stable URLs, and redaction with auth on."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.support.events import uid
from tests.support.graphs import NS, day, ds, run_event
from tests.support.live import Server

pytestmark = pytest.mark.slow

TIMEOUT_MS = 15_000


def node_url(server: Server, name: str, **params: str) -> str:
    return f"{server.url}/ui/node?{urlencode({'id': f'dataset:{NS}{name}', **params})}"


def settled(page: Any) -> None:
    """The page has finished loading what it shows (the router marks ``main`` busy)."""
    page.wait_for_selector("main[aria-busy=false]", timeout=TIMEOUT_MS)


def outline_names(page: Any) -> list[str]:
    names: list[str] = page.locator(".outline-list li .name").all_inner_texts()
    return names


def test_root_redirects_to_the_search_page_which_finds_by_kind_and_label(
    page: Any, pipeline_server: Server
) -> None:
    page.goto(pipeline_server.url + "/")
    settled(page)
    assert page.url.endswith("/ui/")
    assert page.get_by_role("heading", name="Recent runs").is_visible()
    page.select_option("select[name=kind]", "model")
    page.get_by_role("button", name="Search").click()
    settled(page)
    assert "kind=model" in page.url
    names = page.locator("section[aria-label=Results] tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == ["/model_a", "/model_b", "/model_c"]
    # The URL is the state: pasting it elsewhere gives the same answer.
    page.goto(f"{pipeline_server.url}/ui/search?label=pii")
    settled(page)
    names = page.locator("section[aria-label=Results] tbody tr td:first-child").all_inner_texts()
    assert "/raw_a" in names
    assert "/model_c" not in names


def test_node_page_draws_the_graph_lists_it_in_the_outline_and_expands_on_click(
    page: Any, pipeline_server: Server
) -> None:
    page.goto(node_url(pipeline_server, "/model_a", depth="1"))
    settled(page)
    assert page.get_by_role("heading", level=1).inner_text() == "/model_a"
    canvas = page.locator(".graph-canvas")
    assert int(canvas.get_attribute("data-nodes")) >= 3
    assert page.locator(".graph-canvas canvas").count() > 0  # Cytoscape drew it
    names = outline_names(page)
    assert "/feat" in names
    assert "/model_a" in names
    assert "/clean" not in names  # one job hop each way only
    # Expanding /feat from the outline (keyboard users' path) brings in what made it.
    item = page.locator(".outline-list li", has=page.locator(".name", has_text="/feat"))
    item.get_by_role("button", name="Expand").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.outline-list .name')].some(e => e.textContent === '/clean')",
        timeout=TIMEOUT_MS,
    )
    assert "Expanded:" in page.locator(".graph-details").inner_text()
    # Versions, runs (with the reason recorded) and facets are on the page.
    runs = page.locator("section[aria-label=Runs]").inner_text()
    assert "baseline" in runs
    assert page.locator("section[aria-label=Versions] tbody tr").count() == 1


def test_clicking_a_drawn_node_selects_and_expands_it(page: Any, pipeline_server: Server) -> None:
    page.goto(node_url(pipeline_server, "/model_a", depth="1"))
    settled(page)
    before = len(outline_names(page))
    # A real mouse click on where Cytoscape drew /feat.
    box = page.locator(".graph-canvas").bounding_box()
    assert box is not None
    feat = page.evaluate(
        """() => {
          const items = [...document.querySelectorAll('.outline-list li')];
          return items.find(li => li.querySelector('.name')?.textContent === '/feat')?.dataset.id;
        }"""
    )
    point = page.evaluate(
        """(id) => {
          const cy = window.threadlineGraph;
          const node = cy.getElementById(id);
          const p = node.renderedPosition();
          return {x: p.x, y: p.y};
        }""",
        feat,
    )
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    page.wait_for_function(
        f"() => document.querySelectorAll('.outline-list li').length > {before}",
        timeout=TIMEOUT_MS,
    )
    assert "/feat" in page.locator(".graph-details h3").inner_text()
    assert "/clean" in outline_names(page)


def test_as_of_shows_the_graph_as_it_stood_then(page: Any, pipeline_server: Server) -> None:
    page.goto(node_url(pipeline_server, "/clean"))
    settled(page)
    facts = page.locator("dl.facts").first.inner_text()
    assert "b3:c2" in facts
    page.fill("input[name=as_of]", day(3))
    page.get_by_role("button", name="Apply").click()
    settled(page)
    assert "as_of=" in page.url
    assert "b3:c1" in page.locator("dl.facts").first.inner_text()
    names = outline_names(page)
    assert "/model_c" not in names  # trained on day 7
    page.get_by_role("button", name="Back to now").click()
    settled(page)
    assert "as_of" not in page.url


def test_run_page_shows_code_parameters_inputs_outputs_and_why(
    page: Any, pipeline_server: Server
) -> None:
    page.goto(f"{pipeline_server.url}/ui/run/{uid(3)}")
    settled(page)
    text = page.locator("main").inner_text()
    assert "baseline" in text
    assert "a" * 40 in page.locator("section[aria-label=Code]").inner_text()
    assert "0.1" in page.locator("section[aria-label=Parameters]").inner_text()
    assert "/feat" in page.locator("section[aria-label=Inputs]").inner_text()
    assert "/model_a" in page.locator("section[aria-label=Outputs]").inner_text()


def test_compare_two_models_from_the_node_page(page: Any, pipeline_server: Server) -> None:
    page.goto(node_url(pipeline_server, "/model_a").replace("dataset%3A", "model%3A"))
    settled(page)
    section = page.locator("section[aria-label=Compare]")
    option = section.locator("option", has_text="/model_b").get_attribute("value")
    section.locator("select").select_option(option)
    section.get_by_role("button", name="Compare").click()
    settled(page)
    assert "/ui/diff?" in page.url
    rows = page.locator("section[aria-label=Parameters] tbody tr")
    assert rows.count() == 1
    assert rows.first.locator("td").all_inner_texts() == ["C", "changed", "0.1", "1"]
    inputs = page.locator("section[aria-label=Inputs]").inner_text()
    assert "holidays" in inputs
    # The diff's URL opens the same comparison on its own.
    url = page.url
    page.goto(url)
    settled(page)
    assert page.locator("section[aria-label=Parameters] tbody tr").count() >= 1


def test_health_dashboard_counts_findings_and_draws_them_over_time(
    page: Any, pipeline_server: Server
) -> None:
    with httpx.Client(base_url=pipeline_server.url, timeout=30) as client:
        health_dashboard(page, pipeline_server, client)


def health_dashboard(page: Any, pipeline_server: Server, client: httpx.Client) -> None:
    wait_for_points(client, 1)
    # A model with no training data: a new finding, so the next scheduled check adds a point.
    orphan = run_event(
        "handmade", uid(900), [], [ds("/model_x", "b3:mx", "model")], when=day(8), execution="ex:x"
    )
    assert client.post("/api/v1/lineage", json=orphan).status_code in (200, 201)
    wait_for_points(client, 2)
    page.goto(f"{pipeline_server.url}/ui/health")
    settled(page)
    report = client.get("/api/v1/threadline/health").json()
    for severity in ("error", "warn", "info"):
        shown = page.locator(f".count[data-severity={severity}]").inner_text()
        assert shown == f"{report['counts'][severity]} {severity}"
    rows = page.locator("section[aria-label=Findings] tbody tr").count()
    assert rows == len(report["findings"]) > 0
    assert page.locator("svg.history-chart polyline").count() == 3
    assert "/model_x" in page.locator("section[aria-label=Findings]").inner_text()
    # Filtering is in the URL too.
    page.select_option("select[name=severity]", "warn")
    page.get_by_role("button", name="Filter").click()
    settled(page)
    assert "severity=warn" in page.url
    warn = sum(1 for f in report["findings"] if f["severity"] == "warn")
    assert page.locator("section[aria-label=Findings] tbody tr").count() == warn


def wait_for_points(client: httpx.Client, n: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if len(client.get("/api/v1/threadline/health/history").json()["points"]) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"the scheduled health check did not record {n} points")


def test_unknown_ids_and_pages_say_so(page: Any, pipeline_server: Server) -> None:
    page.goto(f"{pipeline_server.url}/ui/node?id=dataset:{NS}/nothing-here")
    settled(page)
    assert page.get_by_role("alert").count() == 1
    assert "404" in page.get_by_role("alert").inner_text()
    page.goto(f"{pipeline_server.url}/ui/nowhere")
    settled(page)
    assert page.get_by_role("heading", name="No such page").is_visible()


def test_row_trace_of_a_prediction_file_names_its_input_row_and_model(
    page: Any, pipeline_server: Server
) -> None:
    scored = ds("/scored", "b3:s9", "predictions")
    scored["facets"]["threadline_rows"] = {
        "_producer": "https://example.com/test",
        "_schemaURL": "https://threadline.dev/spec/facets/1-0-0/RowsDatasetFacet.json",
        "input": f"features:{NS}/feat@b3:f1",
        "mapping": "positional",
        "rows": 10,
        "model": f"model:{NS}/model_b@b3:mb",
        "columns": ["prediction"],
    }
    event = run_event(
        "score-rows",
        uid(901),
        [ds("/feat", "b3:f1", "features"), ds("/model_b", "b3:mb", "model")],
        [scored],
        when=day(8, 3),
        execution="ex:s9",
    )
    with httpx.Client(base_url=pipeline_server.url, timeout=30) as client:
        assert client.post("/api/v1/lineage", json=event).status_code in (200, 201)
    page.goto(f"{pipeline_server.url}/ui/node?{urlencode({'id': f'predictions:{NS}/scored'})}")
    settled(page)
    section = page.locator("section[aria-label='Row trace']")
    section.locator("input[name=row]").fill("3")
    section.get_by_role("button", name="Trace this row").click()
    page.wait_for_selector(".row-trace-result ol.chain", timeout=TIMEOUT_MS)
    result = section.locator(".row-trace-result")
    assert "Row 3 of 10" in result.inner_text()
    chain = result.locator("ol.chain li").all_inner_texts()
    assert any("/feat" in step and "row 3" in step for step in chain)
    assert "/model_b" in result.locator("dl.facts").inner_text()
    # A row past the end is refused with the server's reason.
    section.locator("input[name=row]").fill("10")
    section.get_by_role("button", name="Trace this row").click()
    page.wait_for_selector(".row-trace-result [role=alert]", timeout=TIMEOUT_MS)
