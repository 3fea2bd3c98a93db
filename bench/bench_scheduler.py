"""Scheduler benchmarks: planning a year, supervisor idle CPU, lateness of due debates.

Run: .venv/bin/python bench/bench_scheduler.py   (prints each figure beside its goal)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend import Store, Supervisor  # noqa: E402
from backend.config import load_settings  # noqa: E402
from backend.models import ScheduleConfig  # noqa: E402
from backend.planning import plan_slots  # noqa: E402
from backend.timeutil import UTC, utc_now  # noqa: E402


def best_of(runs: int, work) -> float:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def planning() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for name, config in {
        "interval 60 min, quiet 2-6": ScheduleConfig(interval_minutes=60, quiet_hours_start=2, quiet_hours_end=6,
                                                     timezone="Europe/Berlin"),
        "cron hourly 8-22 h": ScheduleConfig(schedule_type="cron", cron_expression="0 8-22 * * *",
                                             timezone="America/New_York"),
        "cron every 30 min, 48 a day": ScheduleConfig(schedule_type="cron", cron_expression="*/30 * * * *",
                                                      max_debates_per_day=48, timezone="America/New_York"),
        "adaptive prior": ScheduleConfig(schedule_type="adaptive", timezone="Asia/Tokyo"),
    }.items():
        day = best_of(20, lambda: plan_slots(config, [], start, start + timedelta(days=1)))
        year = best_of(5, lambda: plan_slots(config, [], start, start + timedelta(days=365)))
        count = len(plan_slots(config, [], start, start + timedelta(days=365)))
        print(f"plan a year, {name:28s} {year * 1000:7.1f} ms ({count} debates; a day {day * 1000:.2f} ms; "
              f"year/day {year / day:.0f}x)   goal <= 50 ms")


def supervisor_idle(seconds: float = 30.0) -> None:
    with tempfile.TemporaryDirectory() as folder:
        supervisor = Supervisor(load_settings({"AI_COUNCIL_DATA_DIR": folder, "AI_COUNCIL_BROADCAST": "off"})).start()
        time.sleep(1.0)  # let the first plan be written
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(seconds)
        share = (time.process_time() - cpu) / (time.monotonic() - wall) * 100
        supervisor.stop()
    print(f"supervisor idle CPU over {seconds:.0f} s: {share:.3f} % of a core   goal < 0.5 %")


def lateness(count: int = 5) -> None:
    with tempfile.TemporaryDirectory() as folder:
        supervisor = Supervisor(load_settings({"AI_COUNCIL_DATA_DIR": folder, "AI_COUNCIL_TURN_SECONDS": "0", "AI_COUNCIL_BROADCAST": "off"}))
        supervisor.start()
        base = utc_now() + timedelta(seconds=2)
        ids = [supervisor.schedule_debate(base + timedelta(seconds=2 * n), f"Lateness probe {n}").debate_id
               for n in range(count)]
        time.sleep(2 * count + 3)
        docs = {doc["debate_id"]: doc for doc in Store(Path(folder)).debates.all()}
        supervisor.stop()
    late = [(datetime.fromisoformat(docs[i]["actual_start_time"]) - datetime.fromisoformat(docs[i]["scheduled_time"]))
            .total_seconds() * 1000 for i in ids]
    print(f"start lateness of {count} due debates: median {statistics.median(late):.0f} ms, "
          f"max {max(late):.0f} ms   goal: about a second")


if __name__ == "__main__":
    planning()
    lateness()
    supervisor_idle()
