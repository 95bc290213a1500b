"""The hash chain detects every single-record edit, deletion and swap, and names it; Merkle
checkpoints add what the chain alone cannot see (a cut-off tail, a re-linked rewrite)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.support.events import event

from threadline.integrity import merkle
from threadline.integrity.chain import GENESIS, ChainRecord, leaf, link, verify_chain, verify_log
from threadline.model.canonical import canonical_json
from threadline.store import open_store


def build(bodies: list[bytes]) -> list[ChainRecord]:
    records, prev = [], GENESIS
    for seq, body in enumerate(bodies, start=1):
        digest = link(prev, body)
        records.append(ChainRecord(seq, body, prev, digest))
        prev = digest
    return records


bodies = st.lists(
    st.dictionaries(st.text(max_size=5), st.integers(-1000, 1000), max_size=4).map(canonical_json),
    min_size=2,
    max_size=30,
)


@given(bodies)
def test_an_untouched_chain_verifies(items: list[bytes]) -> None:
    report = verify_chain(build(items))
    assert report.ok
    assert report.records == len(items)


@settings(max_examples=60)
@given(bodies, st.data())
def test_every_single_byte_flip_is_detected_at_its_record(
    items: list[bytes], data: st.DataObject
) -> None:
    records = build(items)
    index = data.draw(st.integers(0, len(records) - 1))
    field = data.draw(st.sampled_from(["body", "prev_hash", "hash"]))
    value = bytearray(getattr(records[index], field))
    position = data.draw(st.integers(0, len(value) - 1))
    value[position] ^= 1 << data.draw(st.integers(0, 7))
    original = records[index]
    records[index] = ChainRecord(
        original.seq,
        bytes(value) if field == "body" else original.body,
        bytes(value) if field == "prev_hash" else original.prev_hash,
        bytes(value) if field == "hash" else original.hash,
    )
    report = verify_chain(records)
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == original.seq


@given(bodies, st.data())
def test_every_deletion_is_detected(items: list[bytes], data: st.DataObject) -> None:
    records = build(items)
    index = data.draw(st.integers(0, len(records) - 2))  # deleting the tail needs a checkpoint
    del records[index]
    report = verify_chain(records)
    assert report.first_break is not None
    assert report.first_break.seq == index + 2


@given(bodies, st.data())
def test_every_swap_is_detected(items: list[bytes], data: st.DataObject) -> None:
    records = build(items)
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    records[i], records[j] = records[j], records[i]
    report = verify_chain(records)
    assert report.first_break is not None
    assert report.first_break.seq == records[i].seq


@given(bodies, st.data())
def test_every_swap_of_two_records_contents_is_detected(
    items: list[bytes], data: st.DataObject
) -> None:
    # What an UPDATE of two rows does: the seq numbers stay, everything else trades places.
    records = build(items)
    i = data.draw(st.integers(0, len(records) - 2))
    j = data.draw(st.integers(i + 1, len(records) - 1))
    a, b = records[i], records[j]
    records[i] = ChainRecord(a.seq, b.body, b.prev_hash, b.hash)
    records[j] = ChainRecord(b.seq, a.body, a.prev_hash, a.hash)
    report = verify_chain(records)
    assert report.first_break is not None
    assert report.first_break.seq == a.seq


def checkpoints_of(records: list[ChainRecord], sizes: list[int]) -> dict[int, bytes]:
    return {size: merkle.root([leaf(r) for r in records[:size]]) for size in sizes}


@given(bodies, st.data())
def test_checkpoints_match_an_untouched_log(items: list[bytes], data: st.DataObject) -> None:
    records = build(items)
    sizes = data.draw(st.lists(st.integers(1, len(records)), max_size=4, unique=True))
    report = verify_log(records, checkpoints_of(records, sizes))
    assert report.ok
    assert (report.records, report.checkpoints) == (len(records), len(sizes))
    assert report.root == merkle.root([leaf(r) for r in records])


@given(bodies, st.data())
def test_a_cut_off_tail_is_detected_by_a_checkpoint(
    items: list[bytes], data: st.DataObject
) -> None:
    records = build(items)
    kept = data.draw(st.integers(0, len(records) - 1))
    report = verify_log(records[:kept], checkpoints_of(records, [len(records)]))
    assert verify_chain(records[:kept]).ok  # the chain alone cannot tell
    assert report.first_break is not None
    assert (report.first_break.seq, report.records) == (kept + 1, kept)


@given(bodies, st.data())
def test_a_relinked_rewrite_is_detected_by_a_checkpoint(
    items: list[bytes], data: st.DataObject
) -> None:
    records = build(items)
    index = data.draw(st.integers(0, len(records) - 1))
    earlier = data.draw(st.lists(st.integers(1, index), max_size=2, unique=True)) if index else []
    stored = checkpoints_of(records, [*earlier, len(records)])
    rewritten = [r.body for r in records]
    rewritten[index] = canonical_json({"rewritten": index})
    forged = build(rewritten)  # re-linked from the first record: the chain verifies
    assert verify_chain(forged).ok
    report = verify_log(forged, stored)
    assert report.first_break is not None
    # Named: the first record after the last checkpoint that still matched.
    certified = max(earlier, default=0)
    assert (report.first_break.seq, report.records) == (certified + 1, certified)
    assert report.checkpoints == len(earlier)
    assert report.to_dict()["first_bad"] == certified + 1


def test_a_chain_break_is_reported_before_a_checkpoint() -> None:
    records = build([canonical_json({"n": n}) for n in range(6)])
    stored = checkpoints_of(records, [2, 6])
    del records[3]
    report = verify_log(records, stored)
    assert report.first_break is not None
    assert (report.first_break.seq, report.records, report.checkpoints) == (5, 3, 1)
    assert "sequence gap" in report.first_break.reason


def test_a_rehashed_non_canonical_body_is_detected() -> None:
    records = build([canonical_json({"a": 1}), b'{"b": 2}'])
    report = verify_chain(records)
    assert report.first_break is not None
    assert report.first_break.reason == "body is not in canonical form"


@pytest.mark.parametrize(
    ("sql", "first_bad"),
    [
        ("UPDATE tl_events SET body = replace(body, 'job3', 'jobX') WHERE seq = 3", 3),
        ("DELETE FROM tl_events WHERE seq = 4", 5),
        ("UPDATE tl_events SET hash = prev_hash WHERE seq = 2", 2),
    ],
)
def test_tampering_with_a_real_store_is_named(tmp_path: Path, sql: str, first_bad: int) -> None:
    db = tmp_path / "t.db"
    store = open_store(db)
    store.append_batch([event(i, job=f"job{i}") for i in range(1, 7)])
    store.close()
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    store = open_store(db)
    report = verify_chain(store.iter_chain())
    store.close()
    assert report.first_break is not None
    assert report.first_break.seq == first_bad


def test_swapping_two_bodies_in_a_real_store_is_named(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = open_store(db)
    store.append_batch([event(i, job=f"job{i}") for i in range(1, 7)])
    store.close()
    with sqlite3.connect(db) as conn:
        two = conn.execute("SELECT body FROM tl_events WHERE seq = 2").fetchone()[0]
        five = conn.execute("SELECT body FROM tl_events WHERE seq = 5").fetchone()[0]
        conn.execute("UPDATE tl_events SET body = ? WHERE seq = 2", (five,))
        conn.execute("UPDATE tl_events SET body = ? WHERE seq = 5", (two,))
    store = open_store(db)
    report = verify_chain(store.iter_chain())
    store.close()
    assert report.first_break is not None
    assert report.first_break.seq == 2
