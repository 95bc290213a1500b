"""Resolving what a user typed: ids with and without versions, and paths by their content."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.graphs import day, ds, run_event, uid

from threadline.errors import InvalidIdentifier, NotFound, UsageError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import file_dataset
from threadline.query import resolve_ref, trace
from threadline.query.resolve import looks_like_id
from threadline.store.sql import SqlStore


def record_file(store: SqlStore, path: Path, *, when: str, run: int) -> str:
    """Record ``path``'s current content as the output of a run; returns its version."""
    node = file_dataset(path)
    version = fingerprint_path(path)
    output = {
        "namespace": node.namespace,
        "name": node.name,
        "facets": {"version": {"datasetVersion": version}},
    }
    store.append_batch([run_event("write", uid(run), [ds("/raw_b", "b3:b1")], [output], when=when)])
    return version


def test_an_id_without_version_means_the_newest(store: SqlStore) -> None:
    vertex = resolve_ref(store, "dataset:file://h/raw_a")
    assert vertex.version == "b3:a2"
    assert str(vertex) == "dataset:file://h/raw_a@b3:a2"
    assert vertex.node_id.version == "b3:a2"
    assert resolve_ref(store, "dataset:file://h/raw_a", as_of="2026-01-02").version == "b3:a1"
    assert resolve_ref(store, " dataset:file://h/raw_a@b3:a1 ").version == "b3:a1"


def test_a_path_resolves_to_its_current_content(store: SqlStore, tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    first = record_file(store, path, when=day(8), run=20)
    graph = trace(store, str(path))
    assert graph.root == f"{file_dataset(path)}@{first}"
    assert {n["name"] for n in graph.nodes} >= {str(path.resolve()), "/raw_b"}

    path.write_text("a,b\n1,3\n")  # content threadline never saw
    with pytest.raises(NotFound) as caught:
        trace(store, str(path))
    message = caught.value.message
    assert "current content of" in message
    assert "was never recorded" in message
    assert f"the newest recorded version is {first}" in message

    second = record_file(store, path, when=day(9), run=21)
    assert trace(store, str(path)).root.endswith(second)
    with pytest.raises(NotFound, match="after --as-of"):
        trace(store, str(path), as_of="2026-01-08T12:00Z")


def test_a_relative_path_is_taken_from_the_working_directory(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rel.txt"
    path.write_text("x")
    version = record_file(store, path, when=day(8), run=22)
    monkeypatch.chdir(tmp_path)
    assert resolve_ref(store, "rel.txt").version == version


def test_unrecorded_and_missing_paths(store: SqlStore, tmp_path: Path) -> None:
    never = tmp_path / "never.csv"
    never.write_text("x")
    with pytest.raises(NotFound, match="was never recorded by threadline"):
        trace(store, str(never))
    with pytest.raises(NotFound, match=r"^no such file: .*missing\.csv"):
        trace(store, str(tmp_path / "missing.csv"))
    # A deleted file whose versions were recorded: the error names the id to use instead.
    gone = tmp_path / "gone.csv"
    gone.write_text("y")
    record_file(store, gone, when=day(8), run=23)
    gone.unlink()
    with pytest.raises(NotFound, match=r"recorded versions remain under the id dataset:file://"):
        trace(store, str(gone))


def test_text_that_is_neither_path_nor_id(store: SqlStore) -> None:
    with pytest.raises(UsageError, match="required"):
        resolve_ref(store, "  ")
    with pytest.raises(InvalidIdentifier, match="unknown node kind 'modle'"):
        resolve_ref(store, "modle:file://h/model_b")
    with pytest.raises(InvalidIdentifier, match="no NAMESPACE/NAME"):
        resolve_ref(store, "model:file://h")


def test_looks_like_id() -> None:
    assert looks_like_id("dataset:file://h/x")
    assert looks_like_id("job:t/train@ex:1")
    assert not looks_like_id("data/raw.csv")
    assert not looks_like_id("notakind:file://h/x")
    assert not looks_like_id("model:nopath")
