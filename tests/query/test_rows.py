"""Row-level trace on SQLite and PostgreSQL: a scoring line added to the pipeline of
:mod:`tests.support.graphs`, with the row mappings capture records, and real files to read.

::

    day 5  deploy   model_b@mb                                  → deployment churn@d1
    day 8  featurize  batch.csv (a real file)                   → features score/features@sf
    day 8  predict  score/features@sf, model_b@mb (python/pkgs) → predictions score/pred@sp
    day 8  write    score/pred@sp                               → preds.csv (a real file)

``preds.csv`` row k ↔ ``score/pred`` row k (model_b) ↔ ``score/features`` row k ↔ ``batch.csv``
row k.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.support.graphs import context, day, ds, run_event, uid

from threadline.capture.facets import rows_facet
from threadline.errors import NotFound, UsageError
from threadline.fingerprint import fingerprint_path
from threadline.model.ids import NodeId, file_dataset
from threadline.query import LineageGraph, RowTrace, impact, trace
from threadline.query.rows import RowLineage, trace_row
from threadline.rowfiles import VALUE_COLUMNS, read_row
from threadline.store.sql import SqlStore

MEM = "threadline://default"
MODEL_B = NodeId("model", "file://h", "/model_b", "b3:mb")
DEPLOYMENT = NodeId("deployment", MEM, "deployments/production/churn", "b3:d1")
FEATURES = NodeId("features", MEM, "score/features", "b3:sf")
PREDICTIONS = NodeId("predictions", MEM, "score/pred", "b3:sp")
BATCH = [
    {"age": 31 + i, "zip": f"0{1000 + i}", "income": 1000.5 * i, "note": "" if i == 2 else f"n{i}"}
    for i in range(5)
]
PREDICTED = [1, 0, 0, 1, 1]


def dataset(node: NodeId, **facets: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"threadline_artifact": {"kind": node.kind}, **facets}
    body["version"] = {"datasetVersion": node.version}
    return {"namespace": node.namespace, "name": node.name, "facets": body}


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def scoring_events(batch: NodeId, preds: NodeId, *, read_deployment: bool = False) -> list[Any]:
    env = {**context("dee"), "python": "3.11.7", "packages": {"scikit-learn": "1.9.1"}}
    predict_inputs = [dataset(FEATURES), ds("/model_b", "b3:mb", "model")]
    if read_deployment:
        predict_inputs.append(dataset(DEPLOYMENT))
    return [
        run_event(
            "deploy/production/churn",
            uid(20),
            [ds("/model_b", "b3:mb", "model")],
            [
                dataset(
                    DEPLOYMENT,
                    threadline_deployment={
                        "endpoint": "churn",
                        "environment": "production",
                        "validFrom": day(5, 12),
                    },
                )
            ],
            when=day(5, 12),
            execution="ex:d1",
            stage="deployment",
        ),
        run_event(
            "score/featurize",
            uid(21),
            [dataset(batch)],
            [dataset(FEATURES, threadline_rows=rows_facet(batch, len(BATCH)))],
            when=day(8),
            execution="ex:sf",
            stage="features",
        ),
        run_event(
            "score/predict",
            uid(22),
            predict_inputs,
            [
                dataset(
                    PREDICTIONS,
                    threadline_rows=rows_facet(FEATURES, len(BATCH), model=MODEL_B),
                )
            ],
            when=day(8, 1),
            execution="ex:sp",
            stage="scoring",
            params={"threshold": 0.5},
            ctx=env,
        ),
        run_event(
            "score/write",
            uid(23),
            [dataset(PREDICTIONS)],
            [
                dataset(
                    preds,
                    threadline_rows=rows_facet(PREDICTIONS, len(BATCH), columns=["prediction"]),
                )
            ],
            when=day(8, 2),
            execution="ex:sw",
            stage="scoring",
        ),
    ]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    write_csv(tmp_path / "batch.csv", BATCH)
    write_csv(tmp_path / "preds.csv", [{"prediction": p} for p in PREDICTED])
    return tmp_path / "batch.csv", tmp_path / "preds.csv"


def versioned(path: Path, kind: str = "dataset") -> NodeId:
    return file_dataset(path, kind).with_version(fingerprint_path(path))


@pytest.fixture
def scored(store: SqlStore, files: tuple[Path, Path]) -> tuple[NodeId, NodeId]:
    batch, preds = versioned(files[0]), versioned(files[1], "predictions")
    store.append_batch(scoring_events(batch, preds))
    return batch, preds


def test_a_row_traces_to_its_input_row_model_deployment_and_sources(
    store: SqlStore, files: tuple[Path, Path], scored: tuple[NodeId, NodeId]
) -> None:
    batch, preds = scored
    answer = trace(store, f"{files[1]}#row=3")
    assert isinstance(answer, RowTrace)
    assert answer.root == str(preds)
    row = answer.row.to_dict()
    assert row["dataset"] == str(preds)
    assert (row["row"], row["rows"], row["columns"]) == (3, 5, ["prediction"])
    assert row["values"] == {"prediction": 1}
    assert row["input"] == {
        "dataset": str(batch),
        "row": 3,
        "values": {"age": 34, "zip": "01003", "income": 3001.5, "note": "n3"},
    }
    assert [(r["dataset"], r["row"], r.get("rows")) for r in row["chain"]] == [
        (str(preds), 3, 5),
        (str(PREDICTIONS), 3, 5),
        (str(FEATURES), 3, 5),
        (str(batch), 3, None),
    ]
    assert row["model"] == "model:file://h/model_b@b3:mb"
    assert row["deployment"] == {
        "id": str(DEPLOYMENT),
        "endpoint": "churn",
        "environment": "production",
        "valid_from": day(5, 12),
        "link": "model",
    }
    assert row["features"] == [str(FEATURES)]
    assert set(row["training_data"]) == {
        "features:file://h/feat@b3:f1",
        "dataset:file://h/holidays@b3:h1",
        "dataset:file://h/clean@b3:c1",
        "dataset:file://h/raw_a@b3:a1",
        "dataset:file://h/raw_b@b3:b1",
    }
    assert set(row["raw_files"]) == {
        str(batch),
        "dataset:file://h/holidays@b3:h1",
        "dataset:file://h/raw_a@b3:a1",
        "dataset:file://h/raw_b@b3:b1",
    }
    # The row section extends the plain trace: same graph, same node order.
    plain = trace(store, str(files[1]))
    assert type(plain) is LineageGraph
    body, plain_body = answer.to_dict(), plain.to_dict()
    assert list(body) == [*plain_body, "row"]
    assert (body["root"], body["edges"], body["truncated"]) == (
        plain_body["root"],
        plain_body["edges"],
        plain_body["truncated"],
    )
    environment = ("python", "packages")
    assert [{k: v for k, v in n.items() if k not in environment} for n in body["nodes"]] == (
        plain_body["nodes"]
    )
    assert [n["id"] for n in answer.nodes] == [n["id"] for n in plain.nodes]
    predict = answer.node("job:t/score/predict@ex:sp")
    assert predict["user"] == "dee"
    assert predict["code"] == {
        "commit": "a" * 40,
        "dirty": False,
        "branch": "main",
        "script": "b3:5c21",
    }
    assert predict["parameters"] == {"threshold": 0.5}
    assert (predict["python"], predict["packages"]) == ("3.11.7", {"scikit-learn": "1.9.1"})
    assert "packages" not in plain.node("job:t/score/predict@ex:sp")
    orjson.dumps(answer.to_dict())


def test_the_row_may_be_given_as_an_argument_and_by_printable_id(
    store: SqlStore, scored: tuple[NodeId, NodeId]
) -> None:
    _, preds = scored
    by_fragment = trace(store, f"{preds}#row=0").to_dict()
    assert trace(store, str(preds), row=0).to_dict() == by_fragment
    assert trace_row(store, str(preds), 0).to_dict() == by_fragment
    assert trace(store, f"{preds}#row=0", row=0).to_dict() == by_fragment
    assert by_fragment["row"]["values"] == {"prediction": PREDICTED[0]}
    unversioned = f"predictions:{preds.namespace}{preds.name}#row=4"
    assert trace_row(store, unversioned).row.input.values == {
        "age": 35,
        "zip": "01004",
        "income": 4002.0,
        "note": "n4",
    }


def test_empty_cells_are_null_and_the_last_row_is_in_range(
    store: SqlStore, files: tuple[Path, Path], scored: tuple[NodeId, NodeId]
) -> None:
    assert trace_row(store, f"{files[1]}#row=2").row.input.values == {
        "age": 33,
        "zip": "01002",
        "income": 2001.0,
        "note": None,
    }
    assert trace_row(store, f"{files[1]}#row=4").row.at.row == 4


def test_a_row_past_the_end_names_the_count(
    store: SqlStore, files: tuple[Path, Path], scored: tuple[NodeId, NodeId]
) -> None:
    with pytest.raises(NotFound, match=r"row 5 is past the end of .*it has 5 data rows"):
        trace(store, f"{files[1]}#row=5")
    with pytest.raises(NotFound, match=r"rows 0 to 4; counted from 0, the header is not a row"):
        trace(store, str(files[1]), row=99)


def test_bad_rows_are_usage_errors(store: SqlStore, files: tuple[Path, Path]) -> None:
    for ref in (f"{files[1]}#row=", f"{files[1]}#row=-1", f"{files[1]}#row=1.5", "x#rows=2"):
        with pytest.raises(UsageError, match=r"expected ID#row=N"):
            trace(store, ref)
    with pytest.raises(UsageError, match="row must be 0 or more"):
        trace(store, "dataset:file://h/preds", row=-1)
    with pytest.raises(UsageError, match="names row 1 but row=2"):
        trace(store, "dataset:file://h/preds#row=1", row=2)
    with pytest.raises(UsageError, match="which row"):
        trace_row(store, "dataset:file://h/preds")
    with pytest.raises(UsageError, match="only be traced upstream"):
        impact(store, "dataset:file://h/preds#row=1")


def test_a_dataset_without_row_mapping_says_so_and_suggests_the_plain_trace(
    store: SqlStore,
) -> None:
    with pytest.raises(NotFound, match=r"predictions:file://h/preds@b3:p1 has no row mapping") as e:
        trace(store, "predictions:file://h/preds#row=0")
    assert "threadline trace predictions:file://h/preds gives the lineage" in e.value.message
    with pytest.raises(NotFound, match="is not in the store"):
        trace(store, "dataset:file://h/nothing#row=0")


def test_a_changed_file_shows_no_values(
    store: SqlStore, files: tuple[Path, Path], scored: tuple[NodeId, NodeId]
) -> None:
    _, preds = scored
    with files[0].open("a") as handle:
        handle.write("99,09999,1.0,late\n")
    row = trace(store, str(preds), row=1).row
    assert row.input.values is None
    assert row.input.values_unavailable == "the file changed since it was recorded"
    assert row.at.values == {"prediction": PREDICTED[1]}
    quiet = trace(store, str(preds), row=1, row_values=False).row.to_dict()
    assert quiet["values_unavailable"] == "row values are not read by this query"
    assert "values" not in quiet["input"]


def test_a_deployment_the_scoring_run_read_is_linked_as_read(
    store: SqlStore, files: tuple[Path, Path]
) -> None:
    batch, preds = versioned(files[0]), versioned(files[1], "predictions")
    store.append_batch(scoring_events(batch, preds, read_deployment=True))
    deployment = trace(store, str(preds), row=0).row.deployment
    assert deployment is not None
    assert (deployment["id"], deployment["link"]) == (str(DEPLOYMENT), "read")


def test_a_deployment_recorded_after_the_rows_did_not_produce_them(
    store: SqlStore, files: tuple[Path, Path]
) -> None:
    batch, preds = versioned(files[0]), versioned(files[1], "predictions")
    events = scoring_events(batch, preds)
    deploy = events.pop(0)
    deploy["eventTime"] = day(9)
    store.append_batch([*events, deploy])
    row = trace(store, str(preds), row=0).row
    assert row.model == "model:file://h/model_b@b3:mb"
    assert row.deployment is None


def test_a_mapping_to_an_unrecorded_version_ends_the_chain(
    store: SqlStore, files: tuple[Path, Path]
) -> None:
    preds = versioned(files[1], "predictions")
    ghost = NodeId("features", MEM, "score/ghost", "b3:gone")
    store.append_batch(
        [
            run_event(
                "score/write",
                uid(30),
                [ds("/model_b", "b3:mb", "model")],
                [dataset(preds, threadline_rows=rows_facet(ghost, 5))],
                when=day(8),
                execution="ex:g",
            )
        ]
    )
    row = trace(store, str(files[1]), row=2).row
    assert [r.dataset for r in row.chain] == [str(preds), str(ghost)]
    assert row.input.values_unavailable == "this version is not in the store"
    # No model named by the mapping: the nearest model upstream.
    assert row.model == "model:file://h/model_b@b3:mb"
    assert row.deployment is None  # nothing deployed model_b in this store


def test_depth_and_limit_still_bound_the_graph(
    store: SqlStore, scored: tuple[NodeId, NodeId]
) -> None:
    _, preds = scored
    shallow = trace(store, str(preds), row=1, depth=2)
    assert {n["id"] for n in shallow.nodes} == {
        str(preds),
        "job:t/score/write@ex:sw",
        str(PREDICTIONS),
    }
    # Hops past the depth are still followed, by lookup.
    assert shallow.row.input.dataset == str(scored[0])
    assert shallow.row.model == "model:file://h/model_b@b3:mb"
    assert trace(store, str(preds), row=1, limit=3).truncated


def test_the_answer_reads_back_from_its_json(
    store: SqlStore, scored: tuple[NodeId, NodeId]
) -> None:
    answer = trace(store, str(scored[1]), row=3)
    body = orjson.loads(orjson.dumps(answer.to_dict()))
    again = RowTrace.from_dict(body)
    assert again.to_dict() == answer.to_dict()
    assert RowLineage.from_dict(body["row"]).input.values == answer.row.input.values


# --- reading values (no store) ------------------------------------------------------------------


def test_parquet_rows_are_read_across_row_groups(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import datetime as dt

    path = tmp_path / "t.parquet"
    table = pa.table({"i": list(range(10)), "when": [dt.date(2026, 1, 1 + i) for i in range(10)]})
    pq.write_table(table, path, row_group_size=3)
    node = versioned(path)
    assert read_row(node.namespace, node.name, node.version or "", 7) == (
        {"i": 7, "when": "2026-01-08"},
        "",
    )
    assert read_row(node.namespace, node.name, node.version or "", 10) == (
        None,
        "the file has no data row 10",
    )


def test_files_that_are_not_read(tmp_path: Path) -> None:
    wide = tmp_path / "wide.tsv"
    wide.write_text(
        "\t".join(f"c{i}" for i in range(VALUE_COLUMNS + 3))
        + "\n"
        + "\t".join(str(i) for i in range(VALUE_COLUMNS + 3))
        + "\n"
    )
    node = versioned(wide)
    values, why = read_row(node.namespace, node.name, node.version or "", 0)
    assert values is not None
    assert why == ""
    assert len(values) == VALUE_COLUMNS + 1
    assert values["c0"] == 0
    assert values["…"] == "3 more columns"
    other = tmp_path / "m.joblib"
    other.write_bytes(b"x")
    assert read_row(node.namespace, str(other), "b3:x", 0)[1] == (
        "values are read from CSV, TSV and Parquet files only"
    )
    assert read_row("file://elsewhere", node.name, node.version or "", 0)[1] == (
        "the file is on host elsewhere, not this one"
    )
    assert read_row(MEM, "score/pred", "b3:sp", 0)[1] == "not a file (only files are read)"
    assert read_row(node.namespace, str(tmp_path / "gone.csv"), "b3:x", 0)[1].endswith(
        "cannot be read here"
    )
