"""Properties of the record rewrite a ``delete`` rule applies (hypothesis): a wholly erased
dataset's name leaves the record wherever it stood, the indexed fields never change, other
datasets keep their names, and rewriting an erased record again changes nothing."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from threadline.lifecycle.erase import Target, pseudonym, rewrite, rewritten_body
from threadline.model.canonical import canonical_json

NS = "file://h"
SECRET = "/patients/ward-7/admissions.csv"
TARGETS = {(NS, SECRET): Target(NS, SECRET, "gdpr", None, pseudonym(b"salt", NS, SECRET))}

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
# Strings that may hold the secret anywhere (a command line, a note, a column reference).
carriers = st.builds(
    lambda a, b, with_secret: a + (SECRET if with_secret else "") + b, texts, texts, st.booleans()
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), carriers),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "path", "note"]), inner, max_size=3),
    ),
    max_leaves=8,
)


def dataset(name: str, facets: Any) -> dict[str, Any]:
    return {
        "namespace": NS,
        "name": name,
        "facets": {"version": {"datasetVersion": "b3:01"}, "extra": facets},
    }


events = st.builds(
    lambda inputs, outputs, run_facets, job_facets: {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-02T00:00:00Z",
        "run": {"runId": "01a2450a-68da-7284-b6c6-6c2b32735510", "facets": {"x": run_facets}},
        "job": {"namespace": "etl", "name": "step", "facets": {"y": job_facets}},
        "inputs": inputs,
        "outputs": outputs,
        "producer": "p",
        "schemaURL": "s",
    },
    st.lists(
        st.builds(dataset, st.sampled_from([SECRET, "/other.csv", SECRET + ".bak"]), json_values),
        max_size=3,
    ),
    st.lists(
        st.builds(dataset, st.sampled_from(["/out.parquet", SECRET]), json_values), max_size=2
    ),
    json_values,
    json_values,
)


@settings(max_examples=150, deadline=None)
@given(events)
def test_the_erased_name_leaves_the_record_and_nothing_else_changes(event: dict[str, Any]) -> None:
    before = orjson.dumps(event)
    out = rewrite(event, TARGETS)
    assert orjson.dumps(event) == before  # the event handed in is not changed
    if out is None:  # nothing named the secret, but maybe another dataset's own name holds it
        names = {d["name"] for side in ("inputs", "outputs") for d in event[side]}
        assert SECRET not in names
        assert [t for t in _strings(event) if SECRET in t and t not in names] == []
        return
    # Indexed columns stay: job namespace and name, run id, event time and type.
    assert out["job"]["namespace"] == event["job"]["namespace"]
    assert out["job"]["name"] == event["job"]["name"]
    assert out["run"]["runId"] == event["run"]["runId"]
    assert (out["eventTime"], out["eventType"]) == (event["eventTime"], event["eventType"])
    # Every dataset keeps its place; the secret one is a stub, the others keep their names.
    for side in ("inputs", "outputs"):
        assert len(out[side]) == len(event[side])
        for old, new in zip(event[side], out[side], strict=True):
            if old["name"] == SECRET:
                assert new["name"].startswith("erased/")
                assert "extra" not in new["facets"]
                assert new["facets"]["threadline_erased"]["rule"] == "gdpr"
            else:
                assert new["name"] == old["name"]
    # No string holds the secret any more, except another dataset's own name that contains it.
    others = {
        d["name"]
        for side in ("inputs", "outputs")
        for d in out[side]
        if not d["name"].startswith("erased/")
    }
    leftovers = [text for text in _strings(out) if SECRET in text and text not in others]
    assert leftovers == []
    # Erasing the erased record again changes nothing.
    body = canonical_json(out)
    assert rewritten_body(body, TARGETS, [t.needle() for t in TARGETS.values()]) is None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    return []
