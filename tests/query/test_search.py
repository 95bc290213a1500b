"""``search``: filters in SQL and on decoded facets agree, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.support.graphs import NS, day

from threadline.errors import UsageError
from threadline.query.search import search
from threadline.store.sql import SqlStore


def ids(store: SqlStore, text: str | None = None, **filters: object) -> list[str]:
    return [node["id"] for node in search(store, text, **filters).results]  # type: ignore[arg-type]


def test_by_kind_newest_activity_first(store: SqlStore) -> None:
    assert ids(store, kind="model") == [
        f"model:{NS}/model_c@b3:mc",
        f"model:{NS}/model_b@b3:mb",
        f"model:{NS}/model_a@b3:ma",
    ]


def test_text_matches_part_of_the_name_in_any_case(store: SqlStore) -> None:
    assert ids(store, "MODEL_") == ids(store, kind="model")
    assert ids(store, "eval") == [
        f"evaluation:{NS}/eval_b@b3:eb",
        "job:t/evaluate@ex:eb",
        f"evaluation:{NS}/eval_a@b3:ea",
    ]
    # LIKE wildcards in the text are taken literally.
    assert ids(store, "model%") == []
    # Both last touched by the same event: the node recorded later comes first.
    assert ids(store, "raw_") == [f"dataset:{NS}/raw_b@b3:b1", f"dataset:{NS}/raw_a@b3:a2"]


def test_owner_and_label_come_from_the_facets(store: SqlStore) -> None:
    assert ids(store, owner="team:data") == [f"dataset:{NS}/raw_a@b3:a2"]
    assert ids(store, label="pii") == [f"dataset:{NS}/raw_a@b3:a2"]
    # Only exact values: a prefix of an owner is not that owner.
    assert ids(store, owner="team") == []
    assert ids(store, label="pii", kind="model") == []


def test_stage_selects_jobs(store: SqlStore) -> None:
    found = search(store, stage="training").results
    assert [n["name"] for n in found] == ["train"]
    assert all(n["kind"] == "job" and n["stage"] == "training" for n in found)
    assert ids(store, stage="scoring") == []


def test_as_of_sees_only_what_existed_then_as_it_stood(store: SqlStore) -> None:
    assert ids(store, "raw_a", as_of=day(1, 12)) == [f"dataset:{NS}/raw_a@b3:a1"]
    assert ids(store, kind="model", as_of=day(3, 12)) == [f"model:{NS}/model_a@b3:ma"]
    assert ids(store, as_of="2025-01-01") == []


def test_limit_cuts_and_says_so(store: SqlStore) -> None:
    everything = search(store, limit=10_000)
    assert not everything.truncated
    first = search(store, limit=3)
    assert first.truncated
    assert [n["id"] for n in first.results] == [n["id"] for n in everything.results[:3]]
    exact = search(store, kind="model", limit=3)
    assert not exact.truncated
    assert len(exact.results) == 3


def test_json_shape_names_the_filters_applied(store: SqlStore) -> None:
    body = search(store, "raw", label="pii", limit=5).to_dict()
    assert body["query"] == {"text": "raw", "label": "pii"}
    assert body["truncated"] is False
    (node,) = body["results"]
    assert node["labels"] == ["pii"]
    assert node["owners"] == ["team:data"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"kind": "table"}, "unknown kind 'table'"),
        ({"owner": "  "}, "the owner filter is empty"),
        ({"limit": 0}, "--limit must be between 1"),
        ({"as_of": "yesterday"}, "is not an ISO 8601 time"),
    ],
)
def test_bad_filters_name_the_problem(
    store: SqlStore, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        search(store, **filters)  # type: ignore[arg-type]
