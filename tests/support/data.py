"""Where the test data copied into the repository lives (``tests/data/``, one ``SOURCE.md`` per
folder), so no test reads anything beside the checkout."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
OPENLINEAGE = DATA / "openlineage"
"""The OpenLineage schemas, facet test documents, licence and example events."""
MERKLE = DATA / "merkle"
"""The RFC 6962 Merkle tree vectors."""
