"""The facets capture adds to what it records: ``threadline_rows`` and ``threadline_capture``.

``threadline_rows`` on a dataset says that its data row *k* is row *k* of another dataset
(``input``): ``predict`` output maps to the scored features, those to the file they were
selected from, and a written file of predictions to the predictions.  Following ``input`` hop
by hop from ``predictions.csv`` row 17 reaches the scored input row (see
:mod:`threadline.query.rows`).  ``threadline_capture`` on a run says how it was captured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from threadline.model.ids import NodeId
from threadline.model.producer import PRODUCER

_TL: Final = "https://threadline.dev/spec/facets/1-0-0"
ROWS_SCHEMA: Final = f"{_TL}/RowsDatasetFacet.json"
CAPTURE_SCHEMA: Final = f"{_TL}/CaptureRunFacet.json"


def rows_facet(
    input_node: NodeId,
    rows: int | None,
    *,
    model: NodeId | None = None,
    columns: Sequence[str] = (),
) -> dict[str, Any]:
    """``threadline_rows``: data row *k* of this dataset is data row *k* of ``input``.

    Rows count from 0 and exclude any header line.  ``model`` names the model version that
    produced predictions; ``columns`` the columns that hold them.
    """
    body: dict[str, Any] = {
        "_producer": PRODUCER,
        "_schemaURL": ROWS_SCHEMA,
        "input": str(input_node),
        "mapping": "positional",
    }
    if rows is not None:
        body["rows"] = rows
    if model is not None:
        body["model"] = str(model)
    if columns:
        body["columns"] = list(columns)
    return body


def capture_facet(**fields: Any) -> dict[str, Any]:
    """``threadline_capture``: how a run was captured (hook, precision, failures)."""
    return {"_producer": PRODUCER, "_schemaURL": CAPTURE_SCHEMA, **fields}


__all__ = ["CAPTURE_SCHEMA", "ROWS_SCHEMA", "capture_facet", "rows_facet"]
