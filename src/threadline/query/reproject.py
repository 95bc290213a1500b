"""``threadline verify --deep``: the graph tables against a re-projection of the log.

The chain and the Merkle checkpoints vouch for the log; every query reads the derived graph
(``tl_nodes``, ``tl_versions``, ``tl_edges``, ``tl_runs``), which the store's operator can
edit without touching the log.  :func:`deep_check` replays every stored body, in log order,
into a scratch SQLite store through the same projection code the store ran at ingest, then
compares the two graphs row by row under their natural keys (surrogate row ids differ between
stores, so foreign ids are translated to the keys they point at): each stored row that was
edited (table, key, column, both values), added (no event gives it) or deleted (an event gives
it, the store lacks it) is named.

It also re-fingerprints the files recorded on this host that still exist and lists those whose
bytes no longer match their newest recorded version (the data changed after it was recorded).

Cost: the replay is an ingest of the whole log, and both graphs are held in memory while they
are compared; it is an audit, not something to run per request.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from threadline.errors import ThreadlineError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import local_host
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.archive import check_archives
from threadline.store.base import Store
from threadline.store.rebuild import project_log
from threadline.store.sql import SqlStore

Key = tuple[Any, ...]
Rows = dict[Key, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Difference:
    """One derived row that is not what the log gives."""

    table: str
    key: str
    """The row's natural key, printed (e.g. ``dataset file://h /raw.csv``)."""
    change: str
    """``edited``, ``added`` (no event gives the row) or ``deleted`` (the store lacks it)."""
    column: str | None = None
    stored: Any = None
    expected: Any = None

    @property
    def message(self) -> str:
        where = f"{self.table} [{self.key}]"
        if self.change == "edited":
            return (
                f"{where} column {self.column} was edited: stored {_short(self.stored)}, "
                f"the log gives {_short(self.expected)}"
            )
        if self.change == "added":
            return f"{where} was added: no event in the log gives this row"
        return f"{where} was deleted: the log gives this row, the store lacks it"

    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "key": self.key,
            "change": self.change,
            "column": self.column,
            "stored": _plain(self.stored),
            "expected": _plain(self.expected),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ChangedFile:
    """A recorded file whose bytes are no longer those of its newest recorded version."""

    path: str
    recorded: str
    current: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "recorded": self.recorded,
            "current": self.current,
            "message": f"{self.path} changed since it was recorded: its bytes are "
            f"{self.current[:19]}…, the newest recorded version is {self.recorded[:19]}…",
        }


@dataclass(slots=True)
class DeepReport:
    rows: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    files_checked: int = 0
    changed_files: list[ChangedFile] = field(default_factory=list)
    archived_checked: int = 0
    archive_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.changed_files and not self.archive_problems

    @property
    def summary(self) -> str:
        rows = sum(self.rows.values())
        text = (
            f"{len(self.differences)} graph row difference(s) in {rows} rows compared, "
            f"{len(self.changed_files)} of {self.files_checked} recorded file(s) changed"
        )
        if self.archived_checked or self.archive_problems:
            text += (
                f", {self.archived_checked} archived record(s) checked against their chain "
                f"hashes ({len(self.archive_problems)} problem(s))"
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary,
            "rows": dict(self.rows),
            "differences": [d.to_dict() for d in self.differences],
            "files_checked": self.files_checked,
            "changed_files": [f.to_dict() for f in self.changed_files],
            "archived_checked": self.archived_checked,
            "archive_problems": list(self.archive_problems),
        }


def deep_check(store: Store, *, check_files: bool = True) -> DeepReport:
    """Compare ``store``'s graph with a re-projection of its log; see the module docstring.

    Archived records are replayed from their archive files, which are checked first: when
    one is missing or altered, the report names it and the graph is not compared (the log
    cannot be read whole)."""
    report = DeepReport()
    if isinstance(store, SqlStore):
        report.archived_checked, report.archive_problems = check_archives(store)
        if report.archive_problems:
            return report
    with tempfile.TemporaryDirectory(prefix="threadline-deep-") as folder:
        scratch = open_store(Path(folder) / "scratch.db")
        try:
            project_log(store, scratch)
            stored, expected = graph_rows(store), graph_rows(scratch)
        finally:
            scratch.close()
    for table in TABLES:
        report.rows[table] = len(stored[table])
        report.differences.extend(compare(table, stored[table], expected[table]))
    if check_files:
        report.files_checked, report.changed_files = changed_files(expected)
    return report


# --- the graph under natural keys ----------------------------------------------------------

TABLES = ("tl_nodes", "tl_versions", "tl_edges", "tl_runs")


def graph_rows(store: Store) -> dict[str, Rows]:
    """Each graph table's rows keyed by natural key, foreign ids translated to keys."""

    def read(conn: sa.Connection) -> dict[str, list[dict[str, Any]]]:
        return {
            table.name: [dict(row) for row in conn.execute(sa.select(table)).mappings()]
            for table in (s.nodes, s.versions, s.edges, s.runs)
        }

    raw = store.read(read)
    node_key = {row["id"]: (row["type"], row["namespace"], row["name"]) for row in raw["tl_nodes"]}
    version_key = {
        row["id"]: (_node(node_key, row["node_id"]), row["version"]) for row in raw["tl_versions"]
    }

    def keyed(
        rows: list[dict[str, Any]],
        key: Callable[[dict[str, Any]], Key],
        translate: Mapping[str, Callable[[Any], Any]],
        drop: tuple[str, ...],
    ) -> Rows:
        out: Rows = {}
        for row in rows:
            values = {
                name: translate[name](value) if name in translate else value
                for name, value in row.items()
                if name not in drop
            }
            out[key(row)] = values
        return out

    def version(row_id: Any) -> Any:
        return None if row_id is None else version_key.get(row_id, ("?", f"row id {row_id}"))

    return {
        "tl_nodes": keyed(raw["tl_nodes"], lambda r: node_key[r["id"]], {}, ("id",)),
        "tl_versions": keyed(
            raw["tl_versions"], lambda r: version_key[r["id"]], {}, ("id", "node_id")
        ),
        "tl_edges": keyed(
            raw["tl_edges"],
            lambda r: (version(r["src"]), version(r["dst"]), r["relation"]),
            {},
            ("src", "dst", "relation"),
        ),
        "tl_runs": keyed(
            raw["tl_runs"],
            lambda r: (r["run_id"],),
            {"job_node_id": lambda v: _node(node_key, v), "execution_id": version},
            ("run_id",),
        ),
    }


def _node(node_key: Mapping[Any, Key], row_id: Any) -> Key:
    return node_key.get(row_id, ("?", "?", f"row id {row_id}"))


def compare(table: str, stored: Rows, expected: Rows) -> Iterator[Difference]:
    """The differences of one table, in key order."""
    for key in sorted(stored.keys() | expected.keys(), key=repr):
        label = _label(key)
        if key not in expected:
            yield Difference(table, label, "added")
        elif key not in stored:
            yield Difference(table, label, "deleted")
        else:
            have, want = stored[key], expected[key]
            for column in want:
                if not _same(have.get(column), want[column]):
                    yield Difference(table, label, "edited", column, have.get(column), want[column])


def _same(stored: Any, expected: Any) -> bool:
    """Equal values; JSON columns (facets) compared as JSON values.

    Ingest projects the event as it arrived and the log keeps its canonical form (RFC 8785
    writes ``1.0`` as ``1``), so a replayed facet may differ in spelling only.
    """
    if stored == expected:
        return True
    if isinstance(stored, str) and isinstance(expected, str) and expected.startswith("{"):
        try:
            return bool(orjson.loads(stored) == orjson.loads(expected))
        except orjson.JSONDecodeError:
            return False
    return False


def _label(key: Key) -> str:
    """``dataset file://h /raw.csv`` (node), ``… @ b3:01`` (version), ``… → … (input)``
    (edge), the run id (run)."""
    if len(key) == 3 and isinstance(key[0], tuple):
        return f"{_label(key[0])} → {_label(key[1])} ({key[2]})"
    if len(key) == 2 and isinstance(key[0], tuple):
        return f"{_label(key[0])} @ {key[1]}"
    return " ".join(str(part) for part in key)


def _short(value: Any, width: int = 80) -> str:
    text = repr(_plain(value))
    return text if len(text) <= width else text[: width - 1] + "…"


def _plain(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# --- files ---------------------------------------------------------------------------------


def changed_files(expected: Mapping[str, Rows]) -> tuple[int, list[ChangedFile]]:
    """How many recorded files of this host still exist, and those whose content changed.

    The re-projected graph is read (not the stored one, which may have been edited): the
    newest content version (``b3:…``) recorded of each ``file://<this host>`` node.
    """
    namespace = f"file://{local_host()}"
    newest: dict[str, tuple[int, int, str]] = {}
    for (node, version), row in expected["tl_versions"].items():
        if node[1] != namespace or not str(version).startswith("b3:"):
            continue
        seen = (int(row["first_seen_us"]), int(row["first_seq"]), str(version))
        newest[node[2]] = max(newest.get(node[2], seen), seen)
    checked, changed = 0, []
    for path, (_us, _seq, recorded) in sorted(newest.items()):
        if not os.path.exists(path):
            continue
        try:
            current = fingerprint_path(path, cache=None)
        except (ThreadlineError, OSError):
            continue  # unreadable now: nothing to compare
        checked += 1
        if current != recorded:
            changed.append(ChangedFile(path, recorded, current))
    return checked, changed


__all__ = [
    "ChangedFile",
    "DeepReport",
    "Difference",
    "changed_files",
    "compare",
    "deep_check",
    "graph_rows",
]
