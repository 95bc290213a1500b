"""``python -m threadline`` and the ``threadline`` console script.

``threadline run`` takes a fast path that skips importing Typer and Rich: it starts every
captured program, so its own start-up is part of the capture overhead.
"""

from __future__ import annotations

import os
import sys


def run_arguments(argv: list[str]) -> list[str] | None:
    """The arguments of ``threadline run`` in ``threadline [--store S] run ARGS`` (the global
    ``--store`` becomes the run's, which an own ``--store`` among ARGS overrides, as in the
    full command line), or None for any other command."""
    args = argv[1:]
    store: list[str] = []
    if args[:1] == ["--store"] and len(args) > 2:
        store, args = args[:2], args[2:]
    elif args[:1] and args[0].startswith("--store="):
        store, args = ["--store", args[0].partition("=")[2]], args[1:]
    if args[:1] != ["run"]:
        return None
    return [*store, *args[1:]]


def main() -> None:
    arguments = run_arguments(sys.argv)
    if arguments is not None:
        from threadline.capture.launch import cli_run

        code = cli_run(arguments)
        if code is not None:
            # Everything is written and the store closed: skip the interpreter's teardown
            # (SQLAlchemy's modules, the supervisor's threads), 50-80 ms that every
            # captured script would otherwise wait for.
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    from threadline.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
