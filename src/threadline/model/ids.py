"""One identity scheme for everything in the graph.

A node is ``(kind, namespace, name)`` named the OpenLineage way (a dataset's namespace is the
scheme and authority of its source, ``file://host`` for local files; its name is the path or
``db.schema.table`` within it).  A *version* of a node is a content fingerprint
(``b3:<hex>``) for data and models, or an execution id (``ex:<hex>``) for a job.

The printable form, used by the CLI, the API and the exports::

    dataset:file://host/data/raw.csv@b3:5f1c…
    model:file://host/models/clf.joblib@b3:91aa…
    job:threadline/train@ex:0c2e…

``NodeId.parse`` reads it back; ``to_canonical`` is the JSON form that is hashed and stored.
"""

from __future__ import annotations

import functools
import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import blake3

from threadline.errors import InvalidIdentifier
from threadline.frozen import FrozenRecordError
from threadline.model.uuid7 import uuid7_value

if TYPE_CHECKING:
    import uuid

#: Artifact kinds carried by the ``artifact`` facet, plus ``job`` for executions.
ARTIFACT_KINDS: Final = ("dataset", "features", "model", "evaluation", "deployment", "predictions")
NODE_KINDS: Final = (*ARTIFACT_KINDS, "job")

_VERSION_RE = re.compile(r"^[a-z][a-z0-9]*:[A-Za-z0-9._~+\-:]+$")
_KIND_RE = re.compile(r"^[a-z]+$")
_set = object.__setattr__


@functools.total_ordering  # <=, > and >= from < and ==; sorting uses < alone
class NodeId:
    """A node, or one version of it when ``version`` is set.

    Immutable, hashable and ordered by (kind, namespace, name, version), as a frozen, ordered
    dataclass with slots would be; written out because defining that dataclass costs every
    process that loads this module ~1.3 ms (each generated method is its own ``exec``), a
    capture child among them, while making an instance costs the same either way.
    """

    __slots__ = ("kind", "name", "namespace", "version")
    __match_args__ = ("kind", "namespace", "name", "version")

    kind: str
    namespace: str
    name: str
    version: str | None

    def __init__(self, kind: str, namespace: str, name: str, version: str | None = None) -> None:
        if kind not in NODE_KINDS:
            raise InvalidIdentifier(
                f"unknown node kind {kind!r}; expected one of {', '.join(NODE_KINDS)}"
            )
        if not namespace or not name:
            raise InvalidIdentifier("a node id needs a non-empty namespace and name")
        if version is not None and not _VERSION_RE.match(version):
            raise InvalidIdentifier(f"malformed version {version!r} (expected e.g. b3:<hex>)")
        _set(self, "kind", kind)
        _set(self, "namespace", namespace)
        _set(self, "name", name)
        _set(self, "version", version)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name, self.version) == (
            other.kind,
            other.namespace,
            other.name,
            other.version,
        )

    def __hash__(self) -> int:
        return hash((self.kind, self.namespace, self.name, self.version))

    def __lt__(self, other: NodeId) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.kind, self.namespace, self.name, self.version) < (
            other.kind,
            other.namespace,
            other.name,
            other.version,
        )

    def __repr__(self) -> str:
        return (
            f"NodeId(kind={self.kind!r}, namespace={self.namespace!r}, name={self.name!r}, "
            f"version={self.version!r})"
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenRecordError(f"cannot assign to field {name!r} of a frozen NodeId")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"cannot delete field {name!r} of a frozen NodeId")

    def __reduce__(self) -> tuple[type[NodeId], tuple[str, str, str, str | None]]:
        return (NodeId, (self.kind, self.namespace, self.name, self.version))

    @property
    def unversioned(self) -> NodeId:
        return NodeId(self.kind, self.namespace, self.name)

    def with_version(self, version: str | None) -> NodeId:
        return NodeId(self.kind, self.namespace, self.name, version)

    @property
    def uri(self) -> str:
        """``namespace`` joined to ``name`` the way OpenLineage prints a dataset."""
        if self.name.startswith("/") or self.namespace.endswith("/"):
            return f"{self.namespace}{self.name}"
        return f"{self.namespace}/{self.name}"

    def __str__(self) -> str:
        base = f"{self.kind}:{self.uri}"
        return f"{base}@{self.version}" if self.version else base

    def to_canonical(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": self.kind, "namespace": self.namespace, "name": self.name}
        if self.version:
            body["version"] = self.version
        return body

    @classmethod
    def parse(cls, text: str) -> NodeId:
        """Read the printable form back; raises :class:`InvalidIdentifier` naming the problem."""
        kind, sep, rest = text.partition(":")
        if not sep or not _KIND_RE.match(kind):
            raise InvalidIdentifier(
                f"{text!r} is not a node id (expected KIND:NAMESPACE/NAME[@VERSION], "
                "e.g. dataset:file://host/data/raw.csv@b3:5f1c…)"
            )
        version: str | None = None
        at = rest.rfind("@")
        if at != -1 and _VERSION_RE.match(rest[at + 1 :]):
            rest, version = rest[:at], rest[at + 1 :]
        namespace, name = split_uri(rest)
        if not namespace or not name:
            raise InvalidIdentifier(f"{text!r} has no NAMESPACE/NAME part")
        return cls(kind, namespace, name, version)


def split_uri(uri: str) -> tuple[str, str]:
    """Split ``scheme://authority/path`` or ``namespace/name`` into OpenLineage parts."""
    scheme, sep, rest = uri.partition("://")
    if sep:
        authority, slash, path = rest.partition("/")
        namespace = f"{scheme}://{authority}"
        if scheme == "file":
            return namespace, "/" + path if slash else ""
        return namespace, path
    namespace, _, name = uri.partition("/")
    return namespace, name


_HOST: str | None = None


def local_host() -> str:
    """The host name used in ``file://host`` namespaces (stable within a process)."""
    global _HOST
    if _HOST is None:
        _HOST = socket.gethostname() or "localhost"
    return _HOST


def file_dataset(path: str | os.PathLike[str], kind: str = "dataset") -> NodeId:
    """The node of a local file or directory: ``file://host`` + absolute path."""
    absolute = os.path.abspath(os.fspath(path))
    if os.sep != "/":
        absolute = Path(absolute).as_posix()
    return NodeId(kind, f"file://{local_host()}", absolute)


# --- run and execution ids --------------------------------------------------------------


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7 (RFC 9562), monotonic within the process."""
    import uuid

    return uuid.UUID(int=uuid7_value())


def content_version(digest_hex: str) -> str:
    """The version string of content whose BLAKE3 digest is ``digest_hex``."""
    return f"b3:{digest_hex}"


def execution_version(parts: dict[str, Any]) -> str:
    """A deterministic execution id: equal inputs, code, parameters and outputs give the same id."""
    from threadline.model.canonical import canonical_json

    return "ex:" + blake3.blake3(canonical_json(parts)).hexdigest()[:32]
