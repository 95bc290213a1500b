"""Alerts on lineage health: rules (:mod:`.rules`), delivery to webhooks, Slack, NATS and the
SSE feed, HMAC-signed (:mod:`.delivery`), de-duplicated against a durable state
(:mod:`.state`), driven by health reports (:mod:`.engine`).

The server runs them (:mod:`threadline.server.health`): after each scheduled health check, and
shortly after events arrive when rules are configured.
"""

from threadline.alerts.delivery import AlertFeed, RelayedFeed, Sender, verify_signature
from threadline.alerts.engine import Alerter, Sent
from threadline.alerts.rules import AlertRule, Destination, rules_from
from threadline.alerts.state import AlertState, Delivery

__all__ = [
    "AlertFeed",
    "AlertRule",
    "AlertState",
    "Alerter",
    "Delivery",
    "Destination",
    "RelayedFeed",
    "Sender",
    "Sent",
    "rules_from",
    "verify_signature",
]
