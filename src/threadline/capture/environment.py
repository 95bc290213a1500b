"""Who ran the code, where, and which code: gathered once per process.

Feeds the ``threadline_context`` run facet and the ``sourceCodeLocation`` job facet, and the
parameters a script run takes from its command line and environment.  The code
version that takes part in an execution's identity is the git commit, the dirty flag with a
digest of the uncommitted diff (so two different dirty trees never look alike), and the digest
of the entry script.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import blake3

from threadline.capture import git_files
from threadline.capture.liveness import process_start
from threadline.capture.packages import package_versions
from threadline.frozen import frozen_record
from threadline.model.ids import local_host
from threadline.model.machine import platform_name, python_version


@frozen_record
class ProcessFacts:
    """Another process, described by what it reported (:mod:`threadline.capture.script_run`):
    the functions below describe it instead of the running process when given one."""

    pid: int
    #: When it started (seconds since the epoch, to the clock tick; see ``liveness``).
    process_start: float | None
    argv: tuple[str, ...]
    orig_argv: tuple[str, ...]
    cwd: str
    python: str
    #: The tracked packages it had imported (:func:`package_versions`).
    packages: dict[str, str]
    #: ``__main__.__file__`` and ``__main__.__spec__.name``, as it ended.
    main_file: str | None = None
    main_spec: str | None = None


@frozen_record
class GitState:
    commit: str | None
    dirty: bool
    diff_digest: str | None
    branch: str | None
    remote: str | None
    root: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            key: value
            for key, value in (
                ("commit", self.commit),
                ("dirty", self.dirty),
                ("diffDigest", self.diff_digest),
                ("branch", self.branch),
                ("remote", self.remote),
            )
            if value is not None
        }


def _git(args: list[str], cwd: Path) -> str | None:
    # Imported here: a script outside any work tree never needs it (see _read_git_state).
    import subprocess

    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


_git_lock = threading.Lock()
_git_cache: dict[str, GitState] = {}
_NO_GIT: Final = GitState(None, False, None, None, None, None)


def git_state(folder: str) -> GitState:
    """The repository state of ``folder``, computed once per folder and process.

    Callers in several threads wait for the one computation under way (the script run's START
    is built on a thread while the script goes on: ``RunRecorder.start_in_background``).
    """
    hit = _git_cache.get(folder)
    if hit is not None:
        return hit
    with _git_lock:
        hit = _git_cache.get(folder)
        if hit is None:
            hit = _git_cache[folder] = _read_git_state(Path(folder))
        return hit


def _read_git_state(cwd: Path) -> GitState:
    """The work tree, commit, branch and origin from the repository's files
    (:mod:`threadline.capture.git_files`), and one ``git diff HEAD`` for what is not
    committed: one process where asking ``git`` everything took five.  A script outside any
    work tree starts none."""
    try:
        repository = git_files.locate(cwd.resolve())
        if repository is None:
            return _NO_GIT
        commit, branch = repository.head()
        remote = repository.origin_url()
    except git_files.Unusual:
        return _asked_git(cwd)
    if commit is None:
        return _asked_git(cwd)  # no commit yet: git says what is staged
    diff = _git(["diff", "HEAD"], cwd)
    if diff is None:
        return _asked_git(cwd)  # git is missing or refuses the repository
    digest = "b3:" + blake3.blake3(diff.encode()).hexdigest()[:32] if diff else None
    return GitState(commit, bool(diff), digest, branch, remote, str(repository.root))


def _asked_git(cwd: Path) -> GitState:
    """The repository state from ``git`` alone."""
    root = _git(["rev-parse", "--show-toplevel"], cwd)
    if root is None:
        return _NO_GIT
    commit = _git(["rev-parse", "HEAD"], cwd)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd)
    dirty = bool(status)
    diff_digest = None
    if dirty:
        diff = _git(["diff", "HEAD"], cwd) or ""
        diff_digest = "b3:" + blake3.blake3(diff.encode()).hexdigest()[:32]
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], cwd)
    remote = _git(["config", "--get", "remote.origin.url"], cwd)
    return GitState(commit, dirty, diff_digest, branch, remote, root)


def refresh_git_state(folder: str) -> GitState:
    """The repository state of ``folder`` read again now: for a long-lived process (the
    writer agent) describing other processes' runs, where a commit may come between two."""
    with _git_lock:
        state = _git_cache[folder] = _read_git_state(Path(folder))
        return state


#: Script digests by the file's path and state (inode, size, modification and change times).
_script_digests: dict[tuple[str, int, int, int, int], str] = {}


def script_digest(path: str) -> str | None:
    """The script's content digest, read again only when its file changed (every event of a
    run names it; the writer agent, alive across many runs, describes scripts edited between
    two of them)."""
    try:
        stat = os.stat(path)
        key = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        digest = _script_digests.get(key)
        if digest is None:
            digest = "b3:" + blake3.blake3(Path(path).read_bytes()).hexdigest()
            if len(_script_digests) >= 256:
                _script_digests.clear()
            _script_digests[key] = digest
    except OSError:
        return None
    return digest


def entry_script(process: ProcessFacts | None = None) -> str | None:
    """The user's script this process (or ``process``) runs, or None (a REPL, ``-c``, or
    threadline's own CLI).

    ``threadline deploy`` records a run from threadline's command line: the code version of
    that run is the project's (the working directory's repository), never threadline's own
    checkout or console script, which would make every threadline upgrade a new execution.
    """
    if process is not None:
        path, spec_name = process.main_file, process.main_spec
        if path:
            path = os.path.join(process.cwd, path)
    else:
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None)
        spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if not path:
        return None
    script = os.path.abspath(str(path))
    if _is_threadline_cli(script, spec_name):
        return None
    return script


@functools.lru_cache(maxsize=64)
def _is_threadline_cli(path: str, spec_name: object) -> bool:
    # Cached: every run a process records asks (each a realpath of two paths, ~0.5 ms).
    if str(spec_name or "").startswith("threadline"):
        return True  # python -m threadline …
    package = Path(__file__).resolve().parent.parent
    resolved = Path(path).resolve()
    if resolved.is_relative_to(package):
        return True
    # The console script pip writes: a stub named threadline that imports threadline.__main__.
    return resolved.name == "threadline" and "threadline.__main__" in _head(resolved)


def _head(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return handle.read(2048).decode("utf-8", "replace")
    except OSError:
        return ""


def user_name() -> str:
    """Who runs this process: :func:`getpass.getuser`'s answer, without importing getpass
    (and termios with it) into every captured process."""
    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        user = os.environ.get(name)
        if user:
            return user
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def command_parameters(
    argv: Sequence[str], environ: Mapping[str, str], names: Sequence[str]
) -> dict[str, Any]:
    """The parameters a script run was given from outside: its arguments and the values of the
    environment variables the ``identity_env`` setting lists (None when unset).

    They are the run's ``threadline_parameters`` and so part of its execution id: ``train.py
    1.0 a.joblib`` and ``train.py 0.01 b.joblib`` are two executions.  ``argv[0]`` is left out:
    the script is the job, and ``python train.py`` and ``python ./train.py`` are one run.
    """
    params: dict[str, Any] = {"argv": list(argv[1:])}
    if names:
        params["env"] = {name: environ.get(name) for name in names}
    return params


def code_identity(script: str | None, cwd: str | None = None) -> dict[str, Any]:
    """What makes two runs "the same code" (part of the deterministic execution id); ``cwd``
    is the working directory of the process (by default this one's)."""
    git = git_state(code_folder(script, cwd))
    identity: dict[str, Any] = {}
    if git.commit:
        identity["commit"] = git.commit
        identity["dirty"] = git.dirty
        if git.diff_digest:
            identity["diffDigest"] = git.diff_digest
    if script:
        identity["script"] = script_digest(script)
    return identity


def code_folder(script: str | None, cwd: str | None = None) -> str:
    """The folder whose repository holds the code: the script's, else the working directory."""
    # os.path, not pathlib: every event asks (a Path costs ~25 us to make).
    return (os.path.dirname(script) or os.curdir) if script else (cwd or os.getcwd())


#: This process's context bodies, by what they are made of that may change as it runs.
_own_contexts: dict[tuple[Any, ...], dict[str, Any]] = {}


def context(script: str | None, process: ProcessFacts | None = None) -> dict[str, Any]:
    """The ``threadline_context`` facet body for a run of this process (or of ``process``,
    another process of this user on this host: the writer agent builds its run).

    This process's is made once for each state of what it holds that can change while it
    runs (its folder, command line, imported packages, the script's file): every START and
    COMPLETE of every captured operation carries it, and making it took ~0.1-0.2 ms."""
    if process is not None:
        return _context(script, process)
    digest = script_digest(script) if script else None
    key = (script, digest, os.getpid(), os.getcwd(), tuple(sys.argv), len(sys.modules))
    body = _own_contexts.get(key)
    if body is None:
        body = _context(script, this_process())
        if len(_own_contexts) >= 16:
            _own_contexts.clear()
        _own_contexts[key] = body
    return dict(body)


def _context(script: str | None, process: ProcessFacts) -> dict[str, Any]:
    git = git_state(code_folder(script, process.cwd))
    body: dict[str, Any] = {
        "user": user_name(),
        "host": local_host(),
        "pid": process.pid,
        # With host and pid, tells this process from a later one given the same pid.
        "processStart": process.process_start,
        "python": process.python,
        "platform": platform_name(),
        "argv": list(process.argv),
        "cwd": process.cwd,
        "packages": dict(process.packages),
    }
    if git.commit:
        body["git"] = git.to_dict()
    if script:
        body["script"] = {"path": script, "digest": script_digest(script)}
    return body


def this_process() -> ProcessFacts:
    """The running process as it is now (its command line, folder and packages change)."""
    pid = os.getpid()
    return ProcessFacts(
        pid=pid,
        process_start=process_start(pid),
        argv=tuple(sys.argv),
        orig_argv=tuple(getattr(sys, "orig_argv", sys.argv)),
        cwd=os.getcwd(),
        python=python_version(),
        packages=package_versions(),
    )
