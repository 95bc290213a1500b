"""The health checks on the hand-built pipeline of tests.support.graphs, plus events that make
each problem, on SQLite and PostgreSQL (the ``store`` fixture of tests/query/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.support.events import uid
from tests.support.graphs import NS, day, ds, run_event

from threadline.config import Settings
from threadline.errors import UsageError
from threadline.fingerprint.files import fingerprint_file
from threadline.model.events import PRODUCER, SCHEMA_URL
from threadline.model.ids import local_host
from threadline.query.health import CHECK_NAMES, HealthReport, run_health
from threadline.query.health.findings import Finding
from threadline.store.sql import SqlStore

NOW_US = 1_800_000_000 * 1_000_000  # 2027-01-15, after every day() of the pipeline


def checks(report: HealthReport, check: str) -> list[Finding]:
    return [f for f in report.findings if f.check == check]


def nodes(report: HealthReport, check: str) -> set[str]:
    return {f.node for f in checks(report, check)}


def health(store: SqlStore, **kwargs: Any) -> HealthReport:
    return run_health(store, Settings(), now_us=NOW_US, **kwargs)


def test_the_pipeline_as_built_has_its_known_findings(store: SqlStore) -> None:
    report = health(store)
    # Inputs nobody recorded writing: the raw files, holidays and the unrelated lookup.
    assert nodes(report, "input_never_produced") == {
        f"dataset:{NS}/raw_a",
        f"dataset:{NS}/raw_b",
        f"dataset:{NS}/holidays",
        f"dataset:{NS}/unrelated",
    }
    # model_a and model_b were evaluated; model_c was not; none is deployed.
    assert nodes(report, "model_never_evaluated") == {f"model:{NS}/model_c"}
    assert len(checks(report, "model_never_deployed")) == 3
    assert not checks(report, "model_without_training_data")
    assert not checks(report, "predictions_without_model")
    assert not checks(report, "run_never_ended")
    for finding in report.findings:
        assert finding.message
        assert finding.hint
        assert finding.namespace == "t"
    assert report.worst() == "warn"
    assert report.fails("warn")
    assert not report.fails("error")


def test_gaps(store: SqlStore) -> None:
    store.append_batch(
        [
            # A model written by a run that read nothing.
            run_event("import", uid(20), [], [ds("/model_x", "b3:mx", "model")], when=day(8)),
            # Predictions from features alone.
            run_event(
                "guess",
                uid(21),
                [ds("/feat", "b3:f2", "features")],
                [ds("/guesses", "b3:g1", "predictions")],
                when=day(8),
            ),
            # A run that started and never ended.
            run_event("hung", uid(22), [], [], when=day(8), event_type="START"),
            # A source registered by its label is not a gap.
            run_event(
                "lookup",
                uid(23),
                [
                    ds(
                        "/countries",
                        "b3:k1",
                        threadline_classification={"labels": ["source"]},
                    )
                ],
                [ds("/joined", "b3:j1")],
                when=day(8),
            ),
            # A job declared with no run.
            {
                "eventTime": day(8),
                "producer": PRODUCER,
                "schemaURL": SCHEMA_URL.replace("RunEvent", "JobEvent"),
                "job": {"namespace": "t", "name": "declared"},
                "inputs": [],
                "outputs": [],
            },
        ]
    )
    report = health(store, families=["gaps"])
    assert report.checks == ["gaps"]
    assert nodes(report, "model_without_training_data") == {f"model:{NS}/model_x"}
    assert nodes(report, "predictions_without_model") == {f"predictions:{NS}/guesses"}
    [hung] = checks(report, "run_never_ended")
    assert hung.node == f"job:t/hung@run:{uid(22)}"
    assert hung.details["state"] == "START"
    assert nodes(report, "job_without_run") == {"job:t/declared"}
    assert f"dataset:{NS}/countries" not in nodes(report, "input_never_produced")
    # A run open for less than health_stale_run_seconds is not reported.
    recent = run_health(
        store, Settings(health_stale_run_seconds=10**9), now_us=NOW_US, families=["gaps"]
    )
    assert not checks(recent, "run_never_ended")


def test_orphans_and_a_deployment_off_its_model(store: SqlStore) -> None:
    deployment = ds(
        "/deployments/prod/churn",
        "b3:d1",
        "deployment",
        threadline_deployment={"endpoint": "churn", "environment": "prod", "validFrom": day(8)},
    )
    store.append_batch(
        [
            {
                "eventTime": day(8),
                "producer": PRODUCER,
                "schemaURL": SCHEMA_URL.replace("RunEvent", "DatasetEvent"),
                "dataset": ds("/lonely", "b3:l1"),
            },
            run_event(
                "deploy", uid(30), [ds("/model_b", "b3:mb", "model")], [deployment], when=day(8)
            ),
        ]
    )
    report = health(store, families=["orphans"])
    assert nodes(report, "orphan_artifact") == {f"dataset:{NS}/lonely"}
    # model_b is deployed now; the others are not.
    assert f"model:{NS}/model_b" not in nodes(report, "model_never_deployed")
    assert not checks(report, "deployment_model_superseded")
    # A newer model_b version supersedes the deployed one.
    store.append_batch(
        [
            run_event(
                "train",
                uid(31),
                [ds("/feat", "b3:f2", "features")],
                [ds("/model_b", "b3:mb2", "model")],
                when=day(9),
            )
        ]
    )
    [superseded] = checks(health(store, families=["orphans"]), "deployment_model_superseded")
    assert superseded.node == f"deployment:{NS}/deployments/prod/churn@b3:d1"
    assert superseded.details["model"] == f"model:{NS}/model_b@b3:mb"


def test_staleness_counts_the_newer_versions_of_the_training_data(store: SqlStore) -> None:
    deployment = ds("/deployments/prod/churn", "b3:d1", "deployment")
    # model_b (trained on feat@f1 and holidays@h1) copied to a registry, then deployed.
    store.append_batch(
        [
            run_event(
                "register",
                uid(40),
                [ds("/model_b", "b3:mb", "model")],
                [ds("/registry/model", "b3:r1", "model")],
                when=day(8),
            ),
            run_event(
                "deploy",
                uid(41),
                [ds("/registry/model", "b3:r1", "model")],
                [deployment],
                when=day(8),
            ),
        ]
    )
    [stale] = checks(health(store, families=["staleness"]), "stale_training_data")
    assert stale.node == f"deployment:{NS}/deployments/prod/churn@b3:d1"
    [feat] = stale.details["stale_inputs"]
    # feat@f1 (day 2) has one newer version, f2, recorded on day 7 at 01:00: 5.04 days later.
    assert feat["dataset"] == "/feat"
    assert feat["newer_versions"] == 1
    assert feat["newest_days_newer"] == 5.04


def _stats(mean_shift: float, share_a: float) -> dict[str, Any]:
    edges = [0.0 + mean_shift + i for i in range(11)]
    return {
        "rows": 1000,
        "columns": {
            "x": {"type": "numeric", "histogram": {"edges": edges, "counts": [100] * 10}},
            "c": {"type": "categorical", "top": {"a": share_a, "b": 1 - share_a}},
        },
    }


def test_drift_between_the_two_newest_versions(store: SqlStore) -> None:
    def version(
        name: str, when: str, fields: list[tuple[str, str]], stats: dict[str, Any]
    ) -> dict[str, Any]:
        schema = {"fields": [{"name": n, "type": t} for n, t in fields]}
        return run_event(
            "extract",
            f"00000000-0000-7000-8000-{abs(hash(name + when)) % 10**12:012d}",
            [],
            [ds("/table", name, schema=schema, threadline_column_stats=stats)],
            when=when,
        )

    store.append_batch(
        [
            version(
                "b3:t1", day(8), [("x", "float64"), ("c", "str"), ("old", "int64")], _stats(0, 0.5)
            ),
            version(
                "b3:t2",
                day(9),
                [("x", "float64"), ("c", "str"), ("old", "int64")],
                _stats(0.2, 0.55),
            ),
        ]
    )
    quiet = health(store, families=["drift"])
    assert not checks(quiet, "schema_drift")
    assert not checks(quiet, "distribution_drift")
    store.append_batch(
        [version("b3:t3", day(10), [("x", "int64"), ("c", "str"), ("new", "str")], _stats(6, 0.9))]
    )
    report = health(store, families=["drift"])
    [schema] = checks(report, "schema_drift")
    assert schema.node == f"dataset:{NS}/table@b3:t3"
    assert schema.details == {
        "added": ["new"],
        "removed": ["old"],
        "retyped": [{"column": "x", "from": "float64", "to": "int64"}],
    }
    [moved] = checks(report, "distribution_drift")
    by_column = {d["column"]: d for d in moved.details["columns"]}
    assert by_column["x"]["psi"] > 0.2
    assert by_column["c"] == {"column": "c", "category": "a", "share_change": 0.35}


def test_broken_fingerprints(store: SqlStore, tmp_path: Path) -> None:
    kept, edited, removed = (tmp_path / n for n in ("kept.csv", "edited.csv", "removed.csv"))
    for path in (kept, edited, removed):
        path.write_text(f"a,b\n1,{path.name}\n")
    host = f"file://{local_host()}"
    outputs = [
        {
            "namespace": host,
            "name": str(p),
            "facets": {"version": {"datasetVersion": fingerprint_file(p, cache=None)}},
        }
        for p in (kept, edited, removed)
    ]
    store.append_batch([run_event("write", uid(50), [], outputs, when=day(8))])
    assert not health(store, families=["fingerprints"]).findings
    edited.write_text("a,b\n2,changed\n")
    removed.unlink()
    report = health(store, families=["fingerprints"])
    assert {(f.check, f.node.split("@")[0]) for f in report.findings} == {
        ("file_changed", f"dataset:{host}{edited}"),
        ("file_missing", f"dataset:{host}{removed}"),
    }
    assert report.fails("error")


def test_predictions_whose_origin_is_gone(store: SqlStore, tmp_path: Path) -> None:
    model, scored, preds = (tmp_path / n for n in ("model.pkl", "batch.csv", "preds.csv"))
    model.write_bytes(b"model v1")
    scored.write_text("a\n1\n")
    preds.write_text("p\n0.5\n")
    host = f"file://{local_host()}"

    def file(path: Path, kind: str) -> dict[str, Any]:
        facets = {
            "threadline_artifact": {"kind": kind},
            "version": {"datasetVersion": fingerprint_file(path, cache=None)},
        }
        return {"namespace": host, "name": str(path), "facets": facets}

    store.append_batch(
        [
            run_event(
                "score",
                uid(60),
                [file(model, "model"), file(scored, "dataset")],
                [file(preds, "predictions")],
                when=day(8),
            )
        ]
    )
    assert not checks(health(store, families=["fingerprints"]), "prediction_origin_gone")
    read_version = fingerprint_file(model, cache=None)
    model.write_bytes(b"model v2: retrained and saved over the old one")
    report = health(store, families=["fingerprints"])
    [gone] = checks(report, "prediction_origin_gone")
    assert gone.node.startswith(f"predictions:{host}{preds}@b3:")
    assert gone.severity == "warn"
    assert gone.details["origins"] == [
        {
            "kind": "model",
            "path": str(model),
            "version": read_version,
            "now": "changed",
        }
    ]
    scored.unlink()
    [gone] = checks(health(store, families=["fingerprints"]), "prediction_origin_gone")
    assert {(o["path"], o["now"]) for o in gone.details["origins"]} == {
        (str(model), "changed"),
        (str(scored), "gone"),
    }
    assert "model" in gone.message
    # A newer prediction batch scored from files that are all there is no finding.
    model2 = tmp_path / "model2.pkl"
    model2.write_bytes(b"model v3")
    scored.write_text("a\n2\n")
    preds.write_text("p\n0.7\n")
    store.append_batch(
        [
            run_event(
                "score",
                uid(61),
                [file(model2, "model"), file(scored, "dataset")],
                [file(preds, "predictions")],
                when=day(9),
            )
        ]
    )
    assert not checks(health(store, families=["fingerprints"]), "prediction_origin_gone")


def test_every_check_name_is_listed_in_its_family(store: SqlStore) -> None:
    # Alert rules are checked against CHECK_NAMES: a check that reports under another name
    # could never be alerted on.
    test_gaps(store)
    test_staleness_counts_the_newer_versions_of_the_training_data(store)
    report = health(store)
    assert len({f.check for f in report.findings}) >= 8
    for finding in report.findings:
        assert finding.check in CHECK_NAMES[finding.family]


def test_namespace_filter_and_unknown_family(store: SqlStore) -> None:
    assert health(store, namespace="t").findings
    assert not health(store, namespace="elsewhere").findings
    with pytest.raises(UsageError, match="unknown health check 'gap'"):
        health(store, families=["gap"])


def test_keeping_a_few_findings_per_check_keeps_every_count(store: SqlStore) -> None:
    test_gaps(store)
    full = health(store)
    few = health(store, keep_per_check=1)
    assert few.counts() == full.counts()
    assert few.worst() == full.worst()
    assert few.fails("warn") == full.fails("warn")
    per_check: dict[str, int] = {}
    for finding in few.findings:
        per_check[finding.check] = per_check.get(finding.check, 0) + 1
    assert set(per_check.values()) == {1}
    assert set(per_check) == {f.check for f in full.findings}
    assert len(few.findings) < len(full.findings)
    assert sum(few.omitted.values()) == len(full.findings) - len(few.findings)
    assert few.to_dict()["omitted"] == dict(few.omitted)
    assert "omitted" not in full.to_dict()
