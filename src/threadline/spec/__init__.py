"""Shipped copies of the OpenLineage JSON schemas, and the validator built on them.

``openlineage/OpenLineage.json`` is the core event schema (spec 2-0-2) and ``openlineage/facets/``
the standard facet schemas, copied unchanged from the OpenLineage repository (Apache-2.0, see
``openlineage/LICENSE``; provenance in ``openlineage/README.md``).  They are read with
:func:`openlineage_files`, never fetched: validation (:mod:`threadline.spec.validation`) works
offline.  The ingest policy built on it (:mod:`threadline.spec.ingest`: refuse what lineage
cannot use, note every other deviation) serves the server, ``threadline import`` and the
store's projection alike.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable


def openlineage_files() -> Traversable:
    """The folder holding ``OpenLineage.json``, ``facets/`` and ``LICENSE``."""
    return files(__name__) / "openlineage"


__all__ = ["openlineage_files"]
