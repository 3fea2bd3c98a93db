"""The examples run unattended and succeed."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scheduler_demo_runs_every_debate_and_exits_0() -> None:
    result = subprocess.run([sys.executable, "examples/scheduler_demo.py"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 completed, 0 failed" in result.stdout


def test_automation_demo_does_everything_it_says_and_exits_0(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "examples/automation_demo.py", "--keep", str(tmp_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    said = re.sub(r"\n {10}", " ", result.stdout)  # the narration's wrapped lines, joined
    twitch = re.search(r"the 'Twitch' server \((\S+)\) is killed", said)
    assert twitch, said
    alert = re.search(r"The alert a person receives: \[(WARNING|ERROR|CRITICAL)\] streaming: (.*)", said)
    assert alert and alert.group(2).startswith(twitch.group(1)), said  # what is wrong comes first
    for words in ("And then: [RESOLVED] streaming", "Analytics: 2 debates", "Everything above really happened"):
        assert words in said, said
    assert (tmp_path / "report.html").stat().st_size > 0 and (tmp_path / "report.json").exists()
    assert any((tmp_path / "data" / "recordings").iterdir())
