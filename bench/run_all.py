"""Run every benchmark in this folder, one after another, and print their figures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n=== {script.name} " + "=" * (60 - len(script.name)), flush=True)
        start = time.perf_counter()
        code = subprocess.run([sys.executable, str(script)], check=False).returncode
        print(f"--- {script.name}: exit {code}, {time.perf_counter() - start:.1f} s", flush=True)
        failed += code != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
