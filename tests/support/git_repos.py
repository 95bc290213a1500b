"""Real git repositories for tests of the code version a run records."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run ``git ARGS`` in ``cwd``; its output, stripped (fails the test on an error)."""
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, branch: str = "main") -> Path:
    """A repository at ``root`` with one commit of ``src/train.py``, on ``branch``."""
    (root / "src").mkdir(parents=True)
    git(root, "init", "-q", "-b", branch)
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "src" / "train.py").write_text("print('v1')\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "one")
    return root
