"""What the Marquez routes share: the store of the request and the parameters every list takes.

Namespaces and names in the path are percent-encoded by Marquez clients
(``postgres%3A%2F%2Fdb%3A5432``); the app keeps them encoded through routing
(``_EncodedSegments`` in :mod:`threadline.server.app`) and :func:`segment` decodes each once.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Path, Query, Request

from threadline.store.base import Store

Limit = Annotated[int, Query(ge=1, le=10_000, description="How many to return")]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1, description="How many to skip")]
NamespacePath = Annotated[str, Path(description="Namespace (percent-encoded)")]
NamePath = Annotated[str, Path(description="Dataset or job name (percent-encoded)")]
Depth = Annotated[int, Query(ge=0, le=100, description="Hops to follow")]


def store_of(request: Request) -> Store:
    """The store the app serves."""
    store: Store = request.app.state.runtime.store
    return store


def segment(value: str) -> str:
    """A path segment as the client meant it (see the module docs)."""
    return unquote(value)


__all__ = ["Depth", "Limit", "NamePath", "NamespacePath", "Offset", "segment", "store_of"]
