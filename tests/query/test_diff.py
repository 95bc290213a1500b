"""diff of two model versions: inputs, parameters, code, upstream sources and metrics."""

from __future__ import annotations

from typing import Any

import orjson
from tests.support.graphs import COMMIT_A, COMMIT_B

from threadline.query import diff
from threadline.query.diff import compare
from threadline.store.sql import SqlStore


def rows(result: dict[str, Any], aspect: str) -> dict[str, tuple[str, Any, Any]]:
    return {c["key"]: (c["change"], c["a"], c["b"]) for c in result[aspect]}


def test_two_models_trained_differently(store: SqlStore) -> None:
    result = diff(store, "model:file://h/model_a", "model:file://h/model_b").to_dict()
    assert result["a"] == {
        "id": "model:file://h/model_a@b3:ma",
        "executions": ["job:t/train@ex:ta"],
    }
    assert result["b"] == {
        "id": "model:file://h/model_b@b3:mb",
        "executions": ["job:t/train@ex:tb"],
    }
    assert not result["identical"]
    assert rows(result, "inputs") == {
        "dataset:file://h/holidays": ("only_b", None, ["b3:h1"]),
    }
    assert rows(result, "parameters") == {"C": ("changed", 0.1, 1.0)}
    assert rows(result, "code") == {
        "commit": ("changed", COMMIT_A, COMMIT_B),
        "dirty": ("changed", False, True),
    }
    assert rows(result, "upstream") == {
        "dataset:file://h/holidays": ("only_b", None, ["b3:h1"]),
    }
    assert rows(result, "metrics") == {"auc": ("changed", 0.88, 0.91)}
    assert result["truncated"] is False
    assert result["notes"] == []
    orjson.dumps(result)  # plain JSON all the way down


def test_same_code_on_newer_data(store: SqlStore) -> None:
    result = diff(store, "model:file://h/model_a", "model:file://h/model_c").to_dict()
    assert rows(result, "inputs") == {
        "features:file://h/feat": ("changed", ["b3:f1"], ["b3:f2"]),
    }
    assert result["parameters"] == []
    assert rows(result, "code") == {}
    assert rows(result, "upstream") == {"dataset:file://h/raw_a": ("changed", ["b3:a1"], ["b3:a2"])}
    # model_c was never evaluated.
    assert rows(result, "metrics") == {"auc": ("only_a", 0.88, None)}


def test_a_version_against_itself_is_identical(store: SqlStore) -> None:
    result = diff(store, "model:file://h/model_a", "model:file://h/model_a@b3:ma")
    assert result.identical
    assert result.notes == ["A and B are the same version"]


def test_raw_data_has_no_producer_and_says_so(store: SqlStore) -> None:
    result = diff(store, "dataset:file://h/raw_a@b3:a1", "dataset:file://h/raw_a@b3:a2")
    assert result.identical  # nothing recorded about how either came to be
    assert "A has no recorded execution that wrote it" in result.notes
    assert "B has no recorded execution that wrote it" in result.notes


def test_two_executions_compare_as_their_own_producers(store: SqlStore) -> None:
    result = diff(store, "job:t/train@ex:ta", "job:t/train@ex:tc").to_dict()
    assert rows(result, "inputs") == {
        "features:file://h/feat": ("changed", ["b3:f1"], ["b3:f2"]),
    }
    assert result["parameters"] == []


def test_a_small_cap_is_reported(store: SqlStore) -> None:
    result = diff(store, "model:file://h/model_a", "model:file://h/model_b", limit=3)
    assert result.truncated
    assert any("more than 3 vertices" in note for note in result.notes)


def test_compare_is_keywise_and_distinguishes_absent_from_none() -> None:
    changes = compare({"x": 1, "y": None, "same": 2}, {"x": 2, "z": None, "same": 2})
    assert [c.to_dict() for c in changes] == [
        {"key": "x", "change": "changed", "a": 1, "b": 2},
        {"key": "y", "change": "only_a", "a": None, "b": None},
        {"key": "z", "change": "only_b", "a": None, "b": None},
    ]
