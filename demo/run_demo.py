"""`make demo`: run the bundled pipeline with lineage capture, then question the store.

The pipeline (``pipeline.py``) holds no lineage code; this driver records each stage with the
explicit API.  Running it again changes nothing in the graph: the same inputs, code and
parameters give the same content fingerprints and execution ids, and the re-runs are counted as
occurrences.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pipeline

import threadline
from threadline.store import open_store

console = Console(highlight=False)
OUT = Path(os.environ.get("THREADLINE_DEMO_OUT", "demo-output")).resolve()
OWNER = f"user:{getpass.getuser()}"


def run_pipeline(out: Path) -> None:
    p = pipeline.paths(out)
    owners = ["team:clinical-ml", OWNER]

    with threadline.run(
        "write-raw-sources",
        stage="ingestion",
        owners=owners,
        reason="export of the clinic register and lab system",
    ) as r:
        pipeline.write_raw_sources(out)
        r.wrote(p["patients"], facets={"threadline_classification": _labels(["pii"])})
        r.wrote(p["measurements"])

    with threadline.run(
        "ingest",
        stage="ingestion",
        owners=owners,
        reason="join register and lab results; drop identifiers",
    ) as r:
        r.read(p["patients"])
        r.read(p["measurements"])
        pipeline.ingest(out)
        r.wrote(p["clean"])

    with threadline.run(
        "build-features",
        stage="features",
        owners=owners,
        params={"log_scaled": "area*", "holdout": "every 5th"},
    ) as r:
        r.read(p["clean"])
        pipeline.build_features(out)
        r.wrote(p["train"], kind="features")
        r.wrote(p["score"], kind="features")

    for variant, params in pipeline.VARIANTS.items():
        with threadline.run(
            f"train-{variant}", stage="training", owners=owners, params=params
        ) as r:
            r.read(p["train"])
            pipeline.train(out, variant)
            r.wrote(pipeline.model_path(out, variant), kind="model")
        with threadline.run(f"evaluate-{variant}", stage="evaluation", owners=owners) as r:
            r.read(pipeline.model_path(out, variant))
            r.read(p["train"])
            metrics = pipeline.evaluate(out, variant)
            r.wrote(pipeline.eval_path(out, variant), kind="evaluation", metrics=metrics)

    with threadline.run(
        "register",
        stage="registration",
        owners=owners,
        reason="promote the variant with the best ROC AUC",
    ) as r:
        for variant in pipeline.VARIANTS:
            r.read(pipeline.eval_path(out, variant))
        best = pipeline.register(out)
        r.read(pipeline.model_path(out, best))
        r.param(selected=best)
        r.wrote(p["registry"], kind="model")

    deployment = threadline.deploy(
        p["registry"], endpoint="diagnosis", environment="production", reason="weekly model refresh"
    )

    with threadline.run("score-batch", stage="scoring", owners=owners) as r:
        r.read(deployment)
        r.read(p["score"])
        pipeline.score(out)
        r.wrote(p["predictions"], kind="predictions")


def _labels(labels: list[str]) -> dict[str, object]:
    from threadline.model.facets import classification

    return classification(labels)


def cli(*args: str) -> None:
    console.print(Rule(f"threadline {' '.join(args)}", style="cyan"))
    done = subprocess.run([sys.executable, "-m", "threadline", *args], check=False)
    if done.returncode != 0:
        console.print(
            f"[red]`threadline {' '.join(args)}` failed with exit code {done.returncode}[/]"
        )
        sys.exit(done.returncode)


def graph_counts() -> dict[str, int]:
    store = open_store(None)
    try:
        return store.counts()
    finally:
        store.close()


def main() -> None:
    before = graph_counts()
    console.print(Rule("running the pipeline with lineage capture", style="green"))
    run_pipeline(OUT)
    threadline.shutdown()
    after = graph_counts()

    p = pipeline.paths(OUT)
    rel = lambda path: os.path.relpath(path)  # noqa: E731
    cli("trace", rel(p["predictions"]))
    cli("impact", rel(p["patients"]))
    logreg = rel(pipeline.model_path(OUT, "logreg"))
    forest = rel(pipeline.model_path(OUT, "forest"))
    cli("diff", logreg, forest)
    cli("verify")

    console.print(Rule("idempotency", style="green"))
    new = {k: after[k] - before[k] for k in ("nodes", "versions", "edges")}
    runs = after["runs"] - before["runs"]
    if before["events"] == 0:
        console.print(
            f"first run: {after['nodes']} nodes, {after['versions']} versions, "
            f"{after['edges']} edges, {after['runs']} runs recorded"
        )
    elif not any(new.values()):
        console.print(
            f"[green]re-run: 0 new nodes, 0 new versions, 0 new edges[/]; "
            f"{runs} runs recorded as new occurrences of existing executions"
        )
    else:
        console.print(f"[yellow]re-run changed the graph: {new}[/]")


if __name__ == "__main__":
    main()
