"""Settings files (:mod:`threadline.settings_files`): the nearest file's table, parsed once per
edit for every process, and never a table the file no longer holds."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path
from typing import Any

import pytest

from threadline import settings_files
from threadline.errors import UsageError
from threadline.settings_files import find_settings_file, memo_path

SETTINGS = 'namespace = "clinic"\nowners = ["team:ml"]\n[[classify]]\ncolumn = "email"\n'


@pytest.fixture
def parses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files parsed as TOML; kept tables go to a private temporary folder, and a file
    is kept however recently it changed (tests of the stamps, not of the settling time)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(settings_files, "SETTLED_SECONDS", -1.0)
    seen: list[str] = []
    real = settings_files.load_toml

    def counted(path: str) -> dict[str, Any]:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(settings_files, "load_toml", counted)
    return seen


def project(tmp_path: Path, text: str = SETTINGS) -> Path:
    folder = tmp_path / "project"
    folder.mkdir(exist_ok=True)
    (folder / "threadline.toml").write_text(text)
    return folder


def test_a_settings_file_is_parsed_once_while_it_stays_as_it_was(
    tmp_path: Path, parses: list[str]
) -> None:
    folder = project(tmp_path)
    first = find_settings_file(str(folder))
    again = find_settings_file(str(folder))
    assert (
        first
        == again
        == (
            str(folder / "threadline.toml"),
            {
                "namespace": "clinic",
                "owners": ["team:ml"],
                "classify": [{"column": "email"}],
            },
        )
    )
    assert parses == [str(folder / "threadline.toml")]


def test_a_change_that_keeps_the_size_and_the_modification_time_is_read(
    tmp_path: Path, parses: list[str]
) -> None:
    folder = project(tmp_path, 'namespace = "aaaaa"\n')
    path = folder / "threadline.toml"
    assert find_settings_file(str(folder)) == (str(path), {"namespace": "aaaaa"})
    before = path.stat()
    time.sleep(0.05)  # past the kernel's coarse clock tick: the change time moves
    path.write_text('namespace = "bbbbb"\n')
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size
    assert find_settings_file(str(folder)) == (str(path), {"namespace": "bbbbb"})
    assert len(parses) == 2


def test_a_file_changed_moments_ago_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    folder = project(tmp_path)
    assert find_settings_file(str(folder)) is not None
    assert not Path(memo_path(str(folder / "threadline.toml"))).exists()


def test_a_kept_table_others_could_have_written_is_not_believed(
    tmp_path: Path, parses: list[str]
) -> None:
    folder = project(tmp_path)
    find_settings_file(str(folder))
    memo = Path(memo_path(str(folder / "threadline.toml")))
    memo.write_text(memo.read_text().replace('"clinic"', '"forged"'))
    memo.chmod(0o666)
    assert find_settings_file(str(folder))[1]["namespace"] == "clinic"  # type: ignore[index]
    assert len(parses) == 2


@pytest.mark.parametrize("damage", ["truncated", "another stamp", "not an object", "empty"])
def test_a_kept_table_that_does_not_match_is_read_again(
    tmp_path: Path, parses: list[str], damage: str
) -> None:
    folder = project(tmp_path)
    find_settings_file(str(folder))
    memo = Path(memo_path(str(folder / "threadline.toml")))
    text = memo.read_text()
    memo.write_text(
        {
            "truncated": text[: len(text) // 2],
            "another stamp": text.replace('"stamp":[', '"stamp":[1,'),
            "not an object": "[1, 2]",
            "empty": "",
        }[damage]
    )
    assert find_settings_file(str(folder))[1]["namespace"] == "clinic"  # type: ignore[index]
    assert find_settings_file(str(folder))[1]["namespace"] == "clinic"  # type: ignore[index]
    assert len(parses) == 2  # read again once, and kept again


def test_a_table_json_cannot_hold_is_read_from_the_file_every_time(
    tmp_path: Path, parses: list[str]
) -> None:
    folder = project(tmp_path, 'namespace = "clinic"\n[audit]\nsince = 1979-05-27\n')
    for _ in range(2):
        found = find_settings_file(str(folder))
        assert found is not None
        assert found[1]["audit"] == {"since": datetime.date(1979, 5, 27)}
    assert len(parses) == 2
    assert not Path(memo_path(str(folder / "threadline.toml"))).exists()


def test_a_temporary_folder_that_cannot_be_written_changes_nothing(
    tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path / "missing"))
    folder = project(tmp_path)
    for _ in range(2):
        assert find_settings_file(str(folder))[1]["namespace"] == "clinic"  # type: ignore[index]
    assert len(parses) == 2


def test_a_pyproject_without_a_threadline_table_is_remembered_as_such(
    tmp_path: Path, parses: list[str]
) -> None:
    folder = project(tmp_path)
    inner = folder / "package"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 99\n')
    for _ in range(3):
        found = find_settings_file(str(inner))
        assert found is not None
        assert found[0] == str(folder / "threadline.toml")
    assert sorted(parses) == sorted(
        [str(inner / "pyproject.toml"), str(folder / "threadline.toml")]
    )


def test_a_broken_file_is_named_and_nothing_is_kept(tmp_path: Path, parses: list[str]) -> None:
    folder = project(tmp_path, "namespace = \n")
    with pytest.raises(UsageError, match=r"cannot read settings from .*threadline\.toml"):
        find_settings_file(str(folder))
    assert not Path(memo_path(str(folder / "threadline.toml"))).exists()
