"""Every code block in README.md runs, and says what really happens.

Each block is matched to a checker by its language and first line; a block no checker knows
fails the suite, so a new block must come with a way to run it (or a reason, in
:data:`NOT_RUN`, why another test runs it).

* the Python example runs as a script in a folder holding what it says it needs;
* the capture commands run real scripts in a fresh folder;
* the ``$ threadline …`` sessions run after ``make demo``'s pipeline (run once, here, in a
  copy of ``demo/``); each command must succeed, and every node the README prints must be in
  the real output (ids and fingerprints aside: they follow the code's git state);
* the TOML is a settings table threadline accepts; the layout names files that exist.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import threadline
from threadline.config import resolve

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow

pytest.importorskip("sklearn")
pytest.importorskip("pyarrow")


@dataclass(frozen=True)
class Block:
    language: str
    text: str

    @property
    def first_line(self) -> str:
        return self.text.splitlines()[0]


def blocks() -> list[Block]:
    found = re.findall(r"^```(\w*)\n(.*?)^```$", README.read_text(), flags=re.S | re.M)
    return [Block(language, text) for language, text in found]


#: Blocks another test runs, by first line, with the reason.
NOT_RUN = {
    "$ threadline trace predictions.csv#row=17": (
        "tests/e2e/test_trace_row.py runs this row trace after its own train and score scripts"
    ),
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    # `python` and `threadline` in the README are this environment's.
    return {**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "COLUMNS": "200", **extra}


def shell(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        shell=True,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """``make demo``'s run: the folder (the bundled pipeline ran, its store is the default
    one) and what the demo printed."""
    root = tmp_path_factory.mktemp("readme-demo")
    shutil.copytree(ROOT / "demo", root / "demo", ignore=shutil.ignore_patterns("__pycache__"))
    done = shell(f"{sys.executable} demo/run_demo.py", root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    return root, done.stdout


@pytest.fixture(scope="module")
def demo(demo_run: tuple[Path, str]) -> Path:
    return demo_run[0]


def test_the_demo_pipeline_prints_only_its_own_lines(demo_run: tuple[Path, str]) -> None:
    output = demo_run[1]
    pipeline = output.split("threadline trace", 1)[0].splitlines()
    assert pipeline[0].strip("─ ") == "running the pipeline under threadline run"
    steps = pipeline[1:-1]  # then the rule of the first question
    assert steps
    for line in steps:
        assert line.startswith(("threadline run --stage ", "threadline deploy ")), line


def check_quick_start(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    # `make demo` installs the demo extra, then runs demo/run_demo.py (the demo fixture);
    # `make test` is this suite.
    assert block.text.split() == ["make", "demo", "make", "test"]
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/python demo/run_demo.py" in makefile
    assert "-e '.[demo]'" in makefile
    request.getfixturevalue("demo")


def check_python(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    import pandas as pd

    (tmp_path / "features").mkdir()
    (tmp_path / "models").mkdir()
    (tmp_path / "predictions").mkdir()
    pd.DataFrame({"x": [0.1, 0.4, 0.35, 0.8, 0.9, 0.05], "y": [0, 0, 1, 1, 1, 0]}).to_parquet(
        tmp_path / "features" / "train.parquet"
    )
    (tmp_path / "example.py").write_text(block.text)
    done = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\d+ nodes upstream\n", done.stdout), done.stdout
    # What the example recorded: the predictions lead to the deployment, the model and the
    # training data.
    graph = threadline.trace(
        str(tmp_path / "predictions" / "batch.csv"), store=tmp_path / ".threadline" / "lineage.db"
    )
    names = {node["name"] for node in graph.to_dict()["nodes"]}
    assert {"features/train.parquet", "models/clf.joblib"} <= {
        Path(n).relative_to(tmp_path).as_posix() for n in names if n.startswith(str(tmp_path))
    }
    assert any("deployments/prod/churn" in name for name in names), names


TRAIN = """\
import sys
import joblib
from sklearn.linear_model import LogisticRegression

assert sys.argv[1:] == ["--epochs", "3"]
joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), "models/clf.joblib")
"""

SCORE = """\
import joblib
import pandas as pd

model = joblib.load("models/clf.joblib")
batch = pd.read_csv("batch.csv")
batch.assign(p=model.predict(batch[["x"]])).to_csv("predictions.csv", index=False)
"""


def check_capture_commands(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "train.py").write_text(TRAIN)
    (tmp_path / "score.py").write_text(SCORE)
    (tmp_path / "batch.csv").write_text("x\n0.2\n0.9\n")
    for line in block.text.splitlines():
        command = line.split("#", 1)[0].strip()
        done = shell(command, tmp_path)
        assert done.returncode == 0, (command, done.stderr)
    log = shell("threadline log --json", tmp_path)
    assert log.returncode == 0, log.stderr
    for job in ("train.py", "score.py", "deploy/production/churn"):
        assert job in log.stdout


def check_settings(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    table = tomllib.loads(block.text)["tool"]["threadline"]
    assert table["classify"][0]["labels"] == ["pii"]
    (tmp_path / "pyproject.toml").write_text(block.text)
    settings = resolve(environ={}, cwd=tmp_path)
    assert settings.namespace == "fraud"


#: What identifies a node in a printed tree: its kind mark and name, before the version.
NODE = re.compile(r"([◎⚙◫▤◆⇪✓↺] \S+(?: \S+)?)")


def labels(output: str) -> list[str]:
    found = []
    for line in output.splitlines():
        line = line.split(" b3:")[0].split(" ex:")[0].rstrip(" …")
        match = NODE.search(line)
        if match:
            found.append(match.group(1))
    return found


def rows(output: str) -> list[tuple[str, str]]:
    """The first two cells of each table row (``│ aspect │ key │ …``)."""
    found = []
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if line.startswith("│") and len(cells) > 3:
            found.append((cells[1], cells[2]))
    return found


def check_cli_session(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    folder: Path = request.getfixturevalue("demo")
    sessions = re.split(r"^\$ ", block.text, flags=re.M)[1:]
    assert sessions, block.first_line
    for session in sessions:
        command, _, shown = session.partition("\n")
        done = shell(command, folder)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        real = labels(done.stdout)
        for label in labels(shown):
            assert any(r.startswith(label) for r in real), (command, label, real)
        assert set(rows(shown)) <= set(rows(done.stdout)), command
        first = shown.splitlines()[0] if shown.strip() else ""
        if first.startswith("✓"):
            assert done.stdout.startswith(first.split(" ")[0] + " " + first.split(" ")[1])


def check_layout(block: Block, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    assert block.first_line == "src/threadline/"
    named = re.findall(r"^  (\S+)\s", block.text, flags=re.M)
    assert len(named) > 10
    for name in named:
        assert (ROOT / "src" / "threadline" / name.rstrip("/")).exists(), name


Checker = Callable[[Block, pytest.FixtureRequest, Path], None]


def checker(block: Block) -> Checker | None:
    if block.first_line in NOT_RUN:
        return None
    if block.language == "python":
        return check_python
    if block.language == "toml":
        return check_settings
    if block.language == "console" and block.first_line.startswith("make "):
        return check_quick_start
    if block.language == "console" and block.first_line.startswith("$ threadline "):
        return check_cli_session
    if block.language == "console" and block.first_line.startswith("threadline run "):
        return check_capture_commands
    if block.language == "" and block.first_line == "src/threadline/":
        return check_layout
    raise AssertionError(f"no test runs this README block: {block.first_line!r}")


@pytest.mark.parametrize(
    "block", [b for b in blocks() if b.first_line not in NOT_RUN], ids=lambda b: b.first_line
)
def test_every_readme_block_runs(
    block: Block, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    check = checker(block)
    assert check is not None
    check(block, request, tmp_path)


def test_every_block_is_run_or_says_which_test_runs_it() -> None:
    seen = [b.first_line for b in blocks()]
    assert len(seen) >= 7
    assert set(NOT_RUN) <= set(seen), "NOT_RUN names a block the README no longer has"
