"""Analytics read and write costs with a year of history.

Run from anywhere: ``python bench/bench_analytics.py``. Builds two temporary data directories:

  1 day:    today's debates only;
  365 days: 24 debates a day with 5 destinations each (8,760 DebateMetrics, 43,800
            StreamingMetrics), a system sample every minute for the last 7 days and one hourly
            rollup row (count 60) for every hour before that.

Debates and streams go through ``AnalyticsDashboard.record_debates``/``record_streams`` (one write per
day file), raw samples through ``record_system`` + ``flush``; the rollup months are written directly
in the Store's documented layout (``series/system/rollup/YYYY-MM.json``), as ``roll_up`` would leave
them, because producing 515,000 raw samples first would take minutes.

Then it prints, each beside its goal:

  - ``get_dashboard_data()`` on the 365-day directory, median of 5 runs (goal <= 300 ms), with a
    fresh AnalyticsDashboard (no warm cache of any kind: the code has none);
  - ``record_debate`` of one new debate today, 200 times, alternating between the directories:
    median 365 d / median 1 d (goal <= 1.5).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a plain script: make `backend` importable without installing it
    sys.path.insert(0, str(ROOT))

from backend.analytics import (SYSTEM_FIELDS, AnalyticsDashboard, DebateMetrics,  # noqa: E402
                               StreamingMetrics, SystemMetrics)
from backend.storage import Store, atomic_replace  # noqa: E402
from backend.timeutil import UTC, to_iso  # noqa: E402

NOW = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # fixed, so every run builds the same files
DEBATES_PER_DAY = 24
DESTINATIONS = (("yt", "youtube"), ("tw", "twitch"), ("fb", "facebook"), ("kk", "kick"), ("li", "linkedin"))
RAW_DAYS = 7
RUNS = 5
REPETITIONS = 200
TOPICS = ["Should cities ban private cars from their centres on weekdays?", "Is nuclear power green?",
          "Should AI models be open source?", "Four-day work week: yes or no?", "Should voting be mandatory?",
          "Is remote work here to stay?", "Should space mining be regulated?", "Universal basic income now?"]


def debate(when: datetime, index: int) -> DebateMetrics:
    failed = index % 25 == 0
    return DebateMetrics(
        debate_id=f"debate_{when:%Y%m%dT%H%M%S}_{index:08x}", start_time=when,
        end_time=when + timedelta(minutes=9), topic=TOPICS[index % len(TOPICS)],
        status="failed" if failed else "completed", participants=5, responses=0 if failed else 15,
        avg_response_length=None if failed else 420.0 + index % 50, avg_confidence=0.7,
        consensus=0.6 + (index % 4) / 10, controversy=0.3 + (index % 5) / 10, verdict="for",
        viewer_count_peak=200 + index % 300, viewer_count_avg=150.0 + index % 200,
        engagement_score=0.4 + (index % 50) / 100, platforms=tuple(platform for _, platform in DESTINATIONS))


def streams(item: DebateMetrics, index: int) -> list[StreamingMetrics]:
    end = item.end_time or item.start_time
    return [StreamingMetrics(
        broadcast_id=item.debate_id, destination_id=destination, platform=platform, start_time=item.start_time,
        end_time=end, peak_viewers=40 + (index + number) % 200, avg_viewers=30.0 + (index + number) % 150,
        avg_bitrate_kbps=4500.0, bytes_sent=300_000_000, uptime_percentage=99.5, frame_drop_rate=0.002,
        reconnects=int(index % 7 == 0)) for number, (destination, platform) in enumerate(DESTINATIONS)]


def debate_times(days: int, now: datetime = NOW) -> list[datetime]:
    """24 debates a day for ``days`` days, ending before ``now`` (today counts as a day)."""
    first = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    return [moment for hour in range(days * DEBATES_PER_DAY)
            if (moment := first + timedelta(hours=hour, minutes=5)) < now]


def rollup_row(hour: datetime) -> dict[str, Any]:
    """What Store.roll_up makes of 60 one-minute samples of an hour."""
    cpu = 20.0 + hour.hour % 9
    values = {"cpu_percent": cpu, "memory_percent": 55.0, "disk_percent": 40.0, "net_sent_bps": 3.6e7,
              "net_recv_bps": 2.0e5, "active_debates": 1.0, "active_streams": 5.0}
    row: dict[str, Any] = {"ts": to_iso(hour), "rollup": True, "count": 60}
    for name in SYSTEM_FIELDS:
        row.update({name: values[name], f"{name}_min": values[name] * 0.8, f"{name}_max": values[name] * 1.2})
    return row


def build(folder: Path, days: int, now: datetime = NOW) -> AnalyticsDashboard:
    """A data directory with ``days`` of analytics ending at ``now`` (also used by the page tests)."""
    dashboard = AnalyticsDashboard(store=Store(folder), clock=lambda: now)
    debates = [debate(when, index) for index, when in enumerate(debate_times(days, now))]
    dashboard.record_debates(debates)
    dashboard.record_streams([row for index, item in enumerate(debates) for row in streams(item, index)])
    raw_start = now.replace(second=0, microsecond=0) - timedelta(days=min(days, RAW_DAYS))
    for minute in range(int((now - raw_start) / timedelta(minutes=1))):
        when = raw_start + timedelta(minutes=minute)
        dashboard.record_system(SystemMetrics(when, 20.0 + minute % 13, 55.0, 40.0, 3.6e7, 2.0e5, 1, 5))
    dashboard.flush()
    first_raw_hour = raw_start.replace(minute=0)
    months: dict[str, list[dict[str, Any]]] = {}
    hour = first_raw_hour - timedelta(days=days - RAW_DAYS) if days > RAW_DAYS else first_raw_hour
    while hour < first_raw_hour:
        months.setdefault(f"{hour:%Y-%m}", []).append(rollup_row(hour))
        hour += timedelta(hours=1)
    rollup = folder / "series" / "system" / "rollup"
    rollup.mkdir(parents=True, exist_ok=True)
    for month, rows in months.items():
        atomic_replace(rollup / f"{month}.json", json.dumps({"rows": rows}).encode())
    return dashboard


def timed_ms(action: Any) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench_analytics_") as folder:
        dashboards = {}
        for days in (1, 365):
            started = time.perf_counter()
            dashboards[days] = build(Path(folder) / f"days_{days}", days)
            files = dashboards[days].store.file_sizes().items()
            sizes = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in files)
            print(f"{days:>3} day(s): built in {time.perf_counter() - started:.1f} s; {sizes}")

        fresh = AnalyticsDashboard(Path(folder) / "days_365", clock=lambda: NOW)
        data = fresh.get_dashboard_data()
        print(f"\nsanity: {data['debates']['total_debates']} debates and {data['streaming']['streams']} streams "
              f"in 7 days, {data['system']['samples']} system samples in 24 h, health {data['insights']['health']}")
        runs = [timed_ms(fresh.get_dashboard_data) for _ in range(RUNS)]
        median = statistics.median(runs)
        print(f"get_dashboard_data, 365 days: median {median:.0f} ms of {RUNS} "
              f"({', '.join(f'{run:.0f}' for run in runs)})   goal <= 300 ms: {'met' if median <= 300 else 'NOT met'}")

        durations: dict[int, list[float]] = {1: [], 365: []}
        for rep in range(REPETITIONS):
            for days in ((1, 365) if rep % 2 == 0 else (365, 1)):
                item = debate(NOW - timedelta(minutes=10), 10_000_000 + rep)
                dashboard = dashboards[days]
                durations[days].append(timed_ms(lambda d=dashboard, i=item: d.record_debate(i)))
        small, large = statistics.median(durations[1]), statistics.median(durations[365])
        ratio = large / small
        print(f"record_debate: median {small:.2f} ms (1 day), {large:.2f} ms (365 days), ratio {ratio:.2f}   "
              f"goal <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}")
        for dashboard in dashboards.values():
            dashboard.close()
    return 0 if median <= 300 and ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
