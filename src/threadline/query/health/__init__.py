"""Lineage health: gaps, orphans, staleness, drift and broken fingerprints in the recorded graph.

:func:`run_health` runs the check families (one module each: :mod:`.gaps`, :mod:`.orphans`,
:mod:`.staleness`, :mod:`.drift`, :mod:`.fingerprints`) on one read connection and returns a
:class:`HealthReport` of :class:`Finding`\\ s, worst first.  ``threadline health``,
``GET /api/v1/threadline/health``, the server's scheduled check and the alerts all use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from sqlalchemy.engine import Connection

from threadline.config import Settings, current
from threadline.errors import UsageError
from threadline.query.health import drift, fingerprints, gaps, orphans, staleness
from threadline.query.health.context import Draft, HealthContext, namespaces_of
from threadline.query.health.findings import (
    SEVERITIES,
    Finding,
    HealthReport,
    ordered,
    severity_rank,
)
from threadline.query.reading import read
from threadline.store.base import Store

Check = Callable[[Connection, HealthContext], list[Draft]]

#: The check families, in the order they run.
FAMILIES: Final[dict[str, tuple[Check, ...]]] = {
    "gaps": gaps.CHECKS,
    "orphans": orphans.CHECKS,
    "staleness": staleness.CHECKS,
    "drift": drift.CHECKS,
    "fingerprints": fingerprints.CHECKS,
}

#: Every check's name, by family (what alert rules may name beside the families).
CHECK_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "gaps": (
        "model_without_training_data",
        "predictions_without_model",
        "run_never_ended",
        "job_without_run",
        "input_never_produced",
    ),
    "orphans": (
        "orphan_artifact",
        "model_never_evaluated",
        "model_never_deployed",
        "deployment_model_gone",
        "deployment_model_superseded",
    ),
    "staleness": ("stale_training_data",),
    "drift": ("schema_drift", "distribution_drift"),
    "fingerprints": ("file_missing", "file_changed", "file_unreadable", "prediction_origin_gone"),
}


def check_families(names: Iterable[str] | None) -> list[str]:
    """The families asked for (all of them for None or nothing); a UsageError names an unknown
    one and lists the known."""
    chosen = list(dict.fromkeys(names or ()))
    unknown = [n for n in chosen if n not in FAMILIES]
    if unknown:
        raise UsageError(
            f"unknown health check {unknown[0]!r}; expected one of {', '.join(FAMILIES)}"
        )
    return chosen or list(FAMILIES)


def context_from(settings: Settings, now_us: int | None = None) -> HealthContext:
    return HealthContext(
        now_us=time.time_ns() // 1000 if now_us is None else now_us,
        stale_run_us=int(settings.health_stale_run_seconds * 1_000_000),
        psi_threshold=settings.drift_psi_threshold,
        share_threshold=settings.drift_share_threshold,
    )


def run_health(
    store: Store,
    settings: Settings | None = None,
    *,
    namespace: str | None = None,
    families: Sequence[str] | None = None,
    now_us: int | None = None,
    keep_per_check: int | None = None,
) -> HealthReport:
    """Run the health checks (``families``: all by default) and return their findings, only
    those of ``namespace`` when given.  With ``keep_per_check``, only that many findings of
    each check are kept and the rest only counted (:attr:`HealthReport.omitted`): a bulk-loaded
    store can have hundreds of thousands, which a long-lived server must not hold at once."""
    chosen = check_families(families)
    ctx = context_from(settings or current(), now_us)
    started = time.perf_counter()
    omitted = dict.fromkeys(SEVERITIES, 0)

    def checks(conn: Connection) -> list[Finding]:
        drafts: list[tuple[str, Draft]] = []
        for family in chosen:
            for check in FAMILIES[family]:
                found = check(conn, ctx)
                if namespace is None and keep_per_check is not None:
                    kept: dict[str, int] = {}
                    for draft in found:
                        if kept.get(draft.check, 0) < keep_per_check:
                            kept[draft.check] = kept.get(draft.check, 0) + 1
                            drafts.append((family, draft))
                        else:
                            omitted[draft.severity] += 1
                else:
                    drafts.extend((family, draft) for draft in found)
                del found
        ctx.memo.clear()
        spaces = namespaces_of(conn, list({d.node.id: d.node for _, d in drafts}.values()))
        return [
            Finding(
                check=d.check,
                family=family,
                severity=d.severity,
                node=d.node.printable(d.version),
                message=d.message,
                hint=d.hint,
                namespace=spaces.get(d.node.id, d.node.namespace),
                details=d.details,
            )
            for family, d in drafts
        ]

    found = read(store, checks)
    if namespace is not None:
        found = [f for f in found if f.namespace == namespace]
    return HealthReport(
        findings=ordered(found),
        checks=chosen,
        checked_at_us=ctx.now_us,
        seconds=time.perf_counter() - started,
        omitted={s: n for s, n in omitted.items() if n},
    )


__all__ = [
    "CHECK_NAMES",
    "FAMILIES",
    "SEVERITIES",
    "Finding",
    "HealthReport",
    "check_families",
    "run_health",
    "severity_rank",
]
