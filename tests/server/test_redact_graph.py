"""Trace and impact answers are reduced by their handler (``reduce_graph``), from the labels
every node carries, instead of by the guard's generic walk with a label lookup: both must give
the very same answer, for every kind of caller."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.graphs import BACKENDS, NS, pipeline_store

from threadline import query
from threadline.server.auth.grants import ANY_NAMESPACE, Grant, Identity, Role
from threadline.server.auth.redact import Redactor, reduce_graph, store_labels

IDENTITIES = [
    Identity("all-cleared", (Grant(Role.viewer, ANY_NAMESPACE),), frozenset({"pii"})),
    Identity("all", (Grant(Role.viewer, ANY_NAMESPACE),)),
    Identity("jobs-only", (Grant(Role.viewer, "t"),)),
    Identity("data-only", (Grant(Role.viewer, NS),), frozenset({"pii"})),
    Identity("data-uncleared", (Grant(Role.viewer, NS),)),
    Identity("elsewhere", (Grant(Role.producer, "other"),)),
]
QUESTIONS = [
    ("trace", f"model:{NS}/model_a"),
    ("trace", f"model:{NS}/model_c"),
    ("impact", f"dataset:{NS}/raw_a@b3:a1"),
    ("impact", f"dataset:{NS}/raw_b"),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_reduce_graph_gives_what_the_generic_redactor_gives(backend: str, tmp_path: Path) -> None:
    stubbed = 0
    with pipeline_store(backend, tmp_path) as store:
        for kind, ref in QUESTIONS:
            answer = getattr(query, kind)(store, ref).to_dict()
            for identity in IDENTITIES:
                expected = Redactor(identity, store_labels(store)).reduce(answer)
                got = reduce_graph(answer, identity)
                assert got == expected, (kind, ref, identity.subject)
                if expected is answer:
                    assert got is answer  # nothing hidden: the answer goes out as it is
                else:
                    stubbed += sum(1 for n in got["nodes"] if n.get("redacted"))
    assert stubbed > 10  # the comparison covered answers with hidden nodes, not only clear ones
