"""Alert rules, read from ``[[tool.threadline.alert]]`` (or ``[[alert]]`` in threadline.toml).

::

    [[tool.threadline.alert]]
    name = "fraud-models"                       # required, unique
    checks = ["gaps", "stale_training_data"]    # families or check names (default: all)
    namespaces = ["fraud"]                      # default: all
    severities = ["warn", "error"]              # default: all
    destinations = [
      { type = "webhook", url = "https://ops.example/hook", secret_env = "TL_ALERT_SECRET" },
      { type = "slack", url = "https://hooks.slack.com/services/…", secret = "…" },
      { type = "nats", url = "nats://127.0.0.1:4222", subject = "threadline.alerts" },
      { type = "sse" },
    ]

A rule that does not hold is refused with one line naming the rule and the field
(``alert rule 'fraud-models' (#1): destinations[0].url: …``).
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from threadline.errors import UsageError
from threadline.query.health import CHECK_NAMES, SEVERITIES
from threadline.query.health.findings import Finding

DESTINATION_TYPES: Final = ("webhook", "slack", "nats", "sse")
_RULE_FIELDS: Final = frozenset({"name", "checks", "namespaces", "severities", "destinations"})
_DESTINATION_FIELDS: Final = {
    "webhook": frozenset({"type", "url", "secret", "secret_env"}),
    "slack": frozenset({"type", "url", "secret", "secret_env"}),
    "nats": frozenset({"type", "url", "subject"}),
    "sse": frozenset({"type"}),
}
_ALL_CHECKS: Final = frozenset(name for names in CHECK_NAMES.values() for name in names)


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a rule's alerts go."""

    type: str
    url: str | None = None
    secret: str | None = None
    """HMAC-SHA256 key the webhook bodies are signed with (webhook and slack)."""
    subject: str | None = None

    @property
    def label(self) -> str:
        """How the delivery log names it (never the secret)."""
        if self.type == "nats":
            return f"nats {self.url} {self.subject}"
        if self.type == "sse":
            return "sse"
        return f"{self.type} {self.url}"


@dataclass(frozen=True, slots=True)
class AlertRule:
    name: str
    checks: frozenset[str]
    """Check names (families expanded); empty: every check."""
    namespaces: frozenset[str]
    severities: frozenset[str]
    destinations: tuple[Destination, ...]

    def matches(self, finding: Finding) -> bool:
        return (
            (not self.checks or finding.check in self.checks)
            and (not self.namespaces or finding.namespace in self.namespaces)
            and (not self.severities or finding.severity in self.severities)
        )


class _Where:
    def __init__(self, name: str, index: int) -> None:
        self.prefix = f"alert rule {name!r} (#{index + 1})"

    def fail(self, field: str, problem: str) -> UsageError:
        return UsageError(f"{self.prefix}: {field}: {problem}")


def _strings(where: _Where, raw: Mapping[str, Any], field: str) -> list[str]:
    value = raw.get(field, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise where.fail(field, f"{value!r} is not a list of names")
    return value


def _url(where: _Where, field: str, value: Any, schemes: Sequence[str], example: str) -> str:
    parsed = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if parsed is None or parsed.scheme not in schemes or not parsed.hostname:
        raise where.fail(field, f"{value!r} is not a {'/'.join(schemes)} URL (e.g. {example})")
    return str(value)


def _destination(where: _Where, index: int, raw: Any, environ: Mapping[str, str]) -> Destination:
    field = f"destinations[{index}]"
    if not isinstance(raw, dict):
        raise where.fail(field, f'{raw!r} is not a table (e.g. {{ type = "sse" }})')
    kind = raw.get("type")
    if kind not in DESTINATION_TYPES:
        raise where.fail(f"{field}.type", f"{kind!r} is not one of {', '.join(DESTINATION_TYPES)}")
    unknown = sorted(set(raw) - _DESTINATION_FIELDS[kind])
    if unknown:
        raise where.fail(f"{field}.{unknown[0]}", f"unknown field for a {kind} destination")
    if kind == "sse":
        return Destination("sse")
    if kind == "nats":
        url = _url(where, f"{field}.url", raw.get("url"), ("nats", "tls"), "nats://host:4222")
        subject = raw.get("subject", "threadline.alerts")
        if not isinstance(subject, str) or not subject or any(c in subject for c in " *>"):
            raise where.fail(f"{field}.subject", f"{subject!r} is not a NATS subject")
        return Destination("nats", url=url, subject=subject)
    url = _url(where, f"{field}.url", raw.get("url"), ("http", "https"), "https://host/hook")
    secret = raw.get("secret")
    if "secret_env" in raw:
        name = raw["secret_env"]
        secret = environ.get(name) if isinstance(name, str) else None
        if not secret:
            raise where.fail(f"{field}.secret_env", f"environment variable {name!r} is not set")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise where.fail(f"{field}.secret", "the secret is not a non-empty string")
    return Destination(kind, url=url, secret=secret)


def parse_rule(raw: Any, index: int, environ: Mapping[str, str] | None = None) -> AlertRule:
    """One rule from its TOML table; a UsageError names the rule and the field at fault."""
    env = os.environ if environ is None else environ
    name = raw.get("name") if isinstance(raw, dict) else None
    where = _Where(name if isinstance(name, str) and name else "?", index)
    if not isinstance(raw, dict):
        raise where.fail("rule", f"{raw!r} is not a table")
    if not isinstance(name, str) or not name:
        raise where.fail("name", "every rule needs a name")
    unknown = sorted(set(raw) - _RULE_FIELDS)
    if unknown:
        raise where.fail(unknown[0], f"unknown field; expected {', '.join(sorted(_RULE_FIELDS))}")
    checks: set[str] = set()
    for check in _strings(where, raw, "checks"):
        if check in CHECK_NAMES:
            checks.update(CHECK_NAMES[check])
        elif check in _ALL_CHECKS:
            checks.add(check)
        else:
            raise where.fail("checks", f"{check!r} is neither a check family nor a check name")
    severities = _strings(where, raw, "severities")
    for severity in severities:
        if severity not in SEVERITIES:
            raise where.fail("severities", f"{severity!r} is not one of {', '.join(SEVERITIES)}")
    destinations = raw.get("destinations")
    if not isinstance(destinations, list) or not destinations:
        raise where.fail("destinations", "a rule needs at least one destination")
    return AlertRule(
        name=name,
        checks=frozenset(checks),
        namespaces=frozenset(_strings(where, raw, "namespaces")),
        severities=frozenset(severities),
        destinations=tuple(_destination(where, i, d, env) for i, d in enumerate(destinations)),
    )


def rules_from(
    table: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> list[AlertRule]:
    """The alert rules of a settings file's table (``Settings.file``), checked."""
    raw = (table or {}).get("alert", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise UsageError(f"alert: {raw!r} is not a list of rules ([[tool.threadline.alert]])")
    rules = [parse_rule(item, index, environ) for index, item in enumerate(raw)]
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        if rule.name in seen:
            raise _Where(rule.name, index).fail("name", "another rule has this name")
        seen.add(rule.name)
    return rules


__all__ = ["DESTINATION_TYPES", "AlertRule", "Destination", "parse_rule", "rules_from"]
