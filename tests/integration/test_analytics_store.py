"""Analytics on a real data directory: read back after a restart, samples across a roll-up, a year of data."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from backend.analytics import AnalyticsDashboard, DebateMetrics, StreamingMetrics, SystemMetrics
from backend.storage import Store
from backend.timeutil import UTC

NOW = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)


def test_a_new_dashboard_on_the_same_directory_sees_everything(tmp_path):
    first = AnalyticsDashboard(data_dir=tmp_path, clock=lambda: NOW)
    first.record_debate(DebateMetrics("d1", NOW - timedelta(hours=2), NOW - timedelta(hours=1), topic="Mars",
                                      engagement_score=0.9, viewer_count_peak=40, platforms=("youtube",)))
    first.record_streaming(StreamingMetrics("d1", "yt", "youtube", NOW - timedelta(hours=2), NOW - timedelta(hours=1),
                                            peak_viewers=40, bytes_sent=10**9, uptime_percentage=99.5))
    first.record_system(SystemMetrics(NOW - timedelta(minutes=5), 35.0, 60.0, 20.0, 1e6, 2e5, 1, 1))
    first.close()  # writes the buffered sample

    files = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*.json"))
    assert "history/debate_metrics/2026-12-03.json" in files and "history/streaming_metrics/2026-12-03.json" in files
    assert "series/system/2026-12-03/16.json" in files
    stored = json.loads((tmp_path / "history/streaming_metrics/2026-12-03.json").read_text())
    assert stored["streaming_metrics"][0]["stream_id"] == "d1:yt"

    again = AnalyticsDashboard(data_dir=tmp_path, clock=lambda: NOW)
    data = again.get_dashboard_data()
    assert data["debates"]["total_debates"] == 1 and data["debates"]["avg_engagement"] == 0.9
    assert data["streaming"]["total_bytes_sent"] == 10**9 and data["streaming"]["platforms"]["youtube"]["streams"] == 1
    assert data["system"]["samples"] == 1 and data["system"]["latest"]["cpu_percent"] == 35.0
    assert data["topics"][0]["topic"] == "Mars" and data["insights"]["health"] == "good"

    shared = AnalyticsDashboard(store=Store(tmp_path), clock=lambda: NOW)  # the backend's store, shared
    shared.record_debate(DebateMetrics("d1", NOW - timedelta(hours=2), NOW - timedelta(hours=1), topic="Mars",
                                       status="failed"))  # replaces by debate_id
    stats = again.get_debate_statistics()
    assert stats["total_debates"] == 1 and stats["failed"] == 1 and stats["avg_engagement"] is None


def test_system_statistics_span_raw_samples_and_rollups(tmp_path):
    store = Store(tmp_path, raw_retention_days=1)
    board = AnalyticsDashboard(store=store, clock=lambda: NOW)
    start = (NOW - timedelta(days=3)).replace(minute=0)
    cpu_values = []
    for minute in range(3 * 24 * 60):
        when = start + timedelta(minutes=minute)
        cpu = float(minute % 100)
        cpu_values.append(cpu)
        board.record_system(SystemMetrics(when, cpu, 50.0, 30.0, None if minute == 0 else 8000.0, 800.0, 0, 1))
    rolled = store.roll_up(NOW)
    assert rolled > 40  # two days of hours became rollup rows
    assert list((tmp_path / "series/system/rollup").glob("*.json"))

    stats = board.get_system_statistics(days=4)
    assert stats["samples"] == len(cpu_values)
    assert stats["avg_cpu_percent"] == pytest.approx(sum(cpu_values) / len(cpu_values))
    assert stats["max_cpu_percent"] == 99.0 and stats["avg_net_sent_bps"] == pytest.approx(8000.0)
    full_hours = [row for row in stats["hourly"] if row["samples"] == 60]
    assert len(full_hours) == 72 and all(row["cpu_percent_max"] is not None for row in full_hours)
    assert len(stats["hourly"]) == 4 * 24 + 1  # every hour touched, empty ones included
    recent = board.get_system_statistics(days=1)  # raw samples only
    assert recent["samples"] == sum(row["samples"] for row in recent["hourly"])
    assert recent["latest"]["ts"] == (start + timedelta(minutes=len(cpu_values) - 1)).isoformat()


@pytest.mark.slow
def test_a_year_of_data_gives_sane_figures(tmp_path):
    board = AnalyticsDashboard(data_dir=tmp_path, clock=lambda: NOW)
    first_day = (NOW - timedelta(days=364)).replace(hour=0, minute=0)
    metrics, streams = [], []
    for day in range(365):
        for slot, hour in enumerate((9, 15)):
            when = first_day + timedelta(days=day, hours=hour)
            failed = (day + slot) % 10 == 0
            metrics.append(DebateMetrics(
                f"debate_{day:03d}_{slot}", when, when + timedelta(minutes=20), topic=("Mars", "Tax", "AI")[day % 3],
                status="failed" if failed else "completed", engagement_score=0.3 + 0.4 * slot,
                viewer_count_peak=100 + day, platforms=("youtube", "twitch")))
            streams += [StreamingMetrics(f"debate_{day:03d}_{slot}", dest, dest, when, when + timedelta(minutes=20),
                                         peak_viewers=50 + day, bytes_sent=1000, uptime_percentage=99.0)
                        for dest in ("youtube", "twitch")]
    board.record_debates(metrics)
    board.record_streams(streams)

    year = board.get_debate_statistics(days=365)
    assert year["total_debates"] == 730 and len(year["debates_per_day"]) == 365
    assert all(row["debates"] == 2 for row in year["debates_per_day"])
    assert year["failed"] == sum(1 for item in metrics if item.status == "failed") == 73
    assert year["completion_rate"] == pytest.approx(657 / 730) and year["avg_engagement"] == pytest.approx(0.5)
    assert year["peak_viewers"] == 464
    week = board.get_debate_statistics()
    assert week["total_debates"] == 14 and week["period"]["days"] == 7
    streaming = board.get_streaming_statistics(days=365)
    assert streaming["streams"] == 1460 and streaming["broadcasts"] == 730
    assert streaming["total_bytes_sent"] == 1_460_000
    assert streaming["peak_viewers"] == 414 and set(streaming["platforms"]) == {"youtube", "twitch"}
    topics = board.get_topic_trends(days=365)
    assert sum(row["debates"] for row in topics) == 730 and {row["topic"] for row in topics} == {"Mars", "Tax", "AI"}
    slots = board.engagement_by_slot(days=365)
    assert {hour for _, hour in slots} == {9, 15} and all(slots[(day, 15)] > slots[(day, 9)] for day in range(7))
    insights = board.get_performance_insights(days=365)
    assert "Completion rate 90 % over 365 days (657 of 730 debates)" in insights["highlights"]
    assert insights["health"] == "fair"
    page = board.export_report(tmp_path / "out" / "year.html", days=365).read_text()
    assert "<svg" in page and "<script" not in page.lower()
