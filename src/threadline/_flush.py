"""``threadline.flush()``: wait until captured lineage is in the store."""

from __future__ import annotations


def flush(timeout: float | None = 30.0, *, durable: bool = False) -> bool:
    """Block until every event recorded so far is written (and fsynced if ``durable``)."""
    from threadline.capture import emitter

    current = emitter._default
    return True if current is None else current.flush(timeout, durable=durable)
