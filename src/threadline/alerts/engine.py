"""Turning health reports into alerts: :class:`Alerter`.

For each rule and each of its destinations, the findings the rule matches are compared with
what that destination was last told (:class:`~threadline.alerts.state.AlertState`): a finding
it has not heard of is sent as ``firing``, one whose digest changed as ``changed``, and one it
heard of that the report no longer holds as ``resolved`` (only for the check families the
report ran).  A destination gets one delivery per report with all its notices (a NATS
destination: one message per notice); if it fails after the retries, the state is left as it
was, so the next report sends the same notices again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from threadline.alerts.delivery import Sender
from threadline.alerts.rules import AlertRule, Destination
from threadline.alerts.state import AlertState, Delivery
from threadline.query.health import CHECK_NAMES, HealthReport
from threadline.query.health.context import iso


@dataclass(frozen=True, slots=True)
class Sent:
    """One delivery made for a report (what the caller may log or measure)."""

    rule: str
    destination: str
    statuses: dict[str, int]
    ok: bool


class Alerter:
    def __init__(self, rules: Sequence[AlertRule], state: AlertState, sender: Sender) -> None:
        self.rules = list(rules)
        self.state = state
        self.sender = sender

    async def process(self, report: HealthReport, *, triggered_us: int | None = None) -> list[Sent]:
        """Deliver what ``report`` changed since the last one; ``triggered_us`` is when the
        event that prompted it arrived (for the latency in the delivery log)."""
        ran = {name for family in report.checks for name in CHECK_NAMES.get(family, ())}
        jobs = [
            self._deliver(rule, destination, report, ran, triggered_us)
            for rule in self.rules
            for destination in rule.destinations
        ]
        sent = await asyncio.gather(*jobs)
        return [s for s in sent if s is not None]

    async def _deliver(
        self,
        rule: AlertRule,
        destination: Destination,
        report: HealthReport,
        ran: set[str],
        triggered_us: int | None,
    ) -> Sent | None:
        label = destination.label
        current = {f.key: f for f in report.findings if rule.matches(f)}
        known = await asyncio.to_thread(self.state.open_alerts, rule.name, label)
        notices: list[dict[str, Any]] = []
        opened: list[tuple[str, str, dict[str, Any]]] = []
        resolved: list[str] = []
        now = iso(report.checked_at_us)
        for key, finding in current.items():
            previous = known.get(key)
            if previous is not None and previous.digest == finding.digest:
                continue
            status = "firing" if previous is None else "changed"
            body = finding.to_dict()
            notices.append(
                {
                    "status": status,
                    "rule": rule.name,
                    "finding": body,
                    "since": iso(previous.opened_us) if previous else now,
                    "at": now,
                }
            )
            opened.append((key, finding.digest, body))
        for key, previous in known.items():
            if key in current or previous.finding.get("check") not in ran:
                continue
            notices.append(
                {
                    "status": "resolved",
                    "rule": rule.name,
                    "finding": previous.finding,
                    "since": iso(previous.opened_us),
                    "at": now,
                }
            )
            resolved.append(key)
        if not notices:
            return None
        outcome = await self.sender.send(destination, rule.name, notices)
        statuses: dict[str, int] = {}
        for notice in notices:
            statuses[notice["status"]] = statuses.get(notice["status"], 0) + 1
        done_us = time.time_ns() // 1000
        if outcome.ok:
            await asyncio.to_thread(self.state.settle, rule.name, label, opened, resolved)
        await asyncio.to_thread(
            self.state.record,
            Delivery(
                rule=rule.name,
                destination=label,
                notices=len(notices),
                statuses=",".join(f"{k}={v}" for k, v in sorted(statuses.items())),
                attempts=outcome.attempts,
                ok=outcome.ok,
                detail=outcome.detail[:500],
                at_us=done_us,
                latency_ms=(done_us - triggered_us) / 1000 if triggered_us else None,
            ),
        )
        return Sent(rule.name, label, statuses, outcome.ok)


__all__ = ["Alerter", "Sent"]
