"""audit_checkpoint and inclusion on SQLite and PostgreSQL: a trusted (signed) checkpoint
catches what the store's own tables no longer can."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.graphs import BACKENDS, execute, pipeline_store

from threadline.errors import IntegrityError, NotFound
from threadline.integrity import merkle
from threadline.integrity.chain import leaf
from threadline.store.admin import audit_checkpoint, inclusion, leaf_hashes
from threadline.store.sql import SqlStore


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    with pipeline_store(request.param, tmp_path) as built:
        yield built


def test_the_leaves_are_the_chains(store: SqlStore) -> None:
    leaves = leaf_hashes(store, page=3)  # several pages
    assert leaves == [leaf(record) for record in store.iter_chain()]
    assert leaf_hashes(store, 4, page=3) == leaves[:4]


def test_an_intact_log_passes_and_each_tampering_is_named(store: SqlStore) -> None:
    taken = store.checkpoint()
    assert taken is not None
    size, root = taken.tree_size, taken.root
    assert audit_checkpoint(store, size, root) == (size, [])
    # Every record has an inclusion proof leading to the trusted root.
    for seq, record in enumerate(store.iter_chain(), start=1):
        found = inclusion(store, record.seq, size)
        assert found.root == root
        assert merkle.verify_inclusion(leaf(record), seq - 1, size, found.audit_path, root)
    last = size
    execute(store, "DELETE FROM tl_checkpoints")
    assert audit_checkpoint(store, size, root)[1] == [
        f"the store's checkpoint row for size {size} is missing: it was deleted"
    ]
    execute(store, "DELETE FROM tl_events WHERE seq = :seq", seq=last)
    log_size, findings = audit_checkpoint(store, size, root)
    assert log_size == size - 1
    assert findings[0].startswith(f"the log was cut: the checkpoint covers {size} records")
    with pytest.raises(IntegrityError, match="fewer than the checkpoint's"):
        inclusion(store, 1, size)
    with pytest.raises(NotFound, match="not among the checkpoint's first 2 records"):
        inclusion(store, 3, 2)
