"""``python -m threadline`` and the ``threadline`` console script.

``threadline run`` takes a fast path that skips importing Typer and Rich: it starts every
captured program, so its own start-up is part of the capture overhead.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from threadline.capture.launch import cli_run

        code = cli_run(sys.argv[2:])
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
