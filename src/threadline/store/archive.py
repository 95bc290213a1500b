"""Archiving: event bodies moved out of the log's table into compressed files, and read back.

``threadline gc`` applying an ``archive`` rule (:mod:`threadline.lifecycle.apply`) moves the
bodies of old records into one zstd-compressed NDJSON file per batch, in the store's archive
folder (:attr:`SqlStore.archive_dir`).  Each line holds one record whole (``seq``,
``prev_hash``, ``hash``, ``digest`` and the canonical ``body``) and its RFC 9162 inclusion proof
in the tree of a checkpoint taken just before (``leaf_index``, ``tree_size``, ``root``,
``audit_path``), so a line can be checked on its own, against a signed checkpoint, long after.

The file is written and synced first; then one transaction empties the records' bodies in the
log and appends an *archive event* (job ``threadline`` / ``lifecycle/archive``, run facet
``threadline_archive``: the rule, its reason, the file's name and BLAKE3, and per record its
``seq``, chain ``hash``, original ``digest`` and the BLAKE3 of its body).  ``verify`` checks an
emptied record against that commitment (the chain's ``hash`` is unchanged, so checkpoints and
proofs still hold); :func:`check_archives` (``verify --deep``) reads the files back and checks
each body against its chain hash.  Every read of the log (:meth:`SqlStore.read_after`: the
events API, exports, graph rebuilds) finds archived bodies in the files: the *cold read*, and
:class:`~threadline.store.base.StoredEvent` says ``archived``.  A kill between the file and the
transaction leaves an unreferenced file, which the next run does not use.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import blake3
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.errors import IntegrityError, StoreUnavailable
from threadline.integrity import merkle
from threadline.integrity.chain import Erasure, link
from threadline.store import schema as s
from threadline.store.admin import (
    ARCHIVE_FACET,
    ARCHIVE_JOB,
    ARCHIVE_SCHEMA,
    erasures,
    leaf_hashes,
    lifecycle_event,
)

#: The compression level of archive files (zstd's default trades speed and size well).
LEVEL: Final = 3
#: Decompressed archive files kept in memory by a store's cold reader.
_CACHED_FILES: Final = 2


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    seq: int
    body: bytes
    prev_hash: bytes
    hash: bytes
    digest: bytes


def archive(store: Any, seqs: Sequence[int], *, rule: str, reason: str) -> tuple[int, Path] | None:
    """Move the bodies of records ``seqs`` into a new archive file (see the module
    docstring); returns the archive event's ``seq`` and the file, or None when none of them
    still has a body."""
    folder = store.archive_dir
    if folder is None:
        raise StoreUnavailable(f"store {store.safe_url} has no archive folder")
    e = s.events
    wanted = sorted(set(seqs))

    def rows(conn: Connection) -> list[ArchivedRecord]:
        found = []
        for start in range(0, len(wanted), 500):
            for r in conn.execute(
                sa.select(e.c.seq, e.c.body, e.c.prev_hash, e.c.hash, e.c.digest)
                .where(e.c.seq.in_(wanted[start : start + 500]))
                .order_by(e.c.seq)
            ):
                body = s.as_bytes(r.body)
                if body:
                    found.append(
                        ArchivedRecord(
                            int(r.seq),
                            body,
                            s.as_bytes(r.prev_hash),
                            s.as_bytes(r.hash),
                            s.as_bytes(r.digest),
                        )
                    )
        return found

    records = store.read(rows)
    if not records:
        return None
    checkpoint = store.checkpoint()  # verifies the log first: only intact records are moved
    assert checkpoint is not None
    leaves = leaf_hashes(store, checkpoint.tree_size)
    index_of = _leaf_indexes(store, [r.seq for r in records])
    lines = []
    for record in records:
        index = index_of[record.seq]
        lines.append(
            orjson.dumps(
                {
                    "seq": record.seq,
                    "prev_hash": record.prev_hash.hex(),
                    "hash": record.hash.hex(),
                    "digest": record.digest.hex(),
                    "body": record.body.decode("utf-8", "surrogatepass"),
                    "leaf_index": index,
                    "tree_size": checkpoint.tree_size,
                    "root": checkpoint.root.hex(),
                    "audit_path": [
                        h.hex() for h in merkle.inclusion_proof(leaves, index, checkpoint.tree_size)
                    ],
                }
            )
        )
    path = _write(folder, records[0].seq, records[-1].seq, b"\n".join(lines) + b"\n")
    digest = blake3.blake3(path.read_bytes()).hexdigest()
    event = _archive_event(
        rule,
        reason,
        path.name,
        digest,
        [
            {
                "seq": r.seq,
                "hash": r.hash.hex(),
                "digest": r.digest.hex(),
                "body": blake3.blake3(r.body).hexdigest(),
            }
            for r in records
        ],
    )
    with store._write_lock, store._write_connection(True) as conn:
        store._lock_chain(conn)
        store._check_graph_epoch(conn)
        for record in records:
            moved = conn.execute(
                e.update().where(e.c.seq == record.seq, e.c.body == record.body).values(body=b"")
            ).rowcount
            if moved != 1:
                raise IntegrityError(
                    f"record {record.seq} changed while it was archived; nothing was archived "
                    f"in this batch ({path.name} is unused): run threadline gc again"
                )
        result = store._append_locked(conn, store._prepare([event]))
    store.forget_cold_cache()
    return result.head_seq, path


def _leaf_indexes(store: Any, seqs: list[int]) -> dict[int, int]:
    """Each record's leaf index: the records before it (the log was just verified, so its
    sequence numbers have no gaps and one count gives every index)."""
    e = s.events
    first = seqs[0]

    def read(conn: Connection) -> int:
        return int(conn.execute(sa.select(sa.func.count()).where(e.c.seq < first)).scalar_one())

    base = store.read(read)
    return {seq: base + (seq - first) for seq in seqs}


def _write(folder: Path, first: int, last: int, data: bytes) -> Path:
    import zstandard

    folder.mkdir(parents=True, exist_ok=True)
    compressed = zstandard.ZstdCompressor(level=LEVEL).compress(data)
    name = f"log-{first:012d}-{last:012d}-{blake3.blake3(compressed).hexdigest()[:12]}.ndjson.zst"
    path = folder / name
    _replace(path, compressed)
    # The file must outlive a crash before the transaction that points at it commits.
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def _archive_event(
    rule: str, reason: str, file: str, digest: str, records: list[dict[str, Any]]
) -> dict[str, Any]:
    return lifecycle_event(
        ARCHIVE_JOB,
        ARCHIVE_FACET,
        ARCHIVE_SCHEMA,
        rule,
        reason,
        file=file,
        fileBlake3=digest,
        records=records,
    )


def read_archive(path: Path) -> Iterator[dict[str, Any]]:
    """The lines of one archive file."""
    import zstandard

    data = zstandard.ZstdDecompressor().decompress(path.read_bytes(), max_output_size=1 << 34)
    for line in data.splitlines():
        if line.strip():
            yield orjson.loads(line)


class ColdReader:
    """Archived bodies, by ``seq``, read from the archive files (a few kept decompressed)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._files: OrderedDict[str, dict[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._files.clear()

    def bodies(self, conn: Connection, seqs: Sequence[int]) -> dict[int, bytes]:
        marks = {seq: m for seq, m in erasures(conn).items() if seq in set(seqs)}
        found: dict[int, bytes] = {}
        for seq in seqs:
            mark = marks.get(seq)
            if mark is None or mark.archived_in is None:
                continue
            found[seq] = self._body(mark, seq)
        return found

    def _body(self, mark: Erasure, seq: int) -> bytes:
        name = mark.archived_in
        assert name is not None
        with self._lock:
            lines = self._files.get(name)
            if lines is None:
                if self.folder is None or not (self.folder / name).is_file():
                    raise StoreUnavailable(
                        f"record {seq} is archived in {name}, which is not in the archive "
                        f"folder {self.folder}: restore it there to read the record"
                    )
                lines = {
                    int(item["seq"]): str(item["body"]).encode("utf-8", "surrogatepass")
                    for item in read_archive(self.folder / name)
                }
                self._files[name] = lines
                while len(self._files) > _CACHED_FILES:
                    self._files.popitem(last=False)
            else:
                self._files.move_to_end(name)
        body = lines.get(seq)
        if body is None or blake3.blake3(body).digest() != mark.body_digest:
            raise IntegrityError(
                f"archive file {name} does not hold record {seq} as archive record {mark.by} "
                "committed to it"
            )
        return body


def check_archives(store: Any) -> tuple[int, list[str]]:
    """Read every archive file the log names and check each archived body against its chain
    hash and commitment: how many bodies were checked, and what is wrong."""
    marks = store.read(erasures)
    problems: list[str] = []
    checked = 0
    by_file: dict[str, dict[int, Erasure]] = {}
    for seq, mark in marks.items():
        if mark.archived_in is not None:
            by_file.setdefault(mark.archived_in, {})[seq] = mark
    for name, records in sorted(by_file.items()):
        path = (store.archive_dir or Path(".")) / name
        if not path.is_file():
            problems.append(
                f"archive file {name} is missing (records {min(records)}..{max(records)})"
            )
            continue
        lines = {int(item["seq"]): item for item in read_archive(path)}
        for seq, mark in sorted(records.items()):
            item = lines.get(seq)
            if item is None:
                problems.append(f"archive file {name} lacks record {seq}")
                continue
            body = str(item["body"]).encode("utf-8", "surrogatepass")
            prev = bytes.fromhex(item["prev_hash"])
            if blake3.blake3(body).digest() != mark.body_digest or link(prev, body) != mark.hash:
                problems.append(f"archived record {seq} in {name} does not match its chain hash")
                continue
            checked += 1
    return checked, problems


def purge(store: Any) -> int:
    """Rewrite the archive files that still hold records the log no longer reads from them
    (records erased after they were archived: their original bodies must not survive in a
    file); returns how many lines were dropped.  The archive events still name the files;
    only records whose latest commitment is an archive are read from them."""
    folder = store.archive_dir
    if folder is None:
        return 0
    marks = store.read(erasures)
    import zstandard

    dropped = 0
    for path in sorted(folder.glob("log-*.ndjson.zst")):
        lines = list(read_archive(path))
        kept = [
            item
            for item in lines
            if (mark := marks.get(int(item["seq"]))) is not None and mark.archived_in == path.name
        ]
        if len(kept) == len(lines):
            continue
        dropped += len(lines) - len(kept)
        if not kept:  # every record erased since, or a file a killed run never committed
            path.unlink()
            continue
        data = b"".join(orjson.dumps(item) + b"\n" for item in kept)
        _replace(path, zstandard.ZstdCompressor(level=LEVEL).compress(data))
    store.forget_cold_cache()
    return dropped


def _replace(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(prefix=".archive-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


__all__ = ["ColdReader", "archive", "check_archives", "purge", "read_archive"]
