"""What earlier runs recorded, asked while capturing: one protocol, one transport per context.

Capture asks the store three questions it cannot answer from inside the process: did a
recorded run write this dataset (stage inference), which labels was it given (so ``pii``
reaches what a later script derives from it), and which deployments serve this model version
(so predictions link to them).  :class:`Recorded` is the protocol; where the store is decides
the transport:

* :class:`StoreRecorded`: in process, from a store open here (``autocapture()`` writing to a
  local store; the ``threadline run`` supervisor answering its captured processes);
* :class:`threadline.capture.supervisor_client.SupervisorRecorded`: a process captured by
  ``threadline run`` asks the supervisor over its socket, so it never opens the store itself;
* :class:`HttpRecorded`: events go to a threadline server, which answers ``produced`` (its
  ``POST /api/v1/threadline/produced``); it cannot be asked the other two yet.

The questions themselves are :mod:`threadline.query.recorded`.  Capture asks through
:class:`threadline.capture.answers.Answers`, which caches the answers and never lets a failing
transport reach the user's code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from threadline.model.ids import NodeId
from threadline.model.serving import Serving

if TYPE_CHECKING:
    from threadline.capture.http_sink import HttpSink
    from threadline.store.base import Store

#: A dataset, as the questions name it: ``(namespace, name)``, any version.
Key = tuple[str, str]


def key_of(node: NodeId) -> Key:
    return (node.namespace, node.name)


class Recorded(Protocol):
    """Questions about what earlier runs recorded, answered by a store wherever it is."""

    def prefetch(self, keys: Sequence[Key]) -> None:
        """Start asking :meth:`produced` and :meth:`labels` for ``keys`` (datasets just read:
        both are asked of most of them later) without waiting for the answers."""
        ...

    def produced(self, keys: Sequence[Key]) -> list[bool | None]:
        """For each dataset: did a recorded run output a version of it (None: cannot say)?"""
        ...

    def labels(self, key: Key) -> frozenset[str]:
        """Labels (own and inherited) recorded for the dataset ``key`` names."""
        ...

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        """Deployments of the model version ``model`` whose time window contains ``at``."""
        ...

    def close(self) -> None:
        """Release what the transport holds (a connection, a store it opened)."""
        ...


class StoreRecorded:
    """In process: answers from ``store`` (closed with the transport if ``owned``).

    The queries import SQLAlchemy, so they load on the first question, never in a process that
    only asks the supervisor or a server (a store open here has loaded SQLAlchemy already).
    """

    def __init__(self, store: Store, *, owned: bool = False) -> None:
        self.store = store
        self._owned = owned

    def prefetch(self, keys: Sequence[Key]) -> None:
        return None  # each answer is one indexed lookup away

    def produced(self, keys: Sequence[Key]) -> list[bool | None]:
        from threadline.query import recorded

        return list(recorded.produced(self.store, keys))

    def labels(self, key: Key) -> frozenset[str]:
        from threadline.query import recorded

        return recorded.labels(self.store, NodeId("dataset", key[0], key[1]))

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        from threadline.query import recorded

        return recorded.serving(self.store, model, at)

    def close(self) -> None:
        if self._owned:
            self.store.close()


class HttpRecorded:
    """Over HTTP: the threadline server the events go to answers :meth:`produced`.

    ``None`` (cannot say) while the server is down or spooling; labels and deployments are not
    asked of a server yet, so they are empty.
    """

    def __init__(self, sink: HttpSink) -> None:
        self._sink = sink

    def prefetch(self, keys: Sequence[Key]) -> None:
        return None

    def produced(self, keys: Sequence[Key]) -> list[bool | None]:
        return self._sink.produced(list(keys))

    def labels(self, key: Key) -> frozenset[str]:
        return frozenset()

    def serving(self, model: NodeId, at: datetime) -> list[Serving]:
        return []

    def close(self) -> None:
        return None  # the sink belongs to whoever sends the events


def answer_question(recorded: Recorded | None, question: dict[str, Any]) -> dict[str, Any]:
    """The answer to one question of the socket protocol
    (:class:`~threadline.capture.supervisor_client.SupervisorRecorded`) from ``recorded``.
    A question must never break the command, so a failure is answered with nothing
    (``produced``: None, cannot say)."""
    if "known" in question:  # the prefetch of datasets just read: both of their answers
        keys = _keys(question["known"])
        labels = [sorted(_labels(recorded, key)) for key in keys]
        return {"produced": _produced(recorded, keys), "labels": labels}
    if "produced" in question:
        return {"produced": _produced(recorded, _keys(question["produced"]))}
    if recorded is None:
        return {}
    try:
        if "labels" in question:
            namespace, name = question["labels"]
            return {"labels": sorted(recorded.labels((str(namespace), str(name))))}
        if "serving" in question:
            model = NodeId.parse(str(question["serving"]))
            at = datetime.fromisoformat(str(question["at"]))
            found = recorded.serving(model, at)
            return {"serving": [[str(s.node), s.valid_from] for s in found]}
    except Exception:
        return {}
    return {}


def _keys(raw: Any) -> list[Key]:
    return [(str(key[0]), str(key[1])) for key in raw or ()]


def _produced(recorded: Recorded | None, keys: list[Key]) -> list[bool | None]:
    if recorded is not None:
        with contextlib.suppress(Exception):
            return recorded.produced(keys)
    return [None] * len(keys)


def _labels(recorded: Recorded | None, key: Key) -> frozenset[str]:
    if recorded is not None:
        with contextlib.suppress(Exception):
            return recorded.labels(key)
    return frozenset()


__all__ = ["HttpRecorded", "Key", "Recorded", "StoreRecorded", "answer_question", "key_of"]
