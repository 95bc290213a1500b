"""``python -m threadline`` and the ``threadline`` console script.

``threadline run`` takes a fast path that skips importing Typer and Rich: it starts every
captured program, so its own start-up is part of the capture overhead.
"""

from __future__ import annotations

import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "run":
        from threadline.capture.launch import cli_run

        code = cli_run(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from threadline.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
