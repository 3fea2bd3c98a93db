"""Streaming benchmarks, measured side by side in one run against ffmpeg RTMP receivers on 127.0.0.1.

Run: .venv/bin/python bench/bench_streaming.py
- CPU of streaming to 5 destinations / to 1 (all of the streamer's ffmpeg processes + Python);
- the Python side's CPU while streaming (fan-out, progress parsing, supervisors);
- time from "go live" to every destination live;
- time from a receiver's return to publishing to it again;
- time from stop to every ffmpeg ended (each by the end of its input).
Quality: the LOW preset (854x480, 30 fps, 1500 kbps), x264 veryfast.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.destinations import StreamQuality  # noqa: E402
from backend.streaming import MultiPlatformStreamer, StreamStatus  # noqa: E402
from tests.integration.test_streaming import Receiver, wait_for  # noqa: E402

WINDOW_SECONDS = 15.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def run(count: int, folder: Path) -> dict[str, float]:
    receivers = [Receiver(folder).start() for _ in range(count)]
    streamer = MultiPlatformStreamer(scene_dir=folder / f"scene-{count}")
    streamer.scene.show(title="Benchmark", speaker="Ada Lindqvist · for (80%)", words="Words on screen. " * 20)
    ids = [streamer.add_destination(r.config(quality=StreamQuality.LOW)).destination_id for r in receivers]
    started = time.monotonic()
    streamer.start()
    wait_for(lambda: all(streamer.destinations[i].metrics.status is StreamStatus.LIVE for i in ids), 30, "live")
    to_live = time.monotonic() - started
    time.sleep(3)  # settle
    pids = streamer.ffmpeg_pids()
    me = psutil.Process()
    ffmpeg_before, python_before, wall = cpu_seconds(pids), sum(me.cpu_times()[:2]), time.monotonic()
    time.sleep(WINDOW_SECONDS)
    elapsed = time.monotonic() - wall
    ffmpeg = (cpu_seconds(pids) - ffmpeg_before) / elapsed
    python = (sum(me.cpu_times()[:2]) - python_before) / elapsed
    recovery = measure_recovery(streamer, receivers[0], ids[0])
    wait_for(lambda: len(streamer.ffmpeg_pids()) == len(pids), 30, "every output running")
    stopping = time.monotonic()
    streamer.stop()
    to_stop = time.monotonic() - stopping
    for receiver in receivers:
        receiver.kill()
    return {"to_live": to_live, "ffmpeg": ffmpeg, "python": python, "recovery": recovery, "to_stop": to_stop}


def measure_recovery(streamer: MultiPlatformStreamer, receiver: Receiver, destination_id: str) -> float:
    receiver.kill()
    wait_for(lambda: streamer.destinations[destination_id].metrics.status is not StreamStatus.LIVE, 20, "down")
    time.sleep(4)  # the output keeps retrying while the server is away
    receiver.start()
    back = time.monotonic()
    wait_for(lambda: streamer.destinations[destination_id].metrics.status is StreamStatus.LIVE, 30, "live again")
    return time.monotonic() - back


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        one = run(1, Path(folder))
        five = run(5, Path(folder))
    print(f"streaming CPU, 1 destination:  {one['ffmpeg'] + one['python']:.3f} cores "
          f"(ffmpeg {one['ffmpeg']:.3f}, Python {one['python']:.3f})")
    print(f"streaming CPU, 5 destinations: {five['ffmpeg'] + five['python']:.3f} cores "
          f"(ffmpeg {five['ffmpeg']:.3f}, Python {five['python']:.3f})")
    ratio = (five["ffmpeg"] + five["python"]) / (one["ffmpeg"] + one["python"])
    print(f"CPU 5 / 1 destinations: {ratio:.2f}   goal <= 1.10 (one encoder per destination would cost about 5)")
    print(f"Python side while streaming to 5: {five['python'] * 100:.2f} % of a core   goal <= 3 %")
    print(f"go live -> every destination live: {one['to_live']:.2f} s (1), {five['to_live']:.2f} s (5)   goal <= 2 s")
    print(f"receiver back -> publishing again: {one['recovery']:.2f} s, {five['recovery']:.2f} s   goal <= 3 s")
    print(f"stop -> every ffmpeg ended: {one['to_stop']:.2f} s (1), {five['to_stop']:.2f} s (5)   goal <= 1 s")


if __name__ == "__main__":
    main()
