"""Settings resolution, for the ``url`` setting (remote capture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.config import resolve
from threadline.errors import UsageError


def test_url_defaults_to_none(tmp_path: Path) -> None:
    assert resolve(environ={}, cwd=tmp_path).url is None


def test_url_comes_from_the_environment_over_the_settings_file(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('url = "http://from-file:8765/"\n')
    assert resolve(environ={}, cwd=tmp_path).url == "http://from-file:8765"
    env = {"THREADLINE_URL": "https://from-env"}
    assert resolve(environ=env, cwd=tmp_path).url == "https://from-env"
    assert resolve({"url": "http://explicit"}, environ=env, cwd=tmp_path).url == "http://explicit"


def test_url_in_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.threadline]\nurl = "http://lineage:1"\n')
    assert resolve(environ={}, cwd=tmp_path).url == "http://lineage:1"


@pytest.mark.parametrize("bad", ["localhost:8765", "ftp://host", "http://", "http://h:99999"])
def test_a_bad_url_names_the_variable_and_the_value(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match=rf"THREADLINE_URL='{bad}'.*not an http\(s\) URL"):
        resolve(environ={"THREADLINE_URL": bad}, cwd=tmp_path)


def test_a_bad_url_in_the_settings_file_names_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "threadline.toml").write_text('url = "lineage:8765"\n')
    with pytest.raises(UsageError, match=r"threadline\.toml: url = 'lineage:8765'"):
        resolve(environ={}, cwd=tmp_path)
