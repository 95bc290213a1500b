"""Which processes of a ``threadline run`` command are captured: not workers, not helpers."""

from __future__ import annotations

import pytest

from threadline.capture.workers import is_worker_process


@pytest.mark.parametrize(
    ("orig", "argv", "worker"),
    [
        (["python", "train.py"], ["train.py"], False),
        (
            [
                "python",
                "-c",
                "from multiprocessing.spawn import spawn_main",
                "--multiprocessing-fork",
            ],
            ["-c"],
            True,
        ),
        (["python", "-m", "loky.backend.popen_loky_posix"], ["-m"], True),
        (
            ["python", "/venv/lib/python3.11/site-packages/mlflow/utils/_capture_modules.py"],
            ["/venv/lib/python3.11/site-packages/mlflow/utils/_capture_modules.py"],
            True,
        ),
        (["python", "-m", "mypipeline"], ["-m"], False),
    ],
)
def test_worker_processes(orig: list[str], argv: list[str], worker: bool) -> None:
    assert is_worker_process(orig, argv) is worker
