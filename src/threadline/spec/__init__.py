"""Shipped copies of the OpenLineage JSON schemas (package data, no code).

``openlineage/OpenLineage.json`` is the core event schema (spec 2-0-2) and ``openlineage/facets/``
the standard facet schemas, copied unchanged from the OpenLineage repository (Apache-2.0, see
``openlineage/LICENSE``; provenance in ``openlineage/README.md``).  They are read with
:func:`openlineage_files`, never fetched: validation works offline.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def openlineage_files() -> Traversable:
    """The folder holding ``OpenLineage.json``, ``facets/`` and ``LICENSE``."""
    return files(__name__) / "openlineage"


__all__ = ["openlineage_files"]
