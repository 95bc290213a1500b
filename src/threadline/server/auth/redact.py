"""Reduce an answer to what one identity may see.

Every JSON answer is walked once.  A *node* is any object with a text ``namespace`` and
``name`` (threadline's graph nodes, Marquez datasets, jobs and their ids, OpenLineage event
datasets and jobs).  A node is hidden from an identity when

* its namespace is one the identity may not read (:meth:`Identity.may`), or
* it is a dataset carrying a classified label (``pii``…) the identity has no clearance for.

A hidden node becomes a *stub*: its ``name`` reads ``[redacted]``, everything but ``id``,
``kind`` and ``type`` goes (facets, fields, labels, owners, versions), and its id is replaced,
everywhere in the answer, by a pseudonym stable within the server process, so edges still join
and trace and impact counts stay honest.  In ``drop`` answers (lists: search hits, raw events,
runs) a node hidden by its namespace takes the list item holding it with it instead; a node
hidden by a label is stubbed there too.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from threadline.server.auth.grants import CLASSIFIED_LABELS, Identity, Role, is_storage_namespace
from threadline.store import schema as s
from threadline.store.base import Store

REDACTED: Final = "[redacted]"
_KEPT: Final = frozenset({"id", "kind", "type"})
_CHUNK: Final = 400
_CONTAINERS: Final = (dict, list)

#: ``(namespace, name)`` pairs -> the classified labels of those that are labelled datasets.
LabelLookup = Callable[[Iterable[tuple[str, str]]], dict[tuple[str, str], frozenset[str]]]


def store_labels(store: Store) -> LabelLookup:
    """Labels as the store's dataset nodes record them (own and inherited)."""

    def lookup(pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], frozenset[str]]:
        wanted = sorted(set(pairs))
        if not wanted:
            return {}
        return store.read(lambda conn: _labels(conn, wanted))

    return lookup


# By name (indexed), the namespace checked here: one statement SQLAlchemy compiles once.
_LABELLED: Final = sa.select(s.nodes.c.namespace, s.nodes.c.name, s.nodes.c.facets).where(
    s.nodes.c.type == "dataset",
    s.nodes.c.name.in_(sa.bindparam("names", expanding=True)),
    s.nodes.c.facets.like("%threadline_classification%"),
)


def _labels(
    conn: Connection, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], frozenset[str]]:
    wanted_set = set(wanted)
    names = sorted({name for _, name in wanted})
    found: dict[tuple[str, str], frozenset[str]] = {}
    for start in range(0, len(names), _CHUNK):
        for row in conn.execute(_LABELLED, {"names": names[start : start + _CHUNK]}):
            if (row.namespace, row.name) not in wanted_set:
                continue
            body = orjson.loads(row.facets).get("threadline_classification") or {}
            labels = {str(x) for x in [*body.get("labels", []), *body.get("inherited", [])]}
            classified = frozenset(labels & CLASSIFIED_LABELS)
            if classified:
                found[(row.namespace, row.name)] = classified
    return found


_PROCESS_KEY: Final = secrets.token_bytes(32)


@functools.lru_cache(maxsize=65_536)
def pseudonym(original: str) -> str:
    """A stable stand-in for a hidden node's id (keyed per process: not reversible).  The
    same hidden nodes come back answer after answer: their HMACs are kept."""
    mac = hmac.new(_PROCESS_KEY, original.encode(), hashlib.sha256).hexdigest()[:20]
    return f"redacted:{mac}"


class _Drop:
    """The list item holding this value goes."""


_DROP: Final = _Drop()


@dataclass(slots=True)
class Redactor:
    identity: Identity
    labels: LabelLookup
    _classified: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    _renamed: dict[str, str] = field(default_factory=dict)
    _hidden: int = 0

    def reduce(self, answer: Any, *, drop: bool = False) -> Any:
        """``answer`` as the identity may see it: the very same object when nothing in it is
        hidden from the identity (so the caller can send the bytes it already has)."""
        if not isinstance(answer, _CONTAINERS):
            return answer
        found: dict[tuple[str, str], list[str]] = {}
        _collect(answer, found)
        if not found:
            return answer
        self._classified = self.labels(found)
        hidden = [pair for pair in found if not self._may_see(pair)]
        if not hidden:
            return answer
        # Every id of a hidden node gets its pseudonym before the walk, which renames them
        # wherever they stand (edges, root, references) in the same pass.
        for namespace, name in hidden:
            for original in (
                f"dataset:{namespace}:{name}",
                f"job:{namespace}:{name}",
                *found[(namespace, name)],
            ):
                self._renamed.setdefault(original, pseudonym(original))
        reduced = self._walk(answer, drop)
        return None if reduced is _DROP else reduced

    def namespace_visible(self, namespace: str) -> bool:
        return self.identity.may(Role.viewer, namespace)

    def _may_see(self, pair: tuple[str, str]) -> bool:
        return self.namespace_visible(pair[0]) and self.identity.cleared_for(
            self._classified.get(pair, frozenset())
        )

    @property
    def hidden(self) -> int:
        """Nodes stubbed or dropped so far."""
        return self._hidden

    def _walk(self, value: Any, drop: bool) -> Any:
        # Only containers are walked and only strings looked up: the scalars that make up most
        # of an answer are copied as they are.
        renamed = self._renamed
        if isinstance(value, list):
            out = []
            for item in value:
                if isinstance(item, _CONTAINERS):
                    item = self._walk(item, drop)
                    if item is _DROP:
                        continue
                elif isinstance(item, str):
                    item = renamed.get(item, item)
                out.append(item)
            return out
        namespace, name = value.get("namespace"), value.get("name")
        if isinstance(namespace, str) and isinstance(name, str):
            foreign = not self.namespace_visible(namespace)
            labels = self._classified.get((namespace, name), frozenset())
            if foreign and drop:
                self._hidden += 1
                return _DROP
            if foreign or not self.identity.cleared_for(labels):
                self._hidden += 1
                return self._stub(value, namespace, name, foreign)
        out_dict: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, _CONTAINERS):
                item = self._walk(item, drop)
                if item is _DROP:
                    return _DROP
            elif isinstance(item, str):
                item = renamed.get(item, item)
            out_dict[key] = item
        return out_dict

    def _stub(
        self, node: dict[str, Any], namespace: str, name: str, foreign: bool
    ) -> dict[str, Any]:
        originals = [f"dataset:{namespace}:{name}", f"job:{namespace}:{name}"]
        if isinstance(node.get("id"), str):
            originals.append(node["id"])
        for original in originals:
            self._renamed.setdefault(original, pseudonym(original))
        stub: dict[str, Any] = {}
        for key in _KEPT & node.keys():
            value = node[key]
            if key == "id":
                value = self._renamed[value] if isinstance(value, str) else _stub_id(value)
            stub[key] = value
        stub["namespace"] = REDACTED if foreign else namespace
        stub["name"] = REDACTED
        stub["redacted"] = "namespace" if foreign else "clearance"
        return stub


def _stub_id(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:
        return {**value, "namespace": REDACTED, "name": REDACTED}
    return value


def _collect(value: Any, found: dict[tuple[str, str], list[str]]) -> None:
    """Every node ``(namespace, name)`` in ``value``, with the text ids it goes by."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, _CONTAINERS):
                _collect(item, found)
        return
    namespace, name = value.get("namespace"), value.get("name")
    if isinstance(namespace, str) and isinstance(name, str):
        ids = found.setdefault((namespace, name), [])
        node_id = value.get("id")
        if isinstance(node_id, str):
            ids.append(node_id)
    for item in value.values():
        if isinstance(item, _CONTAINERS):
            _collect(item, found)


#: Where the guard leaves the caller's identity for handlers that reduce their own answers
#: (``scope["state"]``, which Starlette shows as ``request.state``).
IDENTITY_STATE: Final = "threadline_identity"


def reduce_graph(answer: dict[str, Any], identity: Identity) -> dict[str, Any]:
    """A trace or impact answer (``root``, ``nodes``, ``edges``, ``row``) as ``identity`` may
    see it: the same as :meth:`Redactor.reduce` gives, without walking the whole answer or
    asking the store for labels, since every node of a graph answer carries its own
    (``labels``: own and inherited, from the same facets the store lookup reads).  Returns
    ``answer`` itself when nothing in it is hidden."""
    nodes = answer.get("nodes")
    if not isinstance(nodes, list):
        return answer
    may_read: dict[str, bool] = {}
    hidden: dict[tuple[str, str], bool] = {}  # pair -> hidden by its namespace
    labels_of: dict[tuple[str, str], frozenset[str]] = {}
    for node in nodes:
        namespace, name = node.get("namespace"), node.get("name")
        if not isinstance(namespace, str) or not isinstance(name, str):
            continue
        visible = may_read.get(namespace)
        if visible is None:
            visible = may_read[namespace] = identity.may(Role.viewer, namespace)
        labels = node.get("labels")
        classified = CLASSIFIED_LABELS.intersection(labels) if labels else frozenset()
        if classified:
            labels_of[(namespace, name)] = frozenset(classified)
        if not visible or (classified and not identity.cleared_for(classified)):
            hidden[(namespace, name)] = not visible
    if not hidden:
        return answer
    redactor = Redactor(identity, lambda pairs: labels_of)
    redactor._classified = labels_of
    renamed = redactor._renamed
    for (namespace, name), _foreign in hidden.items():
        for original in (f"dataset:{namespace}:{name}", f"job:{namespace}:{name}"):
            renamed.setdefault(original, pseudonym(original))
    for node in nodes:
        if (node.get("namespace"), node.get("name")) in hidden and isinstance(node.get("id"), str):
            renamed.setdefault(node["id"], pseudonym(node["id"]))
    reduced: dict[str, Any] = {}
    for key, value in answer.items():
        if key == "nodes":
            reduced[key] = [
                redactor._stub(n, n["namespace"], n["name"], hidden[(n["namespace"], n["name"])])
                if (n.get("namespace"), n.get("name")) in hidden
                else n  # a visible node describes itself only: nothing in it names another
                for n in nodes
            ]
        elif key == "edges" and isinstance(value, list):
            reduced[key] = [_edge(edge, renamed) for edge in value]
        elif isinstance(value, str):
            reduced[key] = renamed.get(value, value)
        elif isinstance(value, _CONTAINERS):
            reduced[key] = redactor._walk(value, False)
        else:
            reduced[key] = value
    return reduced


def _edge(edge: Any, renamed: dict[str, str]) -> Any:
    if not isinstance(edge, dict):
        return edge
    if edge.get("from") in renamed or edge.get("to") in renamed:
        return {k: renamed.get(v, v) if isinstance(v, str) else v for k, v in edge.items()}
    return edge


def visible_namespace(identity: Identity, namespace: str) -> bool:
    """A namespace listed to this identity (``GET /api/v1/namespaces``)."""
    return is_storage_namespace(namespace) or identity.role_on(namespace) is not None


__all__ = [
    "IDENTITY_STATE",
    "REDACTED",
    "LabelLookup",
    "Redactor",
    "pseudonym",
    "reduce_graph",
    "store_labels",
    "visible_namespace",
]
