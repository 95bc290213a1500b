"""Which project a capture belongs to: the namespace of its jobs and in-memory datasets.

Job names are script paths (``train.py``) and in-memory datasets are named after their job
(``threadline://NS/train.py/features``), so two projects that each have a ``train.py`` and
record into one shared store would share jobs and datasets unless each has a namespace of its
own.  The namespace is, in order:

1. ``namespace`` from the settings (``threadline.toml``, ``THREADLINE_NAMESPACE``), as given;
   job names are then relative to the settings file's folder;
2. the git repository holding the script: its ``origin`` remote, normalized
   (``git@github.com:Acme/Churn.git`` and ``https://github.com/acme/churn`` are both
   ``github.com.acme.churn``), or, without a remote, the repository's folder
   (``churn-1f3a9c2e``: its name and a digest of host and path); job names are relative to
   the repository's root, so every clone names the same script the same way;
3. the working directory, named like a repository without a remote.

A namespace is one word of ``[a-z0-9._-]``: it is the authority of ``threadline://NS/…`` and
the part before the first ``/`` of ``job:NS/NAME``.  The repository is found by reading
``.git`` and its ``config`` directly, never by starting ``git``: this runs at the start of every
captured process.
"""

from __future__ import annotations

import functools
import os
import re
import urllib.parse
from pathlib import Path
from typing import Any, Final, Literal

import blake3

from threadline.config import SETTINGS, Settings
from threadline.errors import UsageError
from threadline.frozen import frozen_record, replace
from threadline.model.ids import local_host

Source = Literal["settings", "argument", "git-remote", "git-root", "directory"]

_NAMESPACE_SETTING: Final = next(setting for setting in SETTINGS if setting.name == "namespace")
_UNSAFE: Final = re.compile(r"[^a-z0-9._-]+")
#: ``user@host:path`` or ``host:path``: git's scp-like form of an ssh remote.
_SCP_LIKE: Final = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^/:]+):(?P<path>.+)$")
_SECTION: Final = re.compile(r'^\[\s*remote\s+"(?P<name>(?:[^"\\]|\\.)*)"\s*\]', re.IGNORECASE)
_URL: Final = re.compile(r"^url\s*=\s*(?P<value>.*)$", re.IGNORECASE)


@frozen_record
class Project:
    """The namespace of a capture, the folder its job names are relative to, and why."""

    namespace: str
    root: str
    source: Source
    #: The ``origin`` remote without credentials, when the namespace comes from it.
    remote: str | None = None

    def job_name(self, path: str | os.PathLike[str]) -> str:
        """The job name of the script at ``path``: see :func:`relative_name`."""
        return relative_name(path, self.root)

    def named(self, namespace: str) -> Project:
        """This project under a namespace an API caller passed explicitly (checked as the
        ``namespace`` setting is: one word, or the ids it names would not read back)."""
        if namespace == self.namespace:
            return self
        problem = _NAMESPACE_SETTING.check(namespace) if isinstance(namespace, str) else "not text"
        if problem:
            raise UsageError(f"namespace {namespace!r}: {problem}")
        return replace(self, namespace=namespace, source="argument", remote=None)

    def to_dict(self) -> dict[str, Any]:
        """The ``project`` entry of the ``threadline_context`` run facet."""
        body: dict[str, Any] = {"namespace": self.namespace, "source": self.source}
        body["root"] = self.root
        if self.remote:
            body["remote"] = self.remote
        return body


def relative_name(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> str:
    """``path`` relative to ``root`` (POSIX form), or absolute outside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def identify(settings: Settings, script: str | None = None, cwd: str | None = None) -> Project:
    """The project of a process running ``script`` (None: a REPL, ``-c``, the CLI) in ``cwd``."""
    here = os.path.abspath(cwd or os.getcwd())
    folder = os.path.dirname(os.path.abspath(script)) if script else here
    return _identify(settings.namespace, settings.source_dir, folder, here)


@functools.lru_cache(maxsize=32)
def _identify(explicit: str | None, source_dir: str | None, folder: str, cwd: str) -> Project:
    repository = find_repository(Path(folder))
    if explicit:
        root = source_dir or (str(repository) if repository else cwd)
        return Project(explicit, root, "settings")
    if repository is not None:
        remote = origin_url(repository)
        namespace = remote_namespace(remote) if remote else None
        if namespace is not None and remote is not None:
            return Project(namespace, str(repository), "git-remote", without_credentials(remote))
        return Project(folder_namespace(repository), str(repository), "git-root")
    return Project(folder_namespace(Path(cwd)), cwd, "directory")


# --- the repository, read from the file system ----------------------------------------------


def find_repository(folder: Path) -> Path | None:
    """The root of the git work tree holding ``folder`` (the folder with ``.git``), or None."""
    start = folder.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _git_dir(root: Path) -> Path | None:
    """The repository's own folder: ``.git``, or where a worktree's or submodule's ``.git``
    file points (its shared ``commondir`` for a worktree, which holds the config)."""
    dot_git = root / ".git"
    if dot_git.is_dir():
        return dot_git
    try:
        text = dot_git.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    git_dir = (root / text[len("gitdir:") :].strip()).resolve()
    try:
        common = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except OSError:
        return git_dir
    return (git_dir / common).resolve()


def origin_url(root: Path) -> str | None:
    """``remote.origin.url`` from the repository's ``config`` file, or None."""
    git_dir = _git_dir(root)
    if git_dir is None:
        return None
    try:
        lines = (git_dir / "config").read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    in_origin = False
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            section = _SECTION.match(line)
            in_origin = section is not None and section.group("name") == "origin"
            continue
        match = _URL.match(line) if in_origin else None
        if match:
            value = match.group("value").strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value or None
    return None


# --- namespaces -----------------------------------------------------------------------------


def remote_namespace(url: str) -> str | None:
    """``host.path.segments`` of a hosted remote; None for a remote on the local disk.

    The scheme, user, port and a trailing ``.git`` are dropped and the result lower-cased, so
    the ssh and https URLs of one repository give one namespace.
    """
    url = url.strip()
    if "://" in url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme == "file" or not parts.hostname:
            return None
        host, path = parts.hostname, parts.path
    else:
        scp = _SCP_LIKE.match(url)
        if scp is None or "/" in scp.group("host"):
            return None  # a path on this machine
        host, path = scp.group("host"), scp.group("path")
    path = path.strip("/").removesuffix(".git").strip("/")
    words = [host, *(segment for segment in path.split("/") if segment)]
    namespace = ".".join(_word(word) for word in words)
    return namespace.strip(".-") or None


def folder_namespace(folder: Path) -> str:
    """``NAME-DIGEST`` of a folder on this host: readable, and apart from same-named folders."""
    absolute = folder.resolve()
    digest = blake3.blake3(f"{local_host()}:{absolute.as_posix()}".encode()).hexdigest()[:8]
    return f"{_word(absolute.name) or 'project'}-{digest}"


def _word(text: str) -> str:
    return _UNSAFE.sub("-", text.lower()).strip("-")


def without_credentials(url: str) -> str:
    """``url`` without a user name or password (tokens in https remotes are never recorded)."""
    if "://" not in url:
        return url
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


__all__ = [
    "Project",
    "find_repository",
    "folder_namespace",
    "identify",
    "origin_url",
    "relative_name",
    "remote_namespace",
    "without_credentials",
]
