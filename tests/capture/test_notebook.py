"""``%load_ext threadline``: an IPython session captured as one notebook run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from threadline.capture import session
from threadline.capture.emitter import Emitter, StoreSink, set_emitter
from threadline.store import open_store
from threadline.store import schema as s
from threadline.store.sql import SqlStore

IPython = pytest.importorskip("IPython")


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, SqlStore]]:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.chdir(tmp_path)
    store = open_store(tmp_path / "lineage.db")
    emitter = Emitter(StoreSink(store), batch_window=0.01)
    previous = set_emitter(emitter)
    ip = InteractiveShell.instance()
    try:
        yield ip, store
    finally:
        session.stop()
        emitter.flush(10)
        set_emitter(previous)
        emitter.close()
        InteractiveShell.clear_instance()


def test_cells_are_captured_under_one_notebook_run(shell: tuple[Any, SqlStore]) -> None:
    ip, store = shell
    import pandas as pd

    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]}).to_csv("data.csv", index=False)
    ip.run_line_magic("load_ext", "threadline.capture.notebook")
    cells = [
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
        "df = pd.read_csv('data.csv')",
        "model = LogisticRegression().fit(df[['a']], df['y'])",
        "import joblib\njoblib.dump(model, 'model.joblib')",
        "1 / 0",
    ]
    numbers = []
    for cell in cells:
        numbers.append(ip.execution_count)  # the In[N] number the cell is about to get
        result = ip.run_cell(cell, store_history=True)
    assert isinstance(result.error_in_exec, ZeroDivisionError)  # user errors stay the user's
    ip.run_line_magic("unload_ext", "threadline.capture.notebook")

    def query(conn: Any) -> tuple[list[Any], dict[int, Any]]:
        runs = list(conn.execute(sa.select(s.runs).order_by(s.runs.c.first_seq)))
        nodes = {r.id: r for r in conn.execute(sa.select(s.nodes))}
        return runs, nodes

    runs, nodes = store.read(query)
    by_job = {nodes[r.job_node_id].name: r for r in runs}
    notebook = by_job["notebook"]
    assert notebook.state == "COMPLETE"
    assert (
        orjson.loads(nodes[notebook.job_node_id].facets)["threadline_stage"]["stage"] == "training"
    )
    children = {name: r for name, r in by_job.items() if r.parent_run_id == notebook.run_id}
    assert set(children) == {
        "notebook/features",
        "notebook/fit:LogisticRegression",
        "notebook/write:model.joblib",
    }
    cells_of = {
        name: orjson.loads(r.facets)["threadline_capture"]["cell"] for name, r in children.items()
    }
    assert cells_of["notebook/fit:LogisticRegression"] == numbers[2]
    assert cells_of["notebook/write:model.joblib"] == numbers[3]


def test_a_notebook_job_is_named_from_the_project_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from a sub-folder of a repository, the notebook is named as its script
    neighbours are: by its path from the repository's root, not from the kernel's folder."""
    from threadline.capture.notebook import notebook_job

    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    notebooks = tmp_path / "analysis" / "notebooks"
    notebooks.mkdir(parents=True)
    (notebooks / "explore.ipynb").write_text("{}")
    monkeypatch.chdir(notebooks)
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebooks / "explore.ipynb"))
    assert notebook_job(object()) == "analysis/notebooks/explore.ipynb"
    monkeypatch.delenv("JPY_SESSION_NAME")
    assert notebook_job(object()) == "notebook"
