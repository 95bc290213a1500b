"""Where a ``threadline run`` supervisor sends what it receives: the store's writer agent, or,
without one, the store opened in the supervisor or the threadline server.

Imported by the supervisor's writer thread once the command has started.  The agent's path
imports nothing more (a short command's run ends while this thread may still be starting);
the store, SQLAlchemy and the HTTP client load only when the lineage goes to them.
"""

from __future__ import annotations

from threadline.capture.agent_client import AgentQuestions, AgentSink, connect_agent
from threadline.config import Settings
from threadline.frozen import frozen_record

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from collections.abc import Callable

    from threadline.capture.emitter import Sink
    from threadline.capture.recorded import Recorded
    from threadline.store.base import Store


@frozen_record
class Destination:
    """Where the command's lineage goes: the sink that writes it and who answers questions."""

    sink: Sink
    #: Answers questions here (None: they are relayed to the agent, or cannot be answered).
    recorded: Recorded | None
    #: Makes every written batch durable (None: each batch is durable once written).
    sync: Callable[[], None] | None
    #: The store itself when it is open in this process (None: a server or the agent has it).
    store: Store | None = None
    #: The store's writer agent, when the lineage goes through it: its socket and the relay
    #: of the questions the command's processes ask.
    agent: str | None = None
    questions: AgentQuestions | None = None


def open_destination(settings: Settings) -> Destination:
    """The settings' store, or, when a server URL is set, the sink that ships to it instead."""
    from threadline.capture.recorded import HttpRecorded, StoreRecorded

    if settings.url:
        # http.client and ssl load only for a run that ships its events to a server.
        from threadline.capture.http_sink import DEFAULT_SPOOL, HttpSink

        # Anchored to the command's folder, where `threadline sync` looks by default.
        sink = HttpSink(settings.url, spool_dir=DEFAULT_SPOOL.resolve())
        return Destination(sink, HttpRecorded(sink), None)
    from threadline.capture.emitter import StoreSink
    from threadline.store import open_store

    opened = open_store(settings.store_url)
    return Destination(StoreSink(opened), StoreRecorded(opened), opened.sync, opened)


def agent_destination(settings: Settings, fallback: Callable[[], Sink]) -> Destination | None:
    """The store's writer agent (:mod:`threadline.capture.agent`), started if none runs; None
    when the settings want none or it cannot be reached (the store is then opened here).
    ``fallback`` is the sink to write to if the agent goes away."""
    if settings.url or settings.agent_idle_seconds <= 0:
        return None
    path = connect_agent(settings.store_url, settings.agent_idle_seconds)
    if path is None:
        return None
    try:
        sink = AgentSink(path, fallback=fallback)
    except OSError:
        return None
    return Destination(sink, None, sink.sync, agent=path, questions=AgentQuestions(path))


__all__ = ["Destination", "agent_destination", "open_destination"]
