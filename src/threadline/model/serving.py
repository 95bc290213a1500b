"""``Serving``: a deployment that serves a model version, and since when.

The answer to "which deployments serve this model at time *t*?": the store's query layer
(:func:`threadline.query.recorded.serving`) computes it, and capture links the predictions of a
loaded model to it.  It lives in the model layer so that capture can hold one without importing
the query layer (and SQLAlchemy with it).
"""

from __future__ import annotations

from threadline.frozen import frozen_record
from threadline.model.ids import NodeId


@frozen_record
class Serving:
    """A deployment that serves a model version, and since when."""

    #: The deployment version whose window contains the moment asked about.
    node: NodeId
    #: The deployment's ``validFrom``, as recorded (ISO 8601).
    valid_from: str


__all__ = ["Serving"]
