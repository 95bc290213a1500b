"""Fixtures of the end-to-end tests (helpers live in ``runner``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.runner import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.beside(tmp_path)


@pytest.fixture
def make_data(project: Project) -> Callable[[], None]:
    def make() -> None:
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(0)
        n = 120
        frame = pd.DataFrame(
            {
                "a": rng.normal(size=n),
                "b": rng.normal(size=n),
                "email": [f"user{i}@example.com" for i in range(n)],
            }
        )
        frame["label"] = (frame["a"] + frame["b"] > 0).astype(int)
        frame.to_csv(project.root / "raw.csv", index=False)
        pd.DataFrame({"z": range(6)}).to_csv(project.root / "unrelated.csv", index=False)

    return make
