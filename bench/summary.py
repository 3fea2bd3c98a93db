"""Run every benchmark in one go and end with one table of every figure that has a goal.

Run: bash bench/run.sh   (or .venv/bin/python bench/summary.py)

Each benchmark script prints its figures beside their goals as it goes (shown live here); the
table at the end repeats every line that names a goal, grouped by script, so the whole state of
the project's targets fits on one screen. The exit status is 0 even when a goal is missed: the
figures are information for people, not a test (this machine is shared and noisy).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
SCRIPTS = ("bench_store.py", "bench_scheduler.py", "bench_streaming.py", "bench_downloads.py", "bench_monitoring.py",
           "bench_analytics.py", "bench_pages.py")


def run(script: str) -> tuple[list[str], float]:
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, str(BENCH / script)], cwd=BENCH.parent, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip("\n"))
    process.wait()
    if process.returncode:
        lines.append(f"(exited {process.returncode})")
    return lines, time.monotonic() - started


def main() -> int:
    table: list[tuple[str, str]] = []
    for script in SCRIPTS:
        print(f"\n== {script}", flush=True)
        lines, seconds = run(script)
        table += [(script, line.strip()) for line in lines if "goal" in line or line.startswith("(exited")]
        print(f"   ({seconds:.0f} s)")
    print("\n| benchmark | figure and goal |\n|---|---|")
    for script, line in table:
        print(f"| {script.removeprefix('bench_').removesuffix('.py')} | {line.replace('|', '/')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
