"""The examples run unattended and succeed."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scheduler_demo_runs_every_debate_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "examples/scheduler_demo.py"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 completed, 0 failed" in result.stdout
