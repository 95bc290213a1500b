"""``import threadline`` wall time in a fresh interpreter, against the interpreter's own start.

Run: ``python bench/bench_import.py``  (env BENCH_REPEAT, default 15)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
TARGET_MS = 50.0


def timed(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    bare = statistics.median(timed("pass") for _ in range(REPEAT))
    ours = statistics.median(timed("import threadline") for _ in range(REPEAT))
    peer = statistics.median(timed("import openlineage.client") for _ in range(REPEAT))
    print(f"import time, median of {REPEAT} fresh interpreters (ms)")
    print(f"  python -c pass                  {bare:8.1f}")
    print(
        f"  import threadline               {ours - bare:8.1f}  (target <= {TARGET_MS:.0f}) "
        f"[{'OK' if ours - bare <= TARGET_MS else 'MISS'}]"
    )
    print(f"  import openlineage.client       {peer - bare:8.1f}")


if __name__ == "__main__":
    main()
