"""`make demo`: run the bundled pipeline under automatic capture, then question the store.

The pipeline (``pipeline/*.py``, one script per stage) is plain pandas, scikit-learn and
joblib code with no lineage calls.  This driver runs each script as
``threadline run --stage S [--reason R] -- python pipeline/SCRIPT.py OUT …``, records the
deployment with ``threadline deploy``, scores a batch, and then asks the real CLI for the trace
of the predictions, the impact of a raw file, the diff of the two model variants and a verify
of the log.  Owners and the ``pii`` classification come from ``threadline.toml`` next to this
file: the stage scripts run in this folder, so capture finds it there.

Running it again changes nothing in the graph: the same inputs, code and parameters give the
same content fingerprints and execution ids, so a re-run only adds occurrences of existing
executions.  Execution ids include the git commit and a digest of the uncommitted diff, so
after a code change the re-run rightly records new executions (the data versions stay).

Exit status: 0 when every step succeeded, otherwise the first failing step's exit code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from threadline.store import normalize_url, open_store

HERE = Path(__file__).resolve().parent
console = Console(highlight=False)
GRAPH = ("nodes", "versions", "edges")
VARIANTS = ("logreg", "forest")  # the keys of pipeline/common.py VARIANTS, in order

#: (script, arguments after OUT, stage, reason): the pipeline, in order.
STAGES: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    ("sources.py", (), "ingestion", "nightly export of the clinic register and the lab system"),
    ("ingest.py", (), "ingestion", "join register and lab results; drop identifiers"),
    ("features.py", (), "features", None),
    *(
        step
        for variant in VARIANTS
        for step in (
            ("train.py", (variant,), "training", "compare a linear and a tree model"),
            ("evaluate.py", (variant,), "evaluation", None),
        )
    ),
    ("register.py", (), "registration", "promote the variant with the best ROC AUC"),
)
SCORE = ("score.py", (), "scoring", "weekly batch")


def threadline(*args: str, store: str, quiet: bool = False) -> int:
    """``python -m threadline ARGS`` in this folder (where ``threadline.toml`` is)."""
    done = subprocess.run(
        [sys.executable, "-m", "threadline", *args],
        cwd=HERE,
        env={**os.environ, "THREADLINE_STORE": store},
        stdout=subprocess.DEVNULL if quiet else None,
        check=False,
    )
    return done.returncode


def stage(
    script: str, args: Sequence[str], stage_name: str, reason: str | None, out: Path, store: str
) -> int:
    """One pipeline script under ``threadline run``; returns its exit status."""
    options = ["--store", store, "--stage", stage_name]
    if reason:
        options += ["--reason", reason]
    console.print(f"[dim]threadline run --stage {stage_name} -- python pipeline/{script}[/]")
    command = [sys.executable, f"pipeline/{script}", str(out), *args]
    # The scripts' own prints would be stray lines between these; their errors still show.
    return threadline("run", *options, "--", *command, store=store, quiet=True)


def run_pipeline(out: Path, store: str) -> int:
    for script, args, stage_name, reason in STAGES:
        code = stage(script, args, stage_name, reason, out, store)
        if code != 0:
            return code
    registry = out / "registry" / "diagnosis-model.joblib"
    console.print("[dim]threadline deploy registry/diagnosis-model.joblib[/]")
    code = threadline(
        "--store",
        store,
        "deploy",
        str(registry),
        "--endpoint",
        "diagnosis",
        "--env",
        "production",
        "--reason",
        "weekly model refresh",
        store=store,
        quiet=True,
    )
    if code != 0:
        return code
    return stage(*SCORE, out, store)


def cli(*args: str, store: str) -> int:
    """Run one real CLI command from the caller's folder, output straight to the terminal."""
    command = f"threadline {' '.join(args)}"
    console.print(Rule(command, style="cyan"))
    code = subprocess.run(
        [sys.executable, "-m", "threadline", *args],
        env={**os.environ, "THREADLINE_STORE": store},
        check=False,
    ).returncode
    if code != 0:
        console.print(f"[red]`{command}` failed with exit code {code}[/]")
    return code


def store_counts(store: str) -> dict[str, int]:
    with open_store(store) as opened:
        return opened.counts()


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
    # Resolved here, in the caller's folder, so every step writes to the store it would use.
    store = normalize_url(None)

    before = store_counts(store)
    console.print(Rule("running the pipeline under threadline run", style="green"))
    code = run_pipeline(out, store)
    if code != 0:
        console.print(f"[red]the pipeline failed with exit code {code}[/]")
        return code
    after = store_counts(store)

    rel = os.path.relpath
    codes = [
        cli("trace", rel(out / "predictions" / "batch.csv"), store=store),
        cli("impact", rel(out / "raw" / "patients.csv"), store=store),
        cli(
            "diff",
            rel(out / "models" / f"{VARIANTS[0]}.joblib"),
            rel(out / "models" / f"{VARIANTS[1]}.joblib"),
            store=store,
        ),
        cli("verify", store=store),
    ]

    console.print(Rule("idempotency", style="green"))
    console.print(f"store before: {describe(before)}")
    console.print(f"store after:  {describe(after)}")
    console.print(summary(before, after))
    return next((code for code in codes if code != 0), 0)


if __name__ == "__main__":
    sys.exit(main())
