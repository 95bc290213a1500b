"""What the lifecycle rules select in a store, and what each would do: the plan ``threadline gc
--dry-run`` prints.

Every dataset version is weighed against the rules in order: the first rule that matches it and
whose ``older_than`` has passed since the version was last read or written decides.  A
``retain`` rule keeps the version from the rules after it; a legal hold keeps it from a
``delete`` (it is listed as held, with the hold's name).  Versions no rule matches are kept,
and so are versions an earlier ``delete`` already erased (counted apart).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.lifecycle.rules import LegalHold, LifecycleRule, Policy
from threadline.query.reading import printable, read
from threadline.store import schema as s
from threadline.store.base import Store

_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class Candidate:
    """One dataset version and what the rules make of it."""

    node: str
    version: str
    kind: str
    last_seen_us: int
    rule: str
    action: str
    held_by: str | None = None
    namespace: str = ""
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "version": self.version,
            "kind": self.kind,
            "last_seen_us": self.last_seen_us,
            "rule": self.rule,
            "action": self.action,
            "held_by": self.held_by,
        }


@dataclass(slots=True)
class RulePlan:
    rule: LifecycleRule
    versions: int = 0
    nodes: set[str] = field(default_factory=set)
    held: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.rule.to_dict(),
            "versions": self.versions,
            "nodes": len(self.nodes),
            "held": self.held,
        }


@dataclass(frozen=True, slots=True)
class Plan:
    now_us: int
    rules: tuple[RulePlan, ...]
    holds: tuple[LegalHold, ...]
    candidates: tuple[Candidate, ...]
    examined: int
    already_erased: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "now_us": self.now_us,
            "examined_versions": self.examined,
            "already_erased_versions": self.already_erased,
            "rules": [r.to_dict() for r in self.rules],
            "legal_holds": [h.to_dict() for h in self.holds],
            "candidates": [c.to_dict() for c in self.candidates],
        }


_VERSIONS: Final = (
    sa.select(
        s.nodes.c.id,
        s.nodes.c.kind,
        s.nodes.c.namespace,
        s.nodes.c.name,
        s.nodes.c.facets,
        s.versions.c.id.label("version_id"),
        s.versions.c.version,
        s.versions.c.last_seen_us,
        # Erased by an earlier delete (lifecycle/erase.py marks the entries it rewrites).
        s.versions.c.facets.like('%"threadline_erased"%').label("erased"),
    )
    .join(s.versions, s.versions.c.node_id == s.nodes.c.id)
    .where(s.nodes.c.type == "dataset")
    .order_by(s.nodes.c.id, s.versions.c.id)
)


def _labels(facets: str | bytes | None) -> frozenset[str]:
    if not facets:
        return frozenset()
    body = orjson.loads(facets).get("threadline_classification")
    if not isinstance(body, dict):
        return frozenset()
    return frozenset(str(x) for x in [*body.get("labels", []), *body.get("inherited", [])])


def _stages(conn: Connection, version_ids: Sequence[int]) -> dict[int, frozenset[str]]:
    """The stages of the jobs that wrote each version."""
    o, jv, jn = s.edges.alias("o"), s.versions.alias("jv"), s.nodes.alias("jn")
    found: dict[int, set[str]] = {}
    for start in range(0, len(version_ids), _CHUNK):
        chunk = list(version_ids[start : start + _CHUNK])
        rows = conn.execute(
            sa.select(o.c.dst, jn.c.facets)
            .join(jv, jv.c.id == o.c.src)
            .join(jn, jn.c.id == jv.c.node_id)
            .where(o.c.relation == "output", o.c.dst.in_(chunk))
        )
        for dst, facets in rows:
            stage = (orjson.loads(facets or b"{}").get("threadline_stage") or {}).get("stage")
            if isinstance(stage, str):
                found.setdefault(int(dst), set()).add(stage)
    return {k: frozenset(v) for k, v in found.items()}


def _rows(conn: Connection) -> Iterator[Any]:
    yield from conn.execution_options(yield_per=5_000).execute(_VERSIONS)


def make_plan(store: Store, policy: Policy, now_us: int) -> Plan:
    """Weigh every dataset version against ``policy`` as of ``now_us`` (epoch microseconds)."""
    plans = tuple(RulePlan(rule) for rule in policy.rules)
    wants_stage = any(r.match.stage for r in policy.rules) or any(
        h.match.stage for h in policy.holds
    )

    erased = 0

    def weigh(conn: Connection) -> tuple[list[Candidate], int]:
        nonlocal erased
        rows = []
        for row in _rows(conn):
            if row.erased:
                erased += 1
            else:
                rows.append(row)
        stages = _stages(conn, [int(r.version_id) for r in rows]) if wants_stage else {}
        candidates: list[Candidate] = []
        for row in rows:
            labels = _labels(row.facets)
            stage = stages.get(int(row.version_id), frozenset())
            age_us = now_us - int(row.last_seen_us)
            for plan in plans:
                rule = plan.rule
                if not rule.match.holds(row.namespace, row.kind, labels, stage):
                    continue
                if age_us < rule.older_than_seconds * 1_000_000:
                    continue
                node = printable(str(row.kind), str(row.namespace), str(row.name))
                held = None
                if rule.action == "delete":
                    held = next(
                        (
                            h.name
                            for h in policy.holds
                            if h.match.holds(row.namespace, row.kind, labels, stage)
                        ),
                        None,
                    )
                plan.versions += 1
                plan.nodes.add(node)
                if held is not None:
                    plan.held += 1
                if rule.action != "retain":
                    candidates.append(
                        Candidate(
                            node,
                            str(row.version),
                            str(row.kind),
                            int(row.last_seen_us),
                            rule.name,
                            rule.action,
                            held,
                            str(row.namespace),
                            str(row.name),
                        )
                    )
                break  # the first rule that applies decides
        return candidates, len(rows)

    candidates, examined = read(store, weigh)
    return Plan(now_us, plans, policy.holds, tuple(candidates), examined + erased, erased)


__all__ = ["Candidate", "Plan", "RulePlan", "make_plan"]
