"""Lifecycle rules, read from ``[[tool.threadline.lifecycle]]`` and ``[[tool.threadline.legal_hold]]``
(``[[lifecycle]]`` and ``[[legal_hold]]`` in threadline.toml)::

    [[tool.threadline.lifecycle]]
    name = "crm-pii"                                 # optional; default: "lifecycle #N"
    match = { namespace = "crm", label = "pii" }     # also kind, stage; patterns allowed (crm-*)
    older_than = "30d"                               # s, m, h, d, w
    action = "delete"                                # retain | archive | delete
    reason = "GDPR art. 17 requests, ticket queue PRIV"

    [[tool.threadline.legal_hold]]
    match = { namespace = "crm", label = "pii" }
    reason = "litigation hold L-2291"

A rule applies to dataset versions (files, tables, features, models, predictions…) its ``match``
selects that nothing has read or written for ``older_than``.  ``retain`` keeps what it matches
from the other rules; a legal hold keeps what it matches from deletion.  A rule that does not
hold is refused naming the settings file and the line of the offending key, e.g.
``pyproject.toml:14: lifecycle rule 'crm-pii': older_than: '30 days' is not a duration``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from threadline.errors import UsageError
from threadline.model.stages import STAGES

ACTIONS: Final = ("retain", "archive", "delete")
MATCH_KEYS: Final = ("namespace", "label", "kind", "stage")
_RULE_KEYS: Final = frozenset({"name", "match", "older_than", "action", "reason"})
_HOLD_KEYS: Final = frozenset({"name", "match", "reason"})
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


@dataclass(frozen=True, slots=True)
class Match:
    """Which dataset versions a rule selects; every given field must hold (patterns: fnmatch)."""

    namespace: str | None = None
    label: str | None = None
    kind: str | None = None
    stage: str | None = None

    def holds(
        self, namespace: str, kind: str, labels: frozenset[str], stages: frozenset[str]
    ) -> bool:
        if self.namespace is not None and not fnmatch.fnmatchcase(namespace, self.namespace):
            return False
        if self.kind is not None and not fnmatch.fnmatchcase(kind, self.kind):
            return False
        if self.label is not None and not any(
            fnmatch.fnmatchcase(label, self.label) for label in labels
        ):
            return False
        return self.stage is None or self.stage in stages

    def to_dict(self) -> dict[str, str]:
        return {key: value for key in MATCH_KEYS if (value := getattr(self, key)) is not None}


@dataclass(frozen=True, slots=True)
class LifecycleRule:
    name: str
    match: Match
    older_than_seconds: float
    action: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "match": self.match.to_dict(),
            "older_than_seconds": self.older_than_seconds,
            "action": self.action,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class LegalHold:
    name: str
    match: Match
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "match": self.match.to_dict(), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Policy:
    rules: tuple[LifecycleRule, ...]
    holds: tuple[LegalHold, ...]


def parse_duration(text: str) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``2w``, ``45s``; ValueError otherwise."""
    found = _DURATION.match(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"{text!r} is not a duration (a number and s, m, h, d or w: 30d)")
    return float(found.group(1)) * _UNITS[found.group(2)]


class _Where:
    """Names a rule and finds the line of one of its keys in the settings file."""

    def __init__(self, section: str, index: int, name: str, source: _Source | None) -> None:
        self.section, self.index, self.name, self.source = section, index, name, source

    def fail(self, key: str, problem: str) -> UsageError:
        what = "legal hold" if self.section == "legal_hold" else "lifecycle rule"
        place = self.source.place(self.section, self.index, key) if self.source else ""
        return UsageError(f"{place}{what} {self.name!r}: {key}: {problem}")


class _Source:
    """The settings file's text, to say on which line a rule's key stands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            self.lines = []

    def place(self, section: str, index: int, key: str) -> str:
        header = re.compile(rf"^\s*\[\[\s*(?:tool\.threadline\.)?{section}\s*\]\]")
        starts = [n for n, line in enumerate(self.lines) if header.match(line)]
        if index >= len(starts):
            return f"{self.path.name}: "
        start = starts[index]
        end = next(
            (
                n
                for n in range(start + 1, len(self.lines))
                if self.lines[n].lstrip().startswith("[")
            ),
            len(self.lines),
        )
        top = key.split(".", 1)[0]
        nested = key.split(".", 1)[1] if "." in key else None
        for n in range(start + 1, end):
            line = self.lines[n]
            if re.match(rf"^\s*{re.escape(top)}\s*=", line) and (
                nested is None or re.search(rf"\b{re.escape(nested)}\s*=", line)
            ):
                return f"{self.path.name}:{n + 1}: "
        return f"{self.path.name}:{start + 1}: "


def _text(where: _Where, raw: Mapping[str, Any], key: str, *, required: bool) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise where.fail(key, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise where.fail(key, f"{value!r} is not a non-empty text")
    return value.strip()


def _match(where: _Where, raw: Mapping[str, Any]) -> Match:
    value = raw.get("match")
    if value is None:
        raise where.fail("match", f"is required (a table of {', '.join(MATCH_KEYS)})")
    if not isinstance(value, Mapping):
        raise where.fail("match", f'{value!r} is not a table ({{ namespace = "crm" }})')
    unknown = sorted(set(value) - set(MATCH_KEYS))
    if unknown:
        raise where.fail(
            f"match.{unknown[0]}", f"unknown field; expected one of {', '.join(MATCH_KEYS)}"
        )
    if not value:
        raise where.fail("match", "is empty: a rule must say what it matches")
    fields: dict[str, str] = {}
    for key in MATCH_KEYS:
        item = value.get(key)
        if item is None:
            continue
        if not isinstance(item, str) or not item.strip():
            raise where.fail(f"match.{key}", f"{item!r} is not a non-empty text")
        fields[key] = item.strip()
    if "stage" in fields and fields["stage"] not in STAGES:
        raise where.fail("match.stage", f"{fields['stage']!r} is not one of {', '.join(STAGES)}")
    return Match(**fields)


def _check_keys(where: _Where, raw: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise where.fail(unknown[0], f"unknown field; expected one of {', '.join(sorted(allowed))}")


def _section(table: Mapping[str, Any], key: str) -> list[Any]:
    raw = table.get(key, [])
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise UsageError(f"{key}: {raw!r} is not a list of tables ([[tool.threadline.{key}]])")
    return raw


def policy_from(table: Mapping[str, Any] | None, source: Path | None = None) -> Policy:
    """The lifecycle rules and legal holds of a settings file's table, checked; ``source`` is
    the file, for the line numbers of errors."""
    text = _Source(source) if source is not None else None
    table = table or {}
    rules: list[LifecycleRule] = []
    for index, raw in enumerate(_section(table, "lifecycle")):
        where = _Where("lifecycle", index, f"lifecycle #{index + 1}", text)
        if not isinstance(raw, Mapping):
            raise where.fail("lifecycle", f"{raw!r} is not a table")
        where.name = _text(where, raw, "name", required=False) or where.name
        _check_keys(where, raw, _RULE_KEYS)
        match = _match(where, raw)
        action = _text(where, raw, "action", required=True)
        if action not in ACTIONS:
            raise where.fail("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
        older = raw.get("older_than")
        if older is None:
            raise where.fail("older_than", "is required (30d, 12h, …)")
        try:
            seconds = parse_duration(older)
        except ValueError as exc:
            raise where.fail("older_than", str(exc)) from None
        reason = _text(where, raw, "reason", required=action != "retain") or ""
        rules.append(LifecycleRule(where.name, match, seconds, action, reason))
    holds: list[LegalHold] = []
    for index, raw in enumerate(_section(table, "legal_hold")):
        where = _Where("legal_hold", index, f"legal hold #{index + 1}", text)
        if not isinstance(raw, Mapping):
            raise where.fail("legal_hold", f"{raw!r} is not a table")
        where.name = _text(where, raw, "name", required=False) or where.name
        _check_keys(where, raw, _HOLD_KEYS)
        holds.append(
            LegalHold(
                where.name, _match(where, raw), _text(where, raw, "reason", required=True) or ""
            )
        )
    names = [r.name for r in rules] + [h.name for h in holds]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise UsageError(f"lifecycle: two rules are named {name!r}; give each its own name")
    return Policy(tuple(rules), tuple(holds))


def settings_file(source_dir: str | None) -> Path | None:
    """The settings file in ``source_dir`` (threadline.toml before pyproject.toml)."""
    if source_dir is None:
        return None
    for name in ("threadline.toml", "pyproject.toml"):
        candidate = Path(source_dir) / name
        if candidate.is_file():
            return candidate
    return None


__all__ = [
    "ACTIONS",
    "MATCH_KEYS",
    "LegalHold",
    "LifecycleRule",
    "Match",
    "Policy",
    "parse_duration",
    "policy_from",
    "settings_file",
]
