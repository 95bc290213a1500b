"""Who sends what: stored events and their accepted schema deviations, per ``producer``.

The ingest policy (:mod:`threadline.spec.ingest`) stores an event that deviates from the
OpenLineage schema in ways lineage survives, and its notes are a function of the stored body.
:class:`ProducerTally` reads the log once and then only what was appended since (its cursor),
so a server answering ``GET /api/v1/threadline/producers`` pays for each event once.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from threadline.spec.ingest import IngestPolicy, default_policy
from threadline.store.base import Cursor

if TYPE_CHECKING:
    from threadline.store.base import Store

#: Events read from the log per page.
PAGE: Final = 2000
#: JSON paths listed per producer at most (the most frequent).
PATHS_SHOWN: Final = 20

_INDEX = re.compile(r"\[\d+\]")


@dataclass(slots=True)
class ProducerCount:
    """The events of one producer (``None``: events that name none)."""

    producer: str | None
    events: int = 0
    with_notes: int = 0
    notes: int = 0
    paths: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "producer": self.producer,
            "events": self.events,
            "with_notes": self.with_notes,
            "notes": self.notes,
            "paths": dict(self.paths.most_common(PATHS_SHOWN)),
        }


class ProducerTally:
    """Counts per producer over a store's log, brought up to date by :meth:`update`.

    Safe to share between threads: updates are serialized.
    """

    def __init__(self, policy: IngestPolicy | None = None) -> None:
        self.policy = policy or default_policy()
        self.seq = 0
        self._counts: dict[str | None, ProducerCount] = {}
        self._lock = threading.Lock()

    def update(self, store: Store) -> ProducerTally:
        """Count the events appended since the last update; returns ``self``."""
        with self._lock:
            while True:
                records = store.read_after(Cursor(self.seq), PAGE)
                for record in records:
                    self._count(orjson.loads(record.body))
                if not records:
                    return self
                self.seq = records[-1].seq

    def _count(self, body: Any) -> None:
        producer = body.get("producer") if isinstance(body, dict) else None
        key = producer if isinstance(producer, str) else None
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = ProducerCount(key)
        count.events += 1
        notes = self.policy.notes(body)
        if notes:
            count.with_notes += 1
            count.notes += len(notes)
            count.paths.update(_INDEX.sub("[*]", note.path) for note in notes)

    def counts(self) -> list[ProducerCount]:
        """Producers with the most events first."""
        return sorted(self._counts.values(), key=lambda c: (-c.events, c.producer or ""))

    def to_dict(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "events": sum(c.events for c in counts),
            "with_notes": sum(c.with_notes for c in counts),
            "producers": [c.to_dict() for c in counts],
        }


def producer_counts(store: Store) -> ProducerTally:
    """The per-producer counts of ``store``'s whole log."""
    return ProducerTally().update(store)


__all__ = ["PAGE", "ProducerCount", "ProducerTally", "producer_counts"]
