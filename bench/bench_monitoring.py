"""Monitoring benchmarks: the CPU cost of every check each 10 s, and the time from a failure to
its notification arriving at a webhook.

Run: .venv/bin/python bench/bench_monitoring.py   (prints each figure beside its goal)

Overhead: two backend processes run side by side for the same minute on fresh data directories
with streaming on (so all ten checks, the TTS synthesis and the ffmpeg run included), one with
MONITORING_INTERVAL=10 and one with the checks effectively off (a day). The difference of their
CPU time (their own plus their finished children's, read with psutil) over the wall time is the
monitoring's share of a core. Neither has a debate due: the schedule is a yearly cron.
"""

from __future__ import annotations

import json
import logging
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend import Store, Supervisor  # noqa: E402
from backend.config import load_settings  # noqa: E402
from backend.health import CheckResult, HealthStatus  # noqa: E402
from backend.models import ScheduleConfig  # noqa: E402
from backend.notify import NotifierConfig, RateLimit  # noqa: E402
from backend.scheduler import CONFIG_KEY  # noqa: E402

YEARLY = ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *")


def child(data_dir: str, interval: str) -> None:
    """A backend that runs until SIGTERM."""
    Store(Path(data_dir)).settings.set(CONFIG_KEY, YEARLY.to_doc())
    supervisor = Supervisor(load_settings({"AI_COUNCIL_DATA_DIR": data_dir, "MONITORING_INTERVAL": interval,
                                           "AI_COUNCIL_BROADCAST": "on"})).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", len(supervisor.monitor.check_names), flush=True)
    stop.wait()
    supervisor.stop()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def overhead(seconds: float = 60.0) -> None:
    with tempfile.TemporaryDirectory() as on_dir, tempfile.TemporaryDirectory() as off_dir:
        runs = {}
        for name, folder, interval in (("checks every 10 s", on_dir, "10"), ("checks off", off_dir, "86400")):
            popen = subprocess.Popen([sys.executable, __file__, "child", folder, interval], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
            ready = popen.stdout.readline().split()
            runs[name] = (popen, psutil.Process(popen.pid), int(ready[1]))
        time.sleep(2)  # start-up behind both
        start = {name: cpu_seconds(proc) for name, (_, proc, _) in runs.items()}
        wall = time.monotonic()
        time.sleep(seconds)
        used = {name: cpu_seconds(proc) - start[name] for name, (_, proc, _) in runs.items()}
        elapsed = time.monotonic() - wall
        for popen, _, _ in runs.values():
            popen.send_signal(signal.SIGTERM)
            popen.wait(30)
    checks = runs["checks every 10 s"][2]
    for name, cpu in used.items():
        print(f"backend, {name:18s} {100 * cpu / elapsed:6.3f} % of a core over {elapsed:.0f} s")
    share = 100 * (used["checks every 10 s"] - used["checks off"]) / elapsed
    print(f"monitoring overhead ({checks} checks each 10 s): {share:.3f} % of a core   goal < 1 %")


class Hook(BaseHTTPRequestHandler):
    arrivals: list[tuple[float, str]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        Hook.arrivals.append((time.monotonic(), body["message"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Switch:
    def __init__(self) -> None:
        self.bad = False

    def __call__(self) -> CheckResult:
        if self.bad:
            return CheckResult(HealthStatus.UNHEALTHY, "probe 0 of 1 answers")
        return CheckResult(HealthStatus.HEALTHY, "probe 1 of 1 answers")


def wait_for_message(words: str, after: float, timeout: float = 60) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [at for at, message in Hook.arrivals if at >= after and words in message]
        if found:
            return found[0]
        time.sleep(0.01)
    raise SystemExit(f"no message with {words!r} within {timeout} s")


def failure_to_notification(interval: float = 2.0, rounds: int = 5) -> None:
    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as folder:
        Store(Path(folder)).settings.set(CONFIG_KEY, YEARLY.to_doc())
        supervisor = Supervisor(load_settings({"AI_COUNCIL_DATA_DIR": folder, "AI_COUNCIL_BROADCAST": "off",
                                               "MONITORING_INTERVAL": str(interval)})).start()
        threshold = supervisor.book.rule.fail_threshold
        supervisor.save_notifier(NotifierConfig("bench", "Bench"), f"json://127.0.0.1:{server.server_port}/hook")
        supervisor.notifiers.rate_limit = RateLimit(max_messages=100)  # the default 5 per 5 min would hold some
        switch = Switch()
        supervisor.monitor.register_check("probe", switch)
        delays = []
        for index in range(rounds):
            time.sleep(interval * (1 + index / rounds))  # fail at a different phase of the check cycle each time
            failed = time.monotonic()
            switch.bad = True
            delays.append(wait_for_message("[ERROR] probe", failed) - failed)
            switch.bad = False
            wait_for_message("[RESOLVED] probe", failed)
        supervisor.stop()
    server.shutdown()
    goal = interval * threshold + 1
    print(f"failure -> notification at the webhook (interval {interval:g} s, fires after {threshold}): "
          f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s over {rounds}   "
          f"goal <= {goal:g} s (interval x N + 1)")


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3])
    else:
        failure_to_notification()
        overhead()
