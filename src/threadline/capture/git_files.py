"""A repository's commit, branch and origin read from its files, without starting ``git``.

Every captured run records the code version it ran (:mod:`threadline.capture.environment`).
Asking ``git`` for the work tree, ``HEAD``, its branch and the origin URL took four processes
(with the status and the diff, 21-24 ms in a process that had loaded pandas and scikit-learn,
6-8 ms with one process and this module; more on a busy machine), on the path of the script's
first captured operation.  What they print is plainly in the repository's files: ``.git``
(a folder, or in a linked work tree or submodule a file naming one), ``HEAD``, loose refs,
``packed-refs`` and ``config``.

Only the common layout is read here.  Anything else (``GIT_DIR`` and friends in the
environment, a ``core.worktree``, config includes, the reftable ref format, a repository owned
by someone else, which ``git`` refuses to read, a branch name that ``git`` would print
disambiguated) raises :class:`Unusual`, and the caller asks ``git`` itself, so the answer is
always the one ``git`` gives.  Whether the tree is dirty still needs ``git`` (it compares the
whole work tree with ``HEAD``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

#: Environment variables that make ``git`` look elsewhere than the ``.git`` above a folder.
_GIT_ENVIRONMENT: Final = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_COMMON_DIR",
    "GIT_CEILING_DIRECTORIES",
    "GIT_DISCOVERY_ACROSS_FILESYSTEM",
    "GIT_CONFIG",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_PARAMETERS",
    "GIT_REF_PARANOIA",
)
#: Refs that belong to one work tree (kept in its own git directory, not the common one).
_PER_WORKTREE: Final = ("refs/bisect/", "refs/worktree/", "refs/rewritten/")
_HEX: Final = frozenset("0123456789abcdef")
#: What a config section or key name may hold.
_NAME: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


class Unusual(Exception):
    """The repository is laid out in a way this module does not read: ask ``git``."""


class Repository:
    """Where a work tree's repository files are."""

    __slots__ = ("_config", "_packed_refs", "common_dir", "git_dir", "root")

    def __init__(self, root: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        #: This work tree's git directory (``HEAD``, per-work-tree refs).
        self.git_dir = git_dir
        #: The directory every work tree shares (objects, refs, ``config``).
        self.common_dir = common_dir
        self._config: dict[tuple[str, str, str], str] | None = None
        self._packed_refs: dict[str, str] | None = None

    def head(self) -> tuple[str | None, str | None]:
        """``(commit, branch)`` as ``git rev-parse HEAD`` and ``git rev-parse --abbrev-ref
        HEAD`` print them: ``(None, None)`` on a branch with no commit yet, branch ``"HEAD"``
        when detached."""
        target = _read(self.git_dir / "HEAD")
        if target is None:
            raise Unusual("no HEAD")
        if not target.startswith("ref:"):
            return _object_id(target), "HEAD"
        ref = target[4:].strip()
        if not ref.startswith("refs/heads/") or ref.endswith(".invalid"):
            raise Unusual(f"HEAD names {ref}")  # (reftable stores write refs/heads/.invalid)
        commit = self._resolve(ref, depth=0)
        if commit is None:
            return None, None
        branch = ref.removeprefix("refs/heads/")
        if self._ambiguous(branch):
            raise Unusual(f"{branch} also names another ref")
        return commit, branch

    def origin_url(self) -> str | None:
        """``git config --get remote.origin.url`` as the repository's own config says it."""
        return self._settings().get(("remote", "origin", "url"))

    def _settings(self) -> dict[tuple[str, str, str], str]:
        if self._config is None:
            text = _read(self.common_dir / "config")
            self._config = _parse_config(text or "")
            setting = self._config.get
            if setting(("core", "", "worktree")) is not None:
                raise Unusual("core.worktree is set")
            if setting(("core", "", "bare"), "false").lower() in ("true", "yes", "on", "1"):
                raise Unusual("a bare repository")
            if setting(("extensions", "", "refstorage"), "files").lower() != "files":
                raise Unusual("refs are not stored as files")
        return self._config

    def _resolve(self, ref: str, depth: int) -> str | None:
        if depth > 5:
            raise Unusual(f"{ref}: symbolic refs nested too deep")
        self._settings()  # the checks of the ref storage and the layout come first
        folder = self.git_dir if ref.startswith(_PER_WORKTREE) else self.common_dir
        loose = _read(folder / ref)
        if loose is not None:
            if loose.startswith("ref:"):
                return self._resolve(loose[4:].strip(), depth + 1)
            return _object_id(loose)
        return self._packed().get(ref)

    def _packed(self) -> dict[str, str]:
        if self._packed_refs is None:
            text = _read(self.common_dir / "packed-refs") or ""
            refs: dict[str, str] = {}
            for line in text.splitlines():
                if not line or line[0] in "#^":
                    continue
                object_id, _, name = line.partition(" ")
                refs[name.strip()] = _object_id(object_id)
            self._packed_refs = refs
        return self._packed_refs

    def _ambiguous(self, short: str) -> bool:
        """Whether ``git`` would print the branch as ``heads/NAME``: another ref that the
        short name could mean exists (git's ref_rev_parse_rules)."""
        if (self.git_dir / short).exists() or (self.common_dir / short).exists():
            return True
        others = (
            f"refs/{short}",
            f"refs/tags/{short}",
            f"refs/remotes/{short}",
            f"refs/remotes/{short}/HEAD",
        )
        packed = self._packed()
        return any((self.common_dir / o).exists() or o in packed for o in others)


def locate(folder: Path) -> Repository | None:
    """The repository whose work tree holds ``folder`` (an absolute, resolved path), found as
    ``git`` finds it, by the nearest ``.git`` above; None outside any work tree."""
    if any(name in os.environ for name in _GIT_ENVIRONMENT):
        raise Unusual("git is directed elsewhere by the environment")
    try:
        device = folder.stat().st_dev
    except OSError as exc:
        raise Unusual(str(exc)) from exc
    for root in (folder, *folder.parents):
        dot_git = root / ".git"
        try:
            if root.stat().st_dev != device:
                return None  # git stops at a file system boundary too
            is_folder = dot_git.is_dir()
            if not is_folder and not dot_git.is_file():
                continue
            if {root.stat().st_uid, dot_git.stat().st_uid} != {os.getuid()}:
                raise Unusual("owned by another user")  # git's safe.directory check
        except OSError as exc:
            raise Unusual(str(exc)) from exc
        git_dir = dot_git if is_folder else _linked_git_dir(dot_git)
        common = _read(git_dir / "commondir")
        common_dir = (git_dir / common).resolve() if common else git_dir
        return Repository(root, git_dir, common_dir)
    return None


def _linked_git_dir(dot_git: Path) -> Path:
    """The git directory a ``.git`` file names (``gitdir: PATH``, relative to the file)."""
    text = _read(dot_git) or ""
    if not text.startswith("gitdir:"):
        raise Unusual(f"{dot_git} does not name a git directory")
    git_dir = (dot_git.parent / text[7:].strip()).resolve()
    if not git_dir.is_dir():
        raise Unusual(f"{git_dir} is not a folder")
    return git_dir


def _parse_config(text: str) -> dict[tuple[str, str, str], str]:
    """``(section, subsection, key) -> value`` (the last one written wins, as with ``git
    config --get``).  Sections and keys are case-insensitive, subsections are not.  Raises
    :class:`Unusual` where git's syntax goes beyond ``key = plain value``: quotes, escapes,
    continued lines, includes, the old dotted subsection."""
    values: dict[tuple[str, str, str], str] = {}
    section = subsection = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            header, bracket, rest = line[1:].partition("]")
            if not bracket or (rest.strip() and rest.strip()[0] not in "#;"):
                raise Unusual(f"config line {raw!r}")
            name, _, quoted = header.strip().partition(" ")
            section, subsection = name.lower(), quoted.strip()
            if subsection:
                if len(subsection) < 2 or subsection[0] != '"' or subsection[-1] != '"':
                    raise Unusual(f"config section {header!r}")
                subsection = subsection[1:-1]
                if '"' in subsection or "\\" in subsection:
                    raise Unusual(f"config section {header!r}")
            if not section or not _NAME.issuperset(section) or section.startswith("include"):
                raise Unusual(f"config section {header!r}")
            continue
        key, equals, value = line.partition("=")
        key = key.strip()
        if not (key[:1].isascii() and key[:1].isalpha() and _NAME.issuperset(key)):
            raise Unusual(f"config line {raw!r}")  # git refuses the whole file
        value = value.strip() if equals else "true"
        if any(mark in value for mark in '"\\#;'):
            raise Unusual(f"config value {raw!r}")
        values[(section, subsection, key.lower())] = value
    return values


def _object_id(text: str) -> str:
    text = text.strip()
    if len(text) not in (40, 64) or not _HEX.issuperset(text):
        raise Unusual(f"{text[:80]!r} is not an object id")
    return text


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise Unusual(f"{path}: {exc}") from exc


__all__ = ["Repository", "Unusual", "locate"]
