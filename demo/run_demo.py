"""`make demo`: run the bundled pipeline with lineage capture, then question the store.

The pipeline (``pipeline.py``) holds no lineage code; this driver records each stage with the
explicit API, then asks the real CLI (``python -m threadline``) for the trace of the predictions,
the impact of a raw file, the diff of the two model variants and a verify of the log.

Running it again changes nothing in the graph: the same inputs, code and parameters give the
same content fingerprints and execution ids, so a re-run only adds occurrences of existing
executions.  Execution ids include the git commit and a digest of the uncommitted diff, so
after a code change the re-run rightly records new executions (the data versions stay).

Exit status: 0 when every step succeeded, otherwise the first failing CLI step's exit code
(1 if lineage could not be written).
"""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from pathlib import Path

import pipeline  # the script's own folder is first on sys.path
from rich.console import Console
from rich.rule import Rule

import threadline
from threadline.model.facets import classification
from threadline.store import open_store

console = Console(highlight=False)
GRAPH = ("nodes", "versions", "edges")


def run_pipeline(out: Path) -> None:
    """Every stage of ``pipeline``, each recorded as one run: reads, writes, params, why, who."""
    p = pipeline.paths(out)
    owners = ["team:clinical-ml", f"user:{getpass.getuser()}"]

    with threadline.run(
        "write-raw-sources",
        stage="ingestion",
        owners=owners,
        reason="nightly export of the clinic register and the lab system",
    ) as r:
        pipeline.write_raw_sources(out)
        r.wrote(p["patients"], facets={"threadline_classification": classification(["pii"])})
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
            f"train-{variant}",
            stage="training",
            owners=owners,
            params=params,
            reason="compare a linear and a tree model",
        ) as r:
            r.read(p["train"])
            pipeline.train(out, variant, params)
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
        best = pipeline.best_variant(out)
        r.read(pipeline.model_path(out, best))
        r.param(selected=best)
        pipeline.register(out, best)
        r.wrote(p["registry"], kind="model")

    deployment = threadline.deploy(
        p["registry"], endpoint="diagnosis", environment="production", reason="weekly model refresh"
    )

    with threadline.run("score-batch", stage="scoring", owners=owners) as r:
        r.read(deployment)
        r.read(p["score"])
        pipeline.score(out)
        r.wrote(p["predictions"], kind="predictions")


def cli(*args: str) -> int:
    """Run one real CLI command, output straight to the terminal; returns its exit code."""
    command = f"threadline {' '.join(args)}"
    console.print(Rule(command, style="cyan"))
    code = subprocess.run([sys.executable, "-m", "threadline", *args], check=False).returncode
    if code != 0:
        console.print(f"[red]`{command}` failed with exit code {code}[/]")
    return code


def store_counts() -> dict[str, int]:
    with open_store() as store:
        return store.counts()


def describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[k]} {k}" for k in (*GRAPH, "runs"))


def summary(before: dict[str, int], after: dict[str, int]) -> str:
    """One line: what this run added to the graph, judged from the counts before and after."""
    new = {k: after[k] - before[k] for k in GRAPH}
    runs = after["runs"] - before["runs"]
    if before["nodes"] == 0:
        return (
            f"[green]new: {new['nodes']} nodes, {new['versions']} versions, "
            f"{new['edges']} edges from {runs} runs[/]"
        )
    if not any(new.values()):
        return f"[green]unchanged: 0 new versions, 0 new edges; {runs} occurrences recorded[/]"
    return (
        f"[yellow]changed: {new['nodes']} new nodes, {new['versions']} new versions, "
        f"{new['edges']} new edges from {runs} runs (the code or the data differ from the "
        "last run: execution ids include the git commit and the uncommitted diff)[/]"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="output folder (default: %(default)s)"
    )
    out = parser.parse_args(argv).out.resolve()
    p = pipeline.paths(out)

    before = store_counts()
    console.print(Rule("running the pipeline with lineage capture", style="green"))
    run_pipeline(out)
    if not threadline.flush(60.0):
        console.print("[red]lineage events could not be written to the store[/]")
        return 1
    after = store_counts()

    rel = os.path.relpath
    codes = [
        cli("trace", rel(p["predictions"])),
        cli("impact", rel(p["patients"])),
        cli(
            "diff",
            rel(pipeline.model_path(out, "logreg")),
            rel(pipeline.model_path(out, "forest")),
        ),
        cli("verify"),
    ]

    console.print(Rule("idempotency", style="green"))
    console.print(f"store before: {describe(before)}")
    console.print(f"store after:  {describe(after)}")
    console.print(summary(before, after))
    return next((code for code in codes if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
