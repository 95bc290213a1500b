"""What a health check reports: :class:`Finding`, and a run of checks as a :class:`HealthReport`.

A finding names the check that raised it, how bad it is (``info`` < ``warn`` < ``error``), the
node it is about (a printable id), one line saying what is wrong and one saying how to fix it.
Its :attr:`Finding.key` (check and node) stays the same while the problem lasts, and its
:attr:`Finding.digest` changes when what the problem *is* changes (a second column drifts, a
third input gets a newer version): alerts are de-duplicated on the first and re-sent on the
second.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import blake3
import orjson

from threadline.errors import UsageError

#: Severities, least severe first.
SEVERITIES: Final = ("info", "warn", "error")
_RANK: Final = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """The rank of ``severity`` (higher is worse); a UsageError names the known ones."""
    try:
        return _RANK[severity]
    except KeyError:
        raise UsageError(
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITIES)}"
        ) from None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in the recorded lineage."""

    check: str
    """The check that found it, e.g. ``model_without_training_data``."""
    family: str
    """The check's family: ``gaps``, ``orphans``, ``staleness``, ``drift`` or ``fingerprints``."""
    severity: str
    """``info``, ``warn`` or ``error``."""
    node: str
    """The printable id of the node (or version) it is about."""
    message: str
    """One line: what is wrong."""
    hint: str
    """One line: how to fix it."""
    namespace: str = ""
    """The namespace the node belongs to (its job's, for a dataset some run wrote)."""
    details: dict[str, Any] = field(default_factory=dict)
    """Figures behind the message (counts, ages, columns), in JSON types."""

    @property
    def key(self) -> str:
        """What the finding is about: the same while the problem lasts."""
        return f"{self.check}\x1f{self.node}"

    @property
    def digest(self) -> str:
        """What the finding says: changes when the problem changes."""
        body = orjson.dumps(
            {"severity": self.severity, "message": self.message, "details": self.details},
            option=orjson.OPT_SORT_KEYS,
        )
        return blake3.blake3(body).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "family": self.family,
            "severity": self.severity,
            "node": self.node,
            "namespace": self.namespace,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Every finding of one health run, worst first, and what the run looked at."""

    findings: Sequence[Finding]
    checks: Sequence[str]
    """The check families that ran."""
    checked_at_us: int
    seconds: float
    """How long the checks took."""
    omitted: Mapping[str, int] = field(default_factory=dict)
    """Findings per severity counted but not kept (a run told to keep only the first few of
    each check: the server's scheduled check on a large store)."""

    def counts(self) -> dict[str, int]:
        """Findings per severity (every severity present, zero or not), omitted ones included."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        for severity, count in self.omitted.items():
            counts[severity] += count
        return counts

    def worst(self) -> str | None:
        """The worst severity found, or None when nothing was."""
        present = [s for s, n in self.counts().items() if n]
        return max(present, key=severity_rank) if present else None

    def fails(self, threshold: str) -> bool:
        """Whether any finding is at least as bad as ``threshold`` (``--fail-on``)."""
        floor = severity_rank(threshold)
        return any(severity_rank(s) >= floor for s, n in self.counts().items() if n)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "checked_at_us": self.checked_at_us,
            "seconds": round(self.seconds, 4),
            "checks": list(self.checks),
            "counts": self.counts(),
            "findings": [f.to_dict() for f in self.findings],
        }
        if any(self.omitted.values()):
            body["omitted"] = dict(self.omitted)
        return body


def ordered(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by check and node: a stable order for people and for diffs."""
    return sorted(findings, key=lambda f: (-severity_rank(f.severity), f.check, f.node))


__all__ = ["SEVERITIES", "Finding", "HealthReport", "ordered", "severity_rank"]
