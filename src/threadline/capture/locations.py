"""Where data lives: the datasets a path, URL, open file, glob or list of them names.

A local path becomes a ``file://`` dataset that capture fingerprints (an open file object once
it is closed); a URL (``s3://``, ``gs://``, ``https://``…) becomes a dataset of that namespace,
unversioned.  Literal CSV or JSON text passed where a path could be is recognised and ignored.
"""

from __future__ import annotations

import os
from typing import Any, Final

from threadline.frozen import frozen_record
from threadline.model.ids import NodeId, file_dataset, split_uri


@frozen_record
class Location:
    """A place data was read from or written to."""

    node: NodeId  # unversioned
    path: str | None = None  # a local file or folder, fingerprinted
    handle: Any = None  # an open file object, fingerprinted once closed


_URL_SCHEMES: Final = ("s3", "gs", "gcs", "az", "abfs", "abfss", "http", "https", "hdfs", "wasb")


def locations(target: object) -> list[Location]:
    """Where ``target`` (a path, URL, file object, glob or list of them) points."""
    if target is None or isinstance(target, (bytes, bytearray, memoryview, int)):
        return []
    if isinstance(target, (list, tuple)):
        return [loc for item in target for loc in locations(item)]
    if isinstance(target, os.PathLike):
        target = os.fspath(target)
    if isinstance(target, str):
        return _string_locations(target)
    name = getattr(target, "name", None)
    if isinstance(name, str) and hasattr(target, "write" if hasattr(target, "write") else "read"):
        path = os.path.abspath(name)
        if os.path.isfile(path) or hasattr(target, "write"):
            return [Location(file_dataset(path), path, target)]
    path_attr = getattr(target, "path", None)  # fsspec-style or pyarrow NativeFile
    if isinstance(path_attr, str):
        return _string_locations(path_attr)
    return []


def _string_locations(text: str) -> list[Location]:
    if "\n" in text or len(text) > 4096:
        return []  # literal CSV/JSON data, not a path
    scheme, sep, _ = text.partition("://")
    if sep and scheme == "file":
        text = text[len("file://") :]
    elif sep and (scheme in _URL_SCHEMES or scheme.isalnum()):
        namespace, name = split_uri(text)
        if not name:
            return []
        return [Location(NodeId("dataset", namespace, name))]
    if any(c in text for c in "*?[") and not os.path.exists(text):
        import glob  # only a glob pattern pays for the module

        matches = sorted(glob.glob(text, recursive=True))
        return [Location(file_dataset(m), os.path.abspath(m)) for m in matches]
    path = os.path.abspath(os.path.expanduser(text))
    return [Location(file_dataset(path), path)]


__all__ = ["Location", "locations"]
