"""A process's capture session: the job name of a script run."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadline.capture.session import default_job


def test_default_job_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs").mkdir()
    assert default_job(["jobs/train.py"], ["python", "jobs/train.py"]) == "jobs/train.py"
    assert default_job(["-m"], ["python", "-m", "pipelines.train"]) == "pipelines.train"
    assert default_job(["-c"], ["python", "-c", "pass"]) == "python"
    assert default_job(["/elsewhere/x.py"], ["python", "/elsewhere/x.py"]) == "/elsewhere/x.py"
