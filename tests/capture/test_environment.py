"""The code version of a run: git state read once per folder, without git outside a repository."""

from __future__ import annotations

import os
import sys
import threading
import types
from pathlib import Path

import pytest
from tests.support.git_repos import git, make_repo

from threadline.capture import environment


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def test_a_folder_outside_any_repository_starts_no_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    if any((p / ".git").exists() for p in folder.parents):
        pytest.skip("the temporary folder is inside a git repository")
    calls: list[list[str]] = []
    real = environment._git
    monkeypatch.setattr(
        environment, "_git", lambda args, cwd: calls.append(args) or real(args, cwd)
    )
    state = environment.git_state(str(folder))
    assert state.commit is None
    assert not state.dirty
    assert calls == []


def test_commit_branch_and_dirty_flag_with_a_digest_of_the_diff(repo: Path) -> None:
    folder = str(repo / "src")
    clean = environment._read_git_state(Path(folder))
    assert clean.commit == git(repo, "rev-parse", "HEAD")
    assert clean.branch == "main"
    assert not clean.dirty
    assert clean.diff_digest is None
    (repo / "src" / "train.py").write_text("print('v2')\n")
    first = environment._read_git_state(Path(folder))
    (repo / "src" / "train.py").write_text("print('v3')\n")
    second = environment._read_git_state(Path(folder))
    assert first.dirty
    assert second.dirty
    assert first.diff_digest != second.diff_digest  # two different dirty trees never look alike


def test_concurrent_callers_share_one_computation(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = repo / "src" / "train.py"
    folder = str(script.parent)
    environment._git_cache.pop(folder, None)
    computed: list[str] = []
    real = environment._read_git_state
    monkeypatch.setattr(
        environment, "_read_git_state", lambda cwd: computed.append(str(cwd)) or real(cwd)
    )
    states = []
    callers = [
        threading.Thread(target=lambda: states.append(environment.git_state(folder)))
        for _ in range(4)
    ]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join()
    assert computed == [folder]
    assert len({id(s) for s in states}) == 1
    assert states[0].commit == git(repo, "rev-parse", "HEAD")


def test_threadline_own_cli_is_not_the_users_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def main_module(path: Path, spec_name: str | None = None) -> None:
        module = types.ModuleType("__main__")
        module.__file__ = str(path)
        module.__spec__ = types.SimpleNamespace(name=spec_name) if spec_name else None  # type: ignore[assignment]
        monkeypatch.setitem(sys.modules, "__main__", module)

    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    main_module(script)
    assert environment.entry_script() == str(script)

    # The console script pip writes, wherever the virtualenv lives (often inside the project).
    console = tmp_path / ".venv" / "bin" / "threadline"
    console.parent.mkdir(parents=True)
    console.write_text("import sys\nfrom threadline.__main__ import main\nsys.exit(main())\n")
    main_module(console)
    assert environment.entry_script() is None

    package = Path(environment.__file__).resolve().parent.parent
    main_module(package / "__main__.py", "threadline.__main__")
    assert environment.entry_script() is None

    # A user's own file that happens to be called threadline is still the user's script.
    own = tmp_path / "threadline"
    own.write_text("print('mine')\n")
    main_module(own)
    assert environment.entry_script() == str(own)


@pytest.mark.parametrize(
    "variables",
    [
        {"LOGNAME": "ada", "USER": "bob"},
        {"USER": "bob", "LNAME": "cy"},
        {"LNAME": "cy", "USERNAME": "dee"},
        {"USERNAME": "dee"},
        {"LOGNAME": "", "USER": "bob"},
        {},
    ],
)
def test_the_user_is_named_as_getpass_names_it(
    variables: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert environment.user_name() == getpass.getuser()


def test_a_script_edited_between_two_runs_has_a_new_digest(tmp_path: Path) -> None:
    """The writer agent lives across many runs and describes their scripts: one edited
    between two of them is new code, even at the same size and in the same second."""
    script = tmp_path / "train.py"
    script.write_text("print('a')\n")
    first = environment.script_digest(str(script))
    script.write_text("print('b')\n")
    stat = script.stat()
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    second = environment.script_digest(str(script))
    assert first is not None
    assert second not in (None, first)
    assert environment.script_digest(str(tmp_path / "gone.py")) is None


def test_this_process_context_follows_its_folder_command_line_and_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = environment.context(None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["job.py", "--day", "7"])
    after = environment.context(None)
    assert before["cwd"] != str(tmp_path)
    assert after["cwd"] == str(tmp_path)
    assert after["argv"] == ["job.py", "--day", "7"]
    monkeypatch.delitem(sys.modules, "lightgbm", raising=False)
    assert "lightgbm" not in environment.context(None)["packages"]
    monkeypatch.setitem(sys.modules, "lightgbm", types.SimpleNamespace(__version__="9.9.9"))
    assert environment.context(None)["packages"]["lightgbm"] == "9.9.9"
    # Callers may add to the body they get (the project): the next caller's is untouched.
    environment.context(None)["project"] = "changed"
    assert "project" not in environment.context(None)
