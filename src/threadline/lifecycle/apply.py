"""``threadline gc``: applying the lifecycle rules to a store.

One run:

1. weighs every dataset version against the rules (:mod:`.plan`);
2. for each ``delete`` rule, erases the versions it selects that no legal hold keeps
   (:mod:`.erase`): the log is read once per rule, and the records that name an erased
   version are rewritten in batches, each batch one transaction with its erasure event
   (:func:`threadline.store.erasure.erase`); an erased record that had been archived is
   dropped from its archive file too;
3. for each ``archive`` rule, moves the bodies of the records older than the rule that name a
   version it selects into archive files (:func:`threadline.store.archive.archive`), one file
   and one archive event per batch; the graph is untouched, and reads of those records find
   them in the files;
4. rebuilds the graph from the rewritten log (:func:`threadline.store.rebuild.rebuild_graph`);
5. forgets the run's pseudonym salt and rewrites the database files so the erased and archived
   bytes are gone from the disk.

Killed at any point (``kill -9`` included), a run leaves every committed batch erased and the
graph marked stale; the next run finishes the rebuild and carries on from the records not yet
rewritten, under the same pseudonyms.  A run with nothing left to do changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import sqlalchemy as sa

from threadline.lifecycle.erase import Target, mentions, pseudonym, rewritten_body
from threadline.lifecycle.plan import Candidate, Plan, make_plan
from threadline.lifecycle.rules import LifecycleRule, Policy
from threadline.store import schema as s
from threadline.store.archive import archive, purge
from threadline.store.base import Cursor
from threadline.store.erasure import (
    Rewrite,
    erase,
    erasure_salt,
    forget_erasure_salt,
    reclaim_space,
)
from threadline.store.rebuild import log_head, rebuild_graph, stale_since
from threadline.store.sql import SqlStore

#: Records rewritten per transaction (and named by one erasure event).
BATCH: Final = 500
#: Records moved per archive file (and named by one archive event).
ARCHIVE_BATCH: Final = 5_000
#: Stored events read per page while looking for the records to rewrite.
_PAGE: Final = 2_000

#: ``progress(phase, done, total)``; phases: ``erase:<rule>``, ``archive:<rule>``, ``rebuild``.
Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class RuleOutcome:
    rule: str
    versions: int = 0
    nodes: int = 0
    records: int = 0
    erasure_events: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "versions": self.versions,
            "nodes": self.nodes,
            "records_rewritten": self.records,
            "erasure_events": self.erasure_events,
        }


@dataclass(slots=True)
class ArchiveOutcome:
    rule: str
    versions: int = 0
    records: int = 0
    files: list[str] = field(default_factory=list)
    archive_events: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "versions": self.versions,
            "records_archived": self.records,
            "files": self.files,
            "archive_events": self.archive_events,
        }


@dataclass(slots=True)
class GcReport:
    plan: Plan
    erased: list[RuleOutcome] = field(default_factory=list)
    archived: list[ArchiveOutcome] = field(default_factory=list)
    held: int = 0
    rebuilt_events: int | None = None
    resumed: bool = False

    @property
    def records(self) -> int:
        return sum(o.records for o in self.erased)

    def to_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_dict(),
            "erased": [o.to_dict() for o in self.erased],
            "records_rewritten": self.records,
            "archived": [o.to_dict() for o in self.archived],
            "records_archived": sum(o.records for o in self.archived),
            "held_by_legal_hold": self.held,
            "graph_rebuilt_from_events": self.rebuilt_events,
            "resumed": self.resumed,
        }


def apply_policy(
    store: SqlStore, policy: Policy, now_us: int, *, progress: Progress | None = None
) -> GcReport:
    """Apply ``policy`` to ``store`` as of ``now_us`` (see the module docstring)."""
    resumed = stale_since(store) is not None
    plan = make_plan(store, policy, now_us)
    report = GcReport(plan, resumed=resumed)
    report.held = sum(1 for c in plan.candidates if c.action == "delete" and c.held_by)
    chosen = [c for c in plan.candidates if c.action == "delete" and not c.held_by]
    if chosen:
        salt = erasure_salt(store)
        for rule in policy.rules:
            mine = [c for c in chosen if c.rule == rule.name]
            if mine:
                report.erased.append(_erase_rule(store, rule, mine, salt, progress))
    if chosen or resumed:
        purge(store)
    cold = [c for c in plan.candidates if c.action == "archive"]
    for rule in policy.rules:
        mine = [c for c in cold if c.rule == rule.name]
        if mine:
            report.archived.append(_archive_rule(store, rule, mine, now_us, progress))
    if stale_since(store) is not None:
        rebuilt = rebuild_graph(
            store,
            progress=(lambda done, total: progress("rebuild", done, total)) if progress else None,
        )
        report.rebuilt_events = rebuilt.events
    if chosen or resumed:
        forget_erasure_salt(store)
    if chosen or resumed or any(o.records for o in report.archived):
        reclaim_space(store)
    return report


def _targets_of(rule: LifecycleRule, candidates: list[Candidate]) -> dict[tuple[str, str], Target]:
    by_node: dict[tuple[str, str], set[str]] = {}
    for c in candidates:
        by_node.setdefault((c.namespace, c.name), set()).add(c.version)
    return {key: Target(*key, rule.name, frozenset(v)) for key, v in by_node.items()}


def _archive_rule(
    store: SqlStore,
    rule: LifecycleRule,
    candidates: list[Candidate],
    now_us: int,
    progress: Progress | None,
) -> ArchiveOutcome:
    outcome = ArchiveOutcome(rule.name, versions=len(candidates))
    targets = _targets_of(rule, candidates)
    needles = [t.needle() for t in targets.values()]
    cutoff = now_us - int(rule.older_than_seconds * 1_000_000)
    head = log_head(store)
    phase = f"archive:{rule.name}"
    pending: list[int] = []
    after = 0
    e = s.events
    while True:

        def page(conn: sa.Connection, after: int = after) -> list[tuple[int, bytes]]:
            rows = conn.execute(
                sa.select(e.c.seq, e.c.body)
                .where(e.c.seq > after, e.c.event_time_us < cutoff)
                .order_by(e.c.seq)
                .limit(_PAGE)
            )
            return [(int(seq), s.as_bytes(body)) for seq, body in rows]

        rows = store.read(page)
        if not rows:
            break
        for seq, body in rows:
            if body and mentions(body, targets, needles):
                pending.append(seq)
                if len(pending) >= ARCHIVE_BATCH:
                    _move(store, rule, pending, outcome)
        after = rows[-1][0]
        if progress is not None:
            progress(phase, min(after, head), head)
    if pending:
        _move(store, rule, pending, outcome)
    if progress is not None:
        progress(phase, head, head)
    return outcome


def _move(
    store: SqlStore, rule: LifecycleRule, pending: list[int], outcome: ArchiveOutcome
) -> None:
    moved = archive(store, pending, rule=rule.name, reason=rule.reason)
    if moved is not None:
        seq, path = moved
        outcome.archive_events.append(seq)
        outcome.files.append(path.name)
        outcome.records += len(pending)
    pending.clear()


def _erase_rule(
    store: SqlStore,
    rule: LifecycleRule,
    candidates: list[Candidate],
    salt: bytes,
    progress: Progress | None,
) -> RuleOutcome:
    outcome = RuleOutcome(rule.name, versions=len(candidates))
    by_node: dict[tuple[str, str], set[str]] = {}
    for c in candidates:
        by_node.setdefault((c.namespace, c.name), set()).add(c.version)
    outcome.nodes = len(by_node)
    totals = _version_counts(store, list(by_node))
    targets: dict[tuple[str, str], Target] = {}
    for key, versions in by_node.items():
        total, erased = totals.get(key, (0, 0))
        if len(versions) + erased >= total:
            # Every version goes (now or before): the name goes with them.
            targets[key] = Target(*key, rule.name, None, pseudonym(salt, *key))
        else:
            targets[key] = Target(*key, rule.name, frozenset(versions))
    needles = [t.needle() for t in targets.values()]
    head = log_head(store)
    pending: list[Rewrite] = []
    cursor = Cursor(0)
    phase = f"erase:{rule.name}"
    while True:
        page = store.read_after(cursor, _PAGE)
        if not page:
            break
        for event in page:
            new = rewritten_body(event.body, targets, needles)
            if new is not None:
                pending.append(Rewrite(event.seq, event.body, new))
                if len(pending) >= BATCH:
                    _commit(store, rule, pending, outcome)
        cursor = Cursor(page[-1].seq)
        if progress is not None:
            progress(phase, min(cursor.seq, head), head)
    if pending:
        _commit(store, rule, pending, outcome)
    return outcome


def _commit(
    store: SqlStore, rule: LifecycleRule, pending: list[Rewrite], outcome: RuleOutcome
) -> None:
    outcome.erasure_events.append(erase(store, pending, rule=rule.name, reason=rule.reason))
    outcome.records += len(pending)
    pending.clear()


def _version_counts(
    store: SqlStore, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int]]:
    """Per dataset: how many versions it has, and how many of them are erased already."""
    n, v = s.nodes, s.versions
    wanted = {s.node_identity("dataset", ns, name): (ns, name) for ns, name in keys}

    def read(conn: sa.Connection) -> dict[tuple[str, str], tuple[int, int]]:
        found: dict[tuple[str, str], tuple[int, int]] = {}
        identities = list(wanted)
        for start in range(0, len(identities), 500):
            rows = conn.execute(
                sa.select(
                    n.c.identity,
                    sa.func.count(v.c.id),
                    sa.func.sum(sa.case((v.c.facets.like('%"threadline_erased"%'), 1), else_=0)),
                )
                .join(v, v.c.node_id == n.c.id)
                .where(n.c.identity.in_(identities[start : start + 500]))
                .group_by(n.c.identity)
            )
            for identity, total, erased in rows:
                found[wanted[s.as_bytes(identity)]] = (int(total), int(erased or 0))
        return found

    return store.read(read)


__all__ = ["BATCH", "GcReport", "Progress", "RuleOutcome", "apply_policy"]
