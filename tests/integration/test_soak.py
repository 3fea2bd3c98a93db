"""A whole day compressed into minutes: the real backend process (`python -m backend --clock-rate`)
runs 24 hourly debates, each streamed by real ffmpeg to nginx-rtmp and recorded, with every
periodic job and health check on the fast clock; sampled from outside with psutil.

What it proves: every scheduled debate ran once and is accounted for (transcript, recording,
analytics), no alert fired, and nothing leaks: memory, threads and file descriptors between debates
stay flat, and no ffmpeg outlives its debate or the process.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psutil
import pytest

from backend import StreamQuality, Supervisor
from backend.analytics import AnalyticsDashboard
from backend.config import load_settings
from backend.destinations import StreamConfig, StreamPlatform
from backend.models import ScheduleConfig
from backend.scheduler import CONFIG_KEY
from backend.storage import Store
from backend.timeutil import UTC, FastClock
from tests.conftest import wait_for
from tests.integration.test_faults import owned_ffmpeg

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 6, 15, 0, 0, tzinfo=UTC)  # a Monday
RATE = 600  # an hour in 6 s, the day in 2.4 min
DAY_END = START + timedelta(hours=24, minutes=10)  # after the 23:30 debate has ended

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Sample:
    seconds: float  # real seconds since the process started
    rss_mb: float
    threads: int
    fds: int
    ffmpeg: int  # ffmpeg processes started for this data directory


def environment(data: Path) -> dict[str, str]:
    return {"AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_X264_PRESET": "ultrafast",
            "AI_COUNCIL_TURN_SECONDS": "0.1", "AI_COUNCIL_TTS": "off", "MONITORING_INTERVAL": "60",
            "AI_COUNCIL_RECORDING_MIN_FREE_MB": "10", "AI_COUNCIL_LOG_LEVEL": "WARNING"}


def set_up(data: Path, rtmp_port: int) -> None:
    """The plan (hourly at half past) and one destination, written on the rehearsal's own clock."""
    config = ScheduleConfig(interval_minutes=60, start_date=START + timedelta(minutes=30), timezone="UTC",
                            max_debates_per_day=24, min_interval_minutes=30, misfire_grace_seconds=1800)
    Store(data).settings.set(CONFIG_KEY, config.to_doc())
    setup = Supervisor(load_settings(environment(data)), clock=FastClock(START, 1)).start()
    setup.save_destination(StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key="soak-key", name="nginx",
                                        rtmp_url=f"rtmp://127.0.0.1:{rtmp_port}/live", quality=StreamQuality.LOW))
    setup.stop()


def sample(process: psutil.Process, data: Path, started: float) -> Sample:
    return Sample(time.monotonic() - started, process.memory_info().rss / 2**20, process.num_threads(),
                  process.num_fds(), len(owned_ffmpeg(data)))


def quarter(samples: list[Sample], index: int, length: float) -> list[Sample]:
    """The samples between debates (no ffmpeg running) in one quarter of the run."""
    low, high = index * length / 4, (index + 1) * length / 4
    return [s for s in samples if low <= s.seconds < high and s.ffmpeg == 0]


def test_a_day_in_minutes_runs_every_debate_once_and_leaks_nothing(tmp_path: Path, nginx) -> None:
    data = tmp_path / "data"
    set_up(data, nginx.rtmp_port)
    length = (DAY_END - START).total_seconds() / RATE
    backend = subprocess.Popen(
        [sys.executable, "-m", "backend", "--clock-rate", str(RATE), "--clock-start", START.isoformat()],
        cwd=ROOT, env={**os.environ, **environment(data)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    process, started, samples = psutil.Process(backend.pid), time.monotonic(), []
    try:
        while time.monotonic() - started < length:
            samples.append(sample(process, data, started))
            time.sleep(0.5)
    finally:
        backend.send_signal(signal.SIGTERM)
        code = backend.wait(30)
    errors = backend.stderr.read().decode()
    assert code == 0, errors[-3000:]
    assert not owned_ffmpeg(data), "an ffmpeg outlived the backend"

    # Every scheduled debate accounted for: one per hour, completed, with its words, recording and metrics.
    day = [d for d in Store(data).debate_history(START, START + timedelta(days=1))]
    slots = [START + timedelta(hours=h, minutes=30) for h in range(24)]
    assert [datetime.fromisoformat(d["scheduled_time"]) for d in day] == slots
    assert {d["status"] for d in day} == {"completed"}, [(d["scheduled_time"], d["status"], d.get("error_message"))
                                                        for d in day if d["status"] != "completed"]
    store = Store(data)
    for debate in day:
        assert len(store.transcript(debate["debate_id"])) == 12
        recording = data / "recordings" / f"{debate['debate_id']}-00000.ts"
        assert recording.stat().st_size > 50_000, recording
    stats = AnalyticsDashboard(store=store, clock=lambda: DAY_END).get_debate_statistics(days=2)  # calendar days: the 15th and 16th
    assert stats["total_debates"] == 24 and stats["completion_rate"] == 1.0
    # No alert: the cpu check alone may warn, since it measures the whole machine, which other jobs share.
    alerts = [a for a in store.alerts.all() if a["component"] != "cpu"]
    assert alerts == [], [a["message"] for a in alerts]

    # Nothing leaks: between debates, the night is like the morning (the first quarter warms up).
    # Memory by its median; threads and descriptors by their floor, the fewest seen between debates:
    # a health round (every real second at this rate) briefly adds 2 threads and an event loop's 3
    # descriptors, and how often a sample lands in one depends on the machine's load, but a leaked
    # thread or descriptor raises the floor for good.
    early, late = quarter(samples, 1, length), quarter(samples, 3, length)
    assert len(early) >= 10 and len(late) >= 10, "too few samples between debates to judge"
    rss = statistics.median(s.rss_mb for s in early), statistics.median(s.rss_mb for s in late)
    threads = min(s.threads for s in early), min(s.threads for s in late)
    fds = min(s.fds for s in early), min(s.fds for s in late)
    figures = (f"rss_mb median {rss[0]:.1f} -> {rss[1]:.1f}, threads floor {threads[0]} -> {threads[1]}, "
               f"fds floor {fds[0]} -> {fds[1]}")
    print(f"between debates, hours 6-12 -> 18-24: {figures}; most threads at any time {max(s.threads for s in samples)}")
    assert rss[1] - rss[0] < 8, figures
    assert threads[1] <= threads[0], figures
    assert fds[1] <= fds[0], figures
    assert max(s.threads for s in samples) < 40, "threads pile up"
    assert max(s.ffmpeg for s in samples) <= 4, "encoder, output, recorder and preview: no more"  # none piles up
    wait_for(lambda: nginx.publishing() == [], 10, "nginx to see no stream left")
