"""The supervisor's socket: bound in a private folder, removed with it."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from threadline.capture.listener import Listener


def test_the_socket_folder_is_private_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    listener = Listener()
    try:
        folder = Path(listener.folder)
        assert folder.parent == tmp_path
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_ISSOCK(Path(listener.path).stat().st_mode)
        other = Listener()
        assert other.folder != listener.folder
        other.discard()
    finally:
        listener.discard()
    assert list(tmp_path.iterdir()) == []
