"""The running server against fuzzed OpenLineage events: never a 5xx, and 400 exactly for
what lineage cannot use."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from tests.support.fuzz import mutated_events
from tests.support.live import Server

from threadline.spec.ingest import lineage_problems


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=mutated_events())
def test_the_server_never_answers_500_to_fuzzed_events(server: Server, body: Any) -> None:
    response = httpx.post(server.url + "/api/v1/lineage", json=body, timeout=30)
    assert response.status_code in (201, 400), response.text
    payload = response.json()
    refused = lineage_problems(body)
    if response.status_code == 400:
        assert payload["detail"]["path"] == refused[0].path
        assert refused[0].path in payload["message"]
    else:
        assert refused == []
