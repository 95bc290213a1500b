"""A process's capture session: the job name and the parameters of a script run."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from tests.support.runner import Project as Folder

from threadline.capture.environment import command_parameters
from threadline.capture.session import default_job, module_of


def test_default_job_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    assert default_job(["jobs/train.py"], ["python", "jobs/train.py"]) == "jobs/train.py"
    assert default_job(["-m"], ["python", "-m", "pipelines.train"]) == "pipelines.train"
    assert default_job(["-c"], ["python", "-c", "pass"]) == "python"
    assert default_job(["/elsewhere/x.py"], ["python", "/elsewhere/x.py"]) == "/elsewhere/x.py"
    # Once the module runs, argv[0] is its file: the interpreter's command line still says -m.
    module_file = str(tmp_path / "pipelines" / "train.py")
    assert default_job([module_file], ["python", "-m", "pipelines.train"]) == "pipelines.train"


@pytest.mark.parametrize(
    ("orig", "module"),
    [
        (["python", "-m", "pkg.mod", "a"], "pkg.mod"),
        (["python", "-X", "importtime", "-W", "error", "-m", "pkg"], "pkg"),
        (["python", "-Om", "pkg"], "pkg"),
        (["python", "-u", "-m", "pkg"], "pkg"),
        (["python", "train.py", "-m", "x"], None),
        (["python", "-c", "import x", "-m", "y"], None),
        (["python", "-"], None),
        (["python", "-m"], None),
        (["python"], None),
    ],
)
def test_the_module_of_python_m_is_read_from_the_interpreters_options(
    orig: list[str], module: str | None
) -> None:
    assert module_of(orig) == module


def test_arguments_and_listed_variables_are_parameters_and_part_of_the_execution(
    tmp_path: Path,
) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    folder = Folder(root=root.resolve(), db=tmp_path / "lineage.db")
    folder.write("train.py", "import sys\nprint(sys.argv[1:])\n")
    listed = {"THREADLINE_IDENTITY_ENV": "SEED"}
    folder.python("train.py", "1.0", "a.joblib")
    folder.python("train.py", "0.01", "b.joblib")
    folder.python("train.py", "0.01", "b.joblib", SEED="2", **listed)
    folder.python("train.py", "0.01", "b.joblib", SEED="2", OTHER="x", **listed)

    graph = folder.graph()
    runs = [r for r in graph.runs if graph.nodes[r.job_node_id].name == "train.py"]
    executions = [r.execution_id for r in runs]
    assert len(executions) == 4
    assert None not in executions
    a, b, seeded, unlisted = executions
    assert a != b  # one execution, run twice, before
    assert b != seeded
    assert unlisted == seeded  # a variable nobody listed is not part of the identity
    parameters = [orjson.loads(r.facets)["threadline_parameters"]["parameters"] for r in runs]
    assert parameters[0] == {"argv": ["1.0", "a.joblib"]}
    assert parameters[2] == {"argv": ["0.01", "b.joblib"], "env": {"SEED": "2"}}


def test_command_parameters_list_unset_variables_as_none() -> None:
    params = command_parameters(["train.py", "--C", "1"], {"SEED": "7"}, ("SEED", "RUN_DATE"))
    assert params == {"argv": ["--C", "1"], "env": {"SEED": "7", "RUN_DATE": None}}
    assert command_parameters(["train.py"], {"SEED": "7"}, ()) == {"argv": []}
