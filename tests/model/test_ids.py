"""Identity: printable ids round-trip, OpenLineage naming, UUIDv7, execution ids."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import InvalidIdentifier
from threadline.model.ids import (
    NODE_KINDS,
    NodeId,
    execution_version,
    file_dataset,
    local_host,
    split_uri,
    uuid7,
)
from threadline.model.uuid7 import uuid7_text

names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="@"),
    min_size=1,
    max_size=40,
)


def test_printable_form_of_a_local_file(tmp_path: Path) -> None:
    node = file_dataset(tmp_path / "raw.csv").with_version("b3:" + "5f" * 32)
    assert node.namespace == f"file://{local_host()}"
    assert node.name == str((tmp_path / "raw.csv").resolve())
    assert str(node) == f"dataset:file://{local_host()}{node.name}@b3:{'5f' * 32}"
    assert NodeId.parse(str(node)) == node


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "dataset:postgres://db:5432/shop.public.orders",
            ("postgres://db:5432", "shop.public.orders", None),
        ),
        (
            "dataset:s3://bucket/path/to/x.parquet@v:17",
            ("s3://bucket", "path/to/x.parquet", "v:17"),
        ),
        ("job:threadline/train@ex:0c2e", ("threadline", "train", "ex:0c2e")),
        ("job:airflow/dag.task/sub", ("airflow", "dag.task/sub", None)),
        ("model:file://h/m/model.joblib@b3:ab", ("file://h", "/m/model.joblib", "b3:ab")),
    ],
)
def test_parse_known_forms(text: str, expected: tuple[str, str, str | None]) -> None:
    node = NodeId.parse(text)
    assert (node.namespace, node.name, node.version) == expected
    assert str(node) == text


@pytest.mark.parametrize(
    "text", ["", "raw.csv", "spaceship:file://h/x", "dataset:", "dataset:nons", "dataset:file://h"]
)
def test_bad_ids_are_rejected_with_a_clear_error(text: str) -> None:
    with pytest.raises(InvalidIdentifier):
        NodeId.parse(text)


@given(
    kind=st.sampled_from(NODE_KINDS),
    namespace=st.from_regex(r"\A[a-z][a-z0-9+.-]{0,10}://[a-z0-9.:-]{1,20}\Z"),
    name=names.filter(lambda n: not n.startswith("/")),
    version=st.one_of(st.none(), st.from_regex(r"\A(b3|ex|v|run):[A-Za-z0-9._~+\-:]{1,40}\Z")),
)
def test_printable_ids_round_trip(
    kind: str, namespace: str, name: str, version: str | None
) -> None:
    if namespace.startswith("file://"):
        name = "/" + name
    node = NodeId(kind, namespace, name, version)
    assert NodeId.parse(str(node)) == node


def test_split_uri_follows_openlineage_naming() -> None:
    assert split_uri("file://host/data/raw.csv") == ("file://host", "/data/raw.csv")
    assert split_uri("postgres://h:5432/db.s.t") == ("postgres://h:5432", "db.s.t")
    assert split_uri("my-namespace/my.job") == ("my-namespace", "my.job")


def test_uuid7_is_version_7_and_monotonic() -> None:
    ids = [uuid7() for _ in range(5000)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_uuid7_text_is_the_canonical_form_of_a_version_7_uuid() -> None:
    texts = [uuid7_text() for _ in range(2000)]
    parsed = [uuid.UUID(text) for text in texts]
    assert texts == [str(u) for u in parsed]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert parsed == sorted(parsed)  # one sequence with uuid7(): still monotonic
    assert len(set(texts)) == len(texts)


def test_execution_version_is_deterministic_across_processes() -> None:
    parts = {"job": "ns/train", "parameters": {"C": 0.5, "n": 3}, "inputs": ["a", "b"]}
    here = execution_version(parts)
    code = (
        "from threadline.model.ids import execution_version;"
        "print(execution_version({'inputs': ['a', 'b'], 'parameters': {'n': 3, 'C': 0.5}, 'job': 'ns/train'}))"
    )
    for seed in ("0", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        )
        assert out.stdout.strip() == here
    assert execution_version({**parts, "parameters": {"C": 0.6, "n": 3}}) != here
