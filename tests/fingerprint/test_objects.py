"""Which in-memory objects have a fingerprint."""

from __future__ import annotations

import numpy as np
import polars as pl

from threadline.fingerprint import (
    fingerprint_object,
)


def test_unsupported_objects_give_none() -> None:
    assert fingerprint_object(object()) is None
    assert fingerprint_object("text") is None
    assert fingerprint_object([1, 2, 3]) is None
    assert fingerprint_object(np.array([object()], dtype=object)) is None
    assert fingerprint_object(pl.DataFrame({"o": [object()]}, schema={"o": pl.Object})) is None
