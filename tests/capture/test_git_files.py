"""The code version read from the repository's files says what ``git`` itself says.

Each case builds a real repository with the ``git`` command line and compares the state read
from its files (plus one ``git diff HEAD``) with the state asked of ``git`` alone, field by
field; layouts the reader does not handle must fall back to ``git``, never guess.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.git_repos import git, make_repo

from threadline.capture import environment, git_files


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def _modify(repo: Path) -> Path:
    (repo / "src" / "train.py").write_text("print('v2')\n")
    return repo / "src"


def _stage_new_file(repo: Path) -> Path:
    (repo / "src" / "new.py").write_text("x = 1\n")
    git(repo, "add", "src/new.py")
    return repo / "src"


def _detach(repo: Path) -> Path:
    (repo / "src" / "train.py").write_text("print('v2')\n")
    git(repo, "commit", "-qam", "two")
    git(repo, "checkout", "-q", "HEAD~1")
    return repo


def _pack_refs(repo: Path) -> Path:
    git(repo, "checkout", "-q", "-b", "feature/deep/name")
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "feature").exists()
    return repo / "src"


def _origin(repo: Path) -> Path:
    git(repo, "remote", "add", "origin", "https://example.com/team/repo.git")
    git(repo, "remote", "add", "other", "git@example.com:o.git")
    return repo


def _linked_worktree(repo: Path) -> Path:
    git(repo, "worktree", "add", "-q", "-b", "side", str(repo.parent / "side"))
    (repo.parent / "side" / "src" / "train.py").write_text("print('side')\n")
    return repo.parent / "side" / "src"


def _tag_named_like_the_branch(repo: Path) -> Path:
    git(repo, "tag", "main")  # git then prints the branch as heads/main
    return repo


def _unborn_branch(repo: Path) -> Path:
    fresh = repo.parent / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "trunk")
    (fresh / "a.py").write_text("a = 1\n")
    git(fresh, "add", "a.py")
    return fresh


def _config_include(repo: Path) -> Path:
    (repo.parent / "extra.conf").write_text('[remote "origin"]\n\turl = https://included/x\n')
    git(repo, "config", "include.path", str(repo.parent / "extra.conf"))
    return repo


def _submodule(repo: Path) -> Path:
    inner = make_repo(repo.parent / "inner")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "lib")
    return repo / "lib"


CASES: dict[str, Callable[[Path], Path]] = {
    "clean": lambda repo: repo / "src",
    "modified": _modify,
    "staged new file": _stage_new_file,
    "detached HEAD": _detach,
    "packed refs": _pack_refs,
    "origin remote": _origin,
    "linked worktree": _linked_worktree,
    "tag named like the branch": _tag_named_like_the_branch,
    "branch with no commit": _unborn_branch,
    "config include": _config_include,
    "submodule": _submodule,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_files_say_what_git_says(repo: Path, case: str) -> None:
    folder = CASES[case](repo)
    read = environment._read_git_state(folder)
    asked = environment._asked_git(folder)
    assert read == asked
    if case not in ("branch with no commit",):
        assert read.commit is not None
        assert read.root is not None


def test_the_common_layout_needs_one_git_process(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _origin(repo)
    _modify(repo)
    calls: list[list[str]] = []
    real = environment._git

    def counted(args: list[str], cwd: Path) -> str | None:
        calls.append(args)
        return real(args, cwd)

    monkeypatch.setattr(environment, "_git", counted)
    state = environment._read_git_state(repo / "src")
    assert calls == [["diff", "HEAD"]]
    assert state.dirty
    assert state.diff_digest
    assert state.remote == "https://example.com/team/repo.git"


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (
            lambda repo: repo.joinpath(".git", "HEAD").write_text("ref: refs/heads/.invalid\n"),
            "HEAD",
        ),
        (lambda repo: git(repo, "config", "core.worktree", str(repo)), "core.worktree"),
        (lambda repo: git(repo, "tag", "main"), "another ref"),
        (lambda repo: _config_include(repo), "config section"),
        (lambda repo: git(repo, "config", "remote.origin.url", 'a "quoted" url'), "config value"),
    ],
)
def test_what_the_reader_does_not_handle_is_left_to_git(
    repo: Path, setup: Callable[[Path], object], reason: str
) -> None:
    setup(repo)
    found = git_files.locate(repo.resolve())
    assert found is not None
    with pytest.raises(git_files.Unusual, match=reason):
        _read_everything(found)


def _read_everything(repository: git_files.Repository) -> None:
    repository.head()
    repository.origin_url()


def test_git_directed_elsewhere_by_the_environment_is_left_to_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(repo / ".git"))
    with pytest.raises(git_files.Unusual, match="environment"):
        git_files.locate(repo.resolve())


def test_a_folder_outside_any_work_tree_has_no_repository(tmp_path: Path) -> None:
    if any((p / ".git").exists() for p in tmp_path.parents):
        pytest.skip("the temporary folder is inside a git repository")
    assert git_files.locate(tmp_path.resolve()) is None


_TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=8)
#: Section keys may be invalid (a digit or "-" first): git then refuses the whole file.
_VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters='"\\#;'),
    min_size=1,
    max_size=20,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    entries=st.lists(
        st.tuples(st.sampled_from(["remote", "Remote", "core", "branch"]), _TOKEN, _TOKEN, _VALUE),
        max_size=6,
    ),
    url=st.one_of(st.none(), _VALUE),
    spaced=st.booleans(),
)
def test_the_origin_url_parsed_from_config_is_what_git_config_gets(
    tmp_path_factory: pytest.TempPathFactory,
    entries: list[tuple[str, str, str, str]],
    url: str | None,
    spaced: bool,
) -> None:
    folder = tmp_path_factory.mktemp("config")
    lines: list[str] = ["# written by hand", "[core]", "\trepositoryformatversion = 0"]
    for section, subsection, key, value in entries:
        if section.lower() == "core":
            continue  # core.worktree and core.bare change the layout itself
        lines += [f'[{section} "{subsection}"]', f"\t{key}{' = ' if spaced else '='}{value}"]
    if url is not None:
        lines += ['[remote "origin"]', f"\turl = {url}", "; a comment"]
    config = folder / "config"
    config.write_text("\n".join(lines) + "\n")
    done = subprocess.run(
        ["git", "config", "--file", str(config), "--get", "remote.origin.url"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode > 1:  # git refuses the file (1 only says the key is not there)
        with pytest.raises(git_files.Unusual):
            git_files._parse_config(config.read_text())
        return
    parsed = git_files._parse_config(config.read_text()).get(("remote", "origin", "url"))
    assert (parsed or "") == done.stdout.strip(), config.read_text()
