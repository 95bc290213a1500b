"""Hypothesis strategies for OpenLineage events: valid events with subtrees replaced, deleted
or renamed (the validator's and the server's fuzz tests share them)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from hypothesis import strategies as st

from tests.support.live import PRODUCER, RUN_EVENT_SCHEMA, client_examples


def base_event() -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-01-01T00:00:00Z",
        "run": {"runId": str(uuid.uuid4()), "facets": {}},
        "job": {"namespace": "ns", "name": "job", "facets": {}},
        "inputs": [{"namespace": "ns", "name": "in", "facets": {}, "inputFacets": {}}],
        "outputs": [{"namespace": "ns", "name": "out", "facets": {}, "outputFacets": {}}],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "eventTime",
    "eventType",
    "producer",
    "schemaURL",
    "run",
    "job",
    "inputs",
    "outputs",
    "runId",
    "facets",
    "namespace",
    "name",
    "schema",
    "fields",
    "parent",
    "_producer",
    "_schemaURL",
    "columnLineage",
    "ownership",
    "owners",
    "inputFacets",
    "dataset",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


@st.composite
def mutated_events(draw: st.DrawFn) -> Any:
    """A valid event with a few subtrees replaced, deleted, or keys renamed."""
    examples = [json.loads(p.read_text()) for p in client_examples()]
    event = copy.deepcopy(draw(st.sampled_from([base_event(), *examples])))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(event) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "delete", "rename"]))
        if action == "replace":
            parent[path[-1]] = draw(json_values)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = parent.pop(path[-1])
    return event
