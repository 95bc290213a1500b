"""What threadline's events say about themselves: the schema they claim and their producer.

Apart from :mod:`threadline.model.events` (which re-exports them) so that a process writing a
few events by hand (``threadline run``'s supervisor ending runs) does not load msgspec.
"""

from __future__ import annotations

from threadline._version import __version__

TYPE_CHECKING = False  # not typing's: every run's launcher imports this (typing: ~3 ms)
if TYPE_CHECKING:
    from typing import Final

#: Schema every event claims (``schemaURL``) and ``_producer`` threadline stamps on facets.
SCHEMA_URL: Final = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
DATASET_EVENT_SCHEMA_URL: Final = (
    "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"
)
JOB_EVENT_SCHEMA_URL: Final = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent"
PRODUCER: Final = f"https://github.com/threadline-dev/threadline/tree/v{__version__}"

__all__ = ["DATASET_EVENT_SCHEMA_URL", "JOB_EVENT_SCHEMA_URL", "PRODUCER", "SCHEMA_URL"]
