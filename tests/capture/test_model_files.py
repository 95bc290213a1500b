"""Saved model formats the model hooks write are recognised; data files are not."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
import pytest
import skops.io
from sklearn.linear_model import LogisticRegression

from threadline.capture.model_files import model_format

MODEL = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickles_of_every_binary_protocol(tmp_path: Path, protocol: int) -> None:
    path = tmp_path / "model.bin"  # any name: the pickle header says enough
    path.write_bytes(pickle.dumps(MODEL, protocol=protocol))
    assert model_format(path) == "pickle"


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("model.joblib", 0),
        ("model.joblib", 3),
        ("model.pkl.gz", ("gzip", 3)),
        ("model.joblib.bz2", ("bz2", 3)),
        ("model.pkl.xz", ("xz", 3)),
        ("model.pickle.lzma", ("lzma", 3)),
    ],
)
def test_joblib_dumps_plain_and_compressed(tmp_path: Path, name: str, compress: Any) -> None:
    path = tmp_path / name
    joblib.dump(MODEL, path, compress=compress)
    assert model_format(path) in ("pickle", "joblib")


def test_skops_archives_and_mlflow_model_folders(tmp_path: Path) -> None:
    skops.io.dump(MODEL, tmp_path / "model.skops")
    assert model_format(tmp_path / "model.skops") == "skops"
    folder = tmp_path / "mlflow-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  sklearn: {}\n")
    assert model_format(folder) == "MLflow model folder"
    assert model_format(tmp_path) is None  # a folder without MLmodel


def test_data_files_are_not_models(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2], "y": [3, 4]})
    frame.to_csv(tmp_path / "raw.csv", index=False)
    frame.to_parquet(tmp_path / "raw.parquet")
    frame.to_json(tmp_path / "raw.json")
    (tmp_path / "x.pkl").write_text("xy,z\n1,2\n")  # starts like zlib, is text
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w") as archive:
        archive.writestr("data.csv", "a\n1\n")
    for name in ("raw.csv", "raw.parquet", "raw.json", "x.pkl", "bundle.zip", "missing.pkl"):
        assert model_format(tmp_path / name) is None, name
