"""Demo data for presentations: a month of generated history in a data directory of its own.

Everything here is made up and says so: the directory holds a ``DEMO`` marker file, every record
id starts with ``demo-``, and the dashboard labels the whole session as demo data. The figures
follow simple deterministic curves (evening audiences larger than morning ones, weekends busier,
a slowly growing channel), so the same call always draws the same month and the charts, insights
and the ADAPTIVE learning have something plausible to show. Real data never mixes with it.
"""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta
from pathlib import Path

from .analytics import AnalyticsDashboard, DebateMetrics, StreamingMetrics, SystemMetrics
from .models import ScheduleConfig, ScheduleType
from .scheduler import CONFIG_KEY
from .storage import Store
from .timeutil import ensure_utc, resolve_zone

MARKER = "DEMO"
HOURS = (9, 12, 15, 18, 20, 21)  # when the demo channel held its debates (local time)
TOPICS = ("Should cities ban private cars from their centres?", "Is nuclear power green?",
          "Should AI models be open source?", "A four-day work week for everyone?", "Should voting be mandatory?",
          "Is remote work here to stay?", "Should space mining be regulated?", "Universal basic income now?")
PLATFORMS = (("demo-youtube", "youtube", 1.0), ("demo-twitch", "twitch", 0.45))


def is_demo(data_dir: Path) -> bool:
    return (Path(data_dir) / MARKER).exists()


def _audience(when: datetime, day: int, days: int) -> float:
    """Average viewers: an evening peak, busier weekends, a channel growing 1 % a day."""
    evening = 0.5 + 0.5 * math.exp(-((when.hour - 20) ** 2) / 8)
    weekend = 1.25 if when.weekday() >= 5 else 1.0
    return 120 * evening * weekend * (1 + 0.01 * (day - days))


def make_history(data_dir: Path, now: datetime, days: int = 30, zone: str = "UTC") -> dict[str, int]:
    """Fill ``data_dir`` (fresh, or already a demo directory) with ``days`` of demo history."""
    data_dir = Path(data_dir)
    if data_dir.exists() and any(data_dir.iterdir()) and not is_demo(data_dir):
        raise ValueError(f"{data_dir} holds real data: demo history goes only into a fresh directory")
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / MARKER).write_text("Generated demo data, not real: remove the folder to remove it.\n")
    local = resolve_zone(zone)
    now = ensure_utc(now)
    store = Store(data_dir)
    store.settings.set(CONFIG_KEY, ScheduleConfig(schedule_type=ScheduleType.ADAPTIVE, timezone=zone,
                                                  adaptive_hours=(9, 12, 15, 18, 21)).to_doc())
    board = AnalyticsDashboard(store=store, clock=lambda: now)
    debates, streams = [], []
    first_day = (now.astimezone(local) - timedelta(days=days)).date()
    for day in range(days + 1):  # the last is today, up to now
        for number, hour in enumerate(HOURS):
            start = datetime.combine(first_day + timedelta(days=day), time(hour), local)
            if start >= now:
                continue
            index = day * len(HOURS) + number
            failed = index % 37 == 11
            length = 540 + 60 * ((index * 7) % 5)
            average = _audience(start, day, days)
            peak = int(average * 1.35)
            debate_id = f"demo-{start:%Y%m%dT%H%M}"
            debates.append(DebateMetrics(
                debate_id=debate_id, start_time=start, end_time=start + timedelta(seconds=length),
                topic=TOPICS[index % len(TOPICS)], status="failed" if failed else "completed", participants=4,
                responses=0 if failed else 12, avg_response_length=None if failed else 380.0 + (index * 13) % 120,
                avg_confidence=0.66 + (index % 5) / 50, consensus=0.5 + (index % 4) / 8,
                controversy=0.3 + (index % 6) / 10, verdict=("for", "against", "split")[index % 3],
                viewer_count_peak=None if failed else int(peak * 1.45),
                viewer_count_avg=None if failed else round(average * 1.45, 1),
                engagement_score=None if failed else round(min(1.0, 0.35 + average / 300), 3),
                platforms=tuple(platform for _, platform, _ in PLATFORMS)))
            if failed:
                continue
            for destination, platform, share in PLATFORMS:
                streams.append(StreamingMetrics(
                    broadcast_id=debate_id, destination_id=destination, platform=platform, start_time=start,
                    end_time=start + timedelta(seconds=length), peak_viewers=int(peak * share),
                    avg_viewers=round(average * share, 1), avg_bitrate_kbps=2950.0 - 40 * (index % 3),
                    bytes_sent=int(length * 3_000_000 / 8), uptime_percentage=100.0 - (index % 9) * 0.2,
                    frame_drop_rate=0.001 * (index % 4), reconnects=int(index % 23 == 0)))
    board.record_debates(debates)
    board.record_streams(streams)
    minute = now.replace(second=0, microsecond=0)
    for step in range(days * 24 * 12):  # a sample every 5 minutes
        when = minute - timedelta(minutes=5 * step)
        busy = 18.0 + 25 * (when.astimezone(local).hour in HOURS)
        board.record_system(SystemMetrics(when, busy + (step % 7), 41.0 + (step % 11) / 2, 37.5,
                                          2.4e6 + 1e5 * (step % 5), 1.5e5, 0, 0))
    board.flush()
    store.roll_up(now)
    store.close()
    return {"debates": len(debates), "streams": len(streams), "days": days}
