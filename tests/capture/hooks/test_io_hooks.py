"""numpy, joblib, pickle, polars, pyarrow and skops reads and writes."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from tests.support.capture_session import Captured

from threadline.capture.hooks._patch import suspended


def test_numpy_save_load_and_views(captured: Captured) -> None:
    with suspended():  # an input file from elsewhere
        np.save("a", np.arange(6.0))
    loaded = np.load("a.npy")
    np.savez("pair", first=loaded[:3], second=loaded.reshape(2, 3))
    with np.load("pair.npz") as archive:
        np.savetxt("first.txt", archive["first"])
    assert captured.upstream("dataset:pair.npz") == {"dataset:a.npy"}
    # pair.npz was written by this process: what derives from it is a feature table.
    assert captured.upstream("features:first.txt") == {"dataset:pair.npz", "dataset:a.npy"}


def test_pickle_to_an_open_file_is_fingerprinted_once_closed(captured: Captured) -> None:
    with suspended():
        joblib.dump({"w": np.ones(3)}, "weights.joblib")
    weights = joblib.load("weights.joblib")
    with open("copy.pkl", "wb") as handle:
        pickle.dump(weights, handle)
        handle.write(b"trailing bytes written after dump")
    assert captured.upstream("dataset:copy.pkl") == {"dataset:weights.joblib"}
    from threadline.fingerprint import fingerprint_path

    versions = captured.store.read(
        lambda conn: [r[0] for r in conn.exec_driver_sql("select version from tl_versions")]
    )
    assert fingerprint_path("copy.pkl") in versions


def test_polars_scan_filter_collect_write(captured: Captured) -> None:
    pl = pytest.importorskip("polars")
    with suspended():
        pl.DataFrame({"a": [1, 2, 3]}).write_csv("in.csv")
        pl.DataFrame({"b": [1]}).write_csv("other.csv")
    pl.read_csv("other.csv")
    out = pl.scan_csv("in.csv").filter(pl.col("a") > 1).with_columns(c=pl.col("a") * 2).collect()
    out.write_parquet("out.parquet")
    assert captured.upstream("dataset:out.parquet") == {"dataset:in.csv"}


def test_pyarrow_parquet_csv_feather(captured: Captured) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.csv as pc
    import pyarrow.feather as feather
    import pyarrow.parquet as pq

    with suspended():
        pq.write_table(pa.table({"a": [1, 2]}), "t.parquet")
    table = pq.read_table("t.parquet")
    pc.write_csv(table, "t.csv")
    feather.write_feather(pc.read_csv("t.csv"), "t.feather")
    assert captured.upstream("features:t.feather") == {"dataset:t.csv", "dataset:t.parquet"}


def test_skops_dump_and_load(captured: Captured) -> None:
    sio = pytest.importorskip("skops.io")
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.arange(6.0).reshape(3, 2), np.arange(3.0))
    sio.dump(model, "model.skops")
    loaded = sio.load("model.skops", trusted=sio.get_untrusted_types(file="model.skops"))
    loaded.predict(np.zeros((1, 2)))
    edges = captured.edges()
    assert ("model:model.skops", "input", "job:test/predict:LinearRegression") in edges
