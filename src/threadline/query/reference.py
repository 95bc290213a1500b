"""What typed text can mean, before the store is asked: every form threadline prints.

=====================  =============================================  ==========================
form                   printed by                                     example
=====================  =============================================  ==========================
printable id           ``--json``, the API, ``show``, exports         ``dataset:file://h/raw.csv@b3:5f1c…``
Marquez node id        ``/api/v1/lineage``                            ``dataset:postgres://db:5432:public.orders``
short id               ``diff``, row traces                           ``default/train@ex:0c2e4f5a6b7c``
URI without a kind     OpenLineage namespaces and names               ``threadline://default/train.py/features``
tree label             ``trace`` and ``impact`` trees                 ``data/raw.csv b3:5bb4af4322ff``
bare version           the ``show`` and ``log`` tables                ``ex:0c2e4f5a6b7c``
run id                 ``log``, ``show``, the Marquez runs            ``0192f0c4-…`` (a UUID)
PROV identifier        ``export -f prov-json|prov-o``                 ``tl:dataset%3Afile%3A…``
=====================  =============================================  ==========================

A version may be shortened to any prefix (as git abbreviates a commit), with or without the
``…`` the docs print after one.  Names are ambiguous by nature: a Marquez namespace may hold
colons (``postgres://db:5432``) and a namespace may hold slashes, so :func:`parse_reference`
lists every ``(namespace, name)`` split the text allows and :mod:`threadline.query.resolve`
keeps those the store has.  Nothing here reads the store or the disk, apart from making a
relative path absolute.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote

from threadline.errors import InvalidIdentifier, UsageError
from threadline.model.ids import NODE_KINDS, NodeId, file_dataset

#: What PROV exports put before a percent-encoded printable id.
PROV_PREFIXES: Final = ("tl:", "https://threadline.dev/ns#")

_VERSION: Final = re.compile(r"[a-z][a-z0-9]*:[A-Za-z0-9._~+\-:%]+")
_RUN_ID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
_ELLIPSES: Final = ("…", "...")
#: The marker a tree puts before the last parts of a long path.
LONG_PATH_MARK: Final = "…/"


@dataclass(frozen=True, slots=True)
class NodeReading:
    """One way to read the node part of a reference."""

    type: str | None
    """``dataset``, ``job``, or ``None`` when the text does not say."""
    namespace: str | None
    """``None``: any namespace (a job named without one, as trees print jobs)."""
    name: str
    suffix: bool = False
    """``name`` is the tail of a longer local path (a tree's ``…/a/b/c``)."""


@dataclass(frozen=True, slots=True)
class Reference:
    """Everything typed text can mean; the store decides between the readings."""

    text: str
    nodes: tuple[NodeReading, ...] = ()
    version: str | None = None
    """A whole version or a prefix of one."""
    kind: str | None = None
    """The node kind written before the first colon, when one was."""
    run_id: str | None = None
    """A run id: the reference names the execution the run belongs to."""
    path: str | None = None
    """Text that may be a local path (it does not exist, or the reference would not be here)."""
    node_text: str = field(default="")
    """The text naming the node, without its version (for messages)."""
    malformed: str | None = None
    """Why the text is no id, should the store have nothing under any reading of it."""

    @property
    def bare_version(self) -> bool:
        """Only a version (or a prefix of one) was given: it may belong to any node."""
        return self.version is not None and not self.nodes and self.run_id is None


def node_type(kind: str) -> str:
    """The store's node type for a kind: ``job`` or ``dataset``."""
    return "job" if kind == "job" else "dataset"


def is_version(text: str) -> bool:
    """``b3:5f1c``, ``ex:0c2e``, ``run:0192…``, ``v:2``: a version or a prefix of one."""
    prefix = text.partition(":")[0]
    return bool(_VERSION.fullmatch(text)) and prefix not in NODE_KINDS and prefix != "tl"


def printable_splits(body: str) -> list[tuple[str, str]]:
    """Every ``(namespace, name)`` that :func:`threadline.query.reading.printable` joins into
    ``body``: at each ``/``, with the slash as the joiner, or kept on the name (an absolute
    path) or on the namespace (one that ends with ``/``).  The OpenLineage split comes first."""
    splits: list[tuple[str, str]] = []
    try:
        first = NodeId.parse(f"dataset:{body}")
        splits.append((first.namespace, first.name))
    except InvalidIdentifier:
        pass
    for i in range(1, len(body)):
        namespace, name = body[:i], body[i:]
        if name.startswith("/") or namespace.endswith("/"):
            splits.append((namespace, name))  # joined without a slash
        if body[i] == "/" and i < len(body) - 1:
            namespace, name = body[:i], body[i + 1 :]
            if not name.startswith("/") and not namespace.endswith("/"):
                splits.append((namespace, name))  # joined with this slash
    return list(dict.fromkeys(splits))


def marquez_splits(body: str) -> list[tuple[str, str]]:
    """Every ``(namespace, name)`` of a Marquez node id's ``NAMESPACE:NAME``: the namespace may
    itself hold colons (``postgres://db:5432``), so each colon is a candidate."""
    return [
        (body[:i], body[i + 1 :])
        for i, char in enumerate(body)
        if char == ":" and 0 < i < len(body) - 1
    ]


def _scheme_marks(body: str) -> set[int]:
    """Positions inside a ``://``, where a scheme, not a namespace, ends."""
    marks: set[int] = set()
    start = body.find("://")
    while start != -1:
        marks.update(range(start, start + 3))
        start = body.find("://", start + 1)
    return marks


def _split_version(text: str) -> tuple[str, str | None]:
    """``("dataset:…/x", "b3:5f")`` from ``dataset:…/x@b3:5f…``; no valid version: none."""
    body, sep, version = text.rpartition("@")
    if not sep or not body:
        return text, None
    version = _strip_ellipsis(version)
    return (body, version) if is_version(version) else (text, None)


def _strip_ellipsis(version: str) -> str:
    for ellipsis in _ELLIPSES:
        version = version.removesuffix(ellipsis)
    return version


def parse_reference(text: str) -> Reference:
    """The readings of ``text`` (see the module docstring); :class:`UsageError` when empty,
    :class:`InvalidIdentifier` when it names a kind but no node (``model:file://h``).  Text that
    starts like an id with an unknown kind says why in :attr:`Reference.malformed`."""
    text = text.strip()
    if not text:
        raise UsageError("an id or a path is required")
    for prefix in PROV_PREFIXES:
        if text.startswith(prefix) and "%3A" in text.upper():
            decoded = parse_reference(unquote(text[len(prefix) :]))
            return dataclasses.replace(decoded, text=text)
    if _RUN_ID.fullmatch(text):
        return Reference(text, run_id=text.lower(), node_text=text)
    head, _, tail = text.rpartition(" ")
    label_version = _strip_ellipsis(tail) if head.strip() else ""
    if label_version and is_version(label_version):
        # A tree's label: NAME VERSION (a path relative to here, a job name, …/tail).
        return _by_name(text, head.strip(), label_version)
    kind, sep, rest = text.partition(":")
    if sep and kind in NODE_KINDS:
        return _by_kind(text, kind, rest)
    bare = _strip_ellipsis(text)
    if is_version(bare):
        return Reference(text, version=bare)
    if _SCHEME.match(text):
        body, version = _split_version(text)
        nodes = tuple(NodeReading(None, ns, name) for ns, name in printable_splits(body))
        return Reference(text, nodes, version, node_text=body)
    body, version = _split_version(text)
    reference = _by_name(text, body, version)
    if re.match(r"^[a-z]+:", text):
        # Most likely a mistyped kind, but a short id's namespace may hold a colon too: the
        # store decides, and the error is for when it has nothing.
        try:
            NodeId.parse(text)
        except InvalidIdentifier as exc:
            why = f"{text!r} is neither an existing path nor a node id: {exc.message}"
            return dataclasses.replace(reference, malformed=why)
    return reference


def _by_kind(text: str, kind: str, rest: str) -> Reference:
    body, version = _split_version(rest)
    type_ = node_type(kind)
    splits = printable_splits(body) + marquez_splits(body)
    nodes = tuple(NodeReading(type_, ns, name) for ns, name in dict.fromkeys(splits))
    if not nodes:
        NodeId.parse(text)  # raises the message that names what is missing
        raise InvalidIdentifier(f"{text!r} has no NAMESPACE/NAME part")
    malformed = None
    marks = _scheme_marks(body)
    if not any(char == ":" and i not in marks for i, char in enumerate(body)):
        # Not Marquez's NAMESPACE:NAME either: if it is no printable id, say why should the
        # store have nothing under the odd splits left (model:file://h).
        try:
            NodeId.parse(f"{kind}:{body}")
        except InvalidIdentifier as exc:
            malformed = exc.message
    return Reference(text, nodes, version, kind, node_text=f"{kind}:{body}", malformed=malformed)


def _by_name(text: str, body: str, version: str | None) -> Reference:
    """Text without a kind: a path, a short id ``NAMESPACE/NAME``, a job's name, a tree's
    ``…/tail`` of a long path."""
    nodes: list[NodeReading] = []
    if body.startswith(LONG_PATH_MARK):
        tail = body[len(LONG_PATH_MARK) :]
        nodes.append(NodeReading("dataset", None, tail if tail[:1] == "/" else "/" + tail, True))
    else:
        nodes.append(NodeReading("job", None, body))
        nodes.extend(NodeReading(None, ns, name) for ns, name in printable_splits(body))
    path = None if _SCHEME.match(body) or body.startswith(LONG_PATH_MARK) else body
    if path is not None and version is not None:
        local = file_dataset(path)
        # This host's file first; the same path recorded on another host is a candidate too
        # (a tree prints local paths without their host).
        nodes[:0] = [
            NodeReading("dataset", local.namespace, local.name),
            NodeReading("dataset", None, local.name),
        ]
        if path.startswith("/") and local.name != path:
            # A recorded name is kept as its producer wrote it ("/a//b.csv", "/a/./b"), and a
            # tree prints it so: the name as given is a reading too, not only its normal form.
            nodes.insert(2, NodeReading("dataset", None, path))
    return Reference(text, tuple(dict.fromkeys(nodes)), version, path=path, node_text=body)


__all__ = [
    "LONG_PATH_MARK",
    "PROV_PREFIXES",
    "NodeReading",
    "Reference",
    "is_version",
    "marquez_splits",
    "node_type",
    "parse_reference",
    "printable_splits",
]
