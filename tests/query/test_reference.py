"""Reading typed text into candidate (namespace, name, version) readings, without a store."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from threadline.errors import InvalidIdentifier, ThreadlineError, UsageError
from threadline.query.reading import printable
from threadline.query.reference import (
    NodeReading,
    is_version,
    parse_reference,
    printable_splits,
)

# Names as producers write them: paths, dotted tables, slashes and colons anywhere.
parts = st.text(alphabet="abcxyz019._-:/", min_size=1, max_size=12).filter(
    lambda t: not t.startswith("/") or len(t) > 1
)
namespaces = st.one_of(
    st.builds(lambda host: f"file://{host}", st.sampled_from(["h", "vm1", "db-2.local"])),
    st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}",
        st.sampled_from(["postgres", "s3", "threadline", "kafka"]),
        st.sampled_from(["db", "bucket", "proj"]),
        st.sampled_from(["", ":5432", ":9092"]),
    ),
    parts.filter(lambda t: not t.startswith("/") and "://" not in t),
)
versions = st.builds(
    lambda prefix, body: f"{prefix}:{body}",
    st.sampled_from(["b3", "ex", "v", "run"]),
    st.text(alphabet="0123456789abcdef", min_size=1, max_size=16),
)


@given(namespace=namespaces, name=parts, version=st.one_of(st.none(), versions))
def test_the_printed_split_is_always_among_the_readings(
    namespace: str, name: str, version: str | None
) -> None:
    text = printable("dataset", namespace, name, version)
    reference = parse_reference(text)
    assert NodeReading("dataset", namespace, name) in reference.nodes
    assert reference.version == version
    assert reference.kind == "dataset"


@given(namespace=namespaces, name=parts.filter(lambda t: "://" not in t and t[:2] != "//"))
def test_the_marquez_split_is_always_among_the_readings(namespace: str, name: str) -> None:
    reference = parse_reference(f"job:{namespace}:{name}")
    assert NodeReading("job", namespace, name) in reference.nodes


@given(namespace=namespaces, name=parts, version=versions)
def test_short_ids_and_prov_ids_read_like_the_printable_id(
    namespace: str, name: str, version: str
) -> None:
    full = printable("model", namespace, name, version)
    short = full.partition(":")[2]
    assert NodeReading(None, namespace, name) in parse_reference(short).nodes
    assert parse_reference(short).version == version
    prov = parse_reference("tl:" + quote(full, safe=""))
    assert prov.nodes == parse_reference(full).nodes
    assert prov.version == version


@given(st.text(max_size=60))
def test_any_text_reads_or_fails_with_a_threadline_error(text: str) -> None:
    # Anything else escaping (IndexError, ValueError…) fails the test.
    with contextlib.suppress(ThreadlineError):
        parse_reference(text)


def test_postgres_namespaces_hold_colons() -> None:
    reference = parse_reference("dataset:postgres://db:5432:public.orders")
    assert NodeReading("dataset", "postgres://db:5432", "public.orders") in reference.nodes
    assert reference.malformed is None
    assert printable_splits("postgres://db:5432/public.orders")[0] == (
        "postgres://db:5432",
        "public.orders",
    )


@pytest.mark.parametrize(
    ("text", "version", "run_id"),
    [
        ("ex:0c2e4f5a6b7c", "ex:0c2e4f5a6b7c", None),
        ("b3:5bb4af4322ff…", "b3:5bb4af4322ff", None),
        ("0192F0C4-0000-7000-8000-000000000001", None, "0192f0c4-0000-7000-8000-000000000001"),
    ],
)
def test_versions_and_run_ids_on_their_own(text: str, version: str | None, run_id: str) -> None:
    reference = parse_reference(text)
    assert (reference.version, reference.run_id, reference.nodes) == (version, run_id, ())


def test_tree_labels_and_long_paths() -> None:
    label = parse_reference("data/raw.csv b3:5bb4af4322ff")
    assert label.version == "b3:5bb4af4322ff"
    assert label.path == "data/raw.csv"
    assert NodeReading("job", None, "data/raw.csv") in label.nodes
    tail = parse_reference("…/deep/dir/raw.csv b3:5bb4")
    assert tail.nodes == (NodeReading("dataset", None, "/deep/dir/raw.csv", suffix=True),)


def test_what_is_no_id() -> None:
    with pytest.raises(UsageError, match="required"):
        parse_reference("   ")
    assert "unknown node kind 'datset'" in str(parse_reference("datset:file://h/x").malformed)
    assert parse_reference("dataset:file://h/x").malformed is None
    assert "no NAMESPACE/NAME" in str(parse_reference("model:file://h").malformed)
    with pytest.raises(InvalidIdentifier, match="no NAMESPACE/NAME"):
        parse_reference("model:nothing")
    assert not is_version("dataset:x")
    assert not is_version("tl:abc")
    assert is_version("v:17")
