"""Analytics with hand-made data and known answers: figures, periods, validation, insights, reports."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.analytics import (AnalyticsDashboard, DebateMetrics, StreamingMetrics, SystemMetrics, check_days,
                               day_period, sample_system, system_frame)
from backend.collect import debate_doc, stream_docs
from backend.debates import DebateOutcome
from backend.errors import ConfigError, StoreError
from backend.timeutil import UTC

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)  # a Monday


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def debates() -> list[DebateMetrics]:
    """4 debates in the last 7 days (1 failed) and one stale one, 6 weeks earlier."""
    return [
        DebateMetrics("d1", at(15, 9), at(15, 9, 10), topic="Mars colonies", participants=4, responses=12,
                      avg_response_length=200, avg_confidence=0.7, consensus=0.75, controversy=0.4, verdict="for",
                      viewer_count_peak=100, viewer_count_avg=60, engagement_score=0.8,
                      platforms=("youtube", "twitch")),
        DebateMetrics("d2", at(14, 18), duration_seconds=1200, topic="mars   Colonies", participants=4,
                      responses=8, avg_response_length=300, avg_confidence=0.5, consensus=0.5, controversy=0.6,
                      verdict="split", viewer_count_peak=300, viewer_count_avg=200, engagement_score=0.6,
                      platforms=("youtube",)),
        DebateMetrics("d3", at(12, 20, 30), duration_seconds=30, topic="Nuclear power", status="failed"),
        DebateMetrics("d4", at(12, 21), duration_seconds=900, topic="Nuclear power", participants=3, responses=6,
                      consensus=1.0, controversy=0.2, verdict="against", engagement_score=0.4, platforms=("twitch",)),
        DebateMetrics("old", datetime(2026, 5, 1, 10, tzinfo=UTC), duration_seconds=60, topic="Old news",
                      engagement_score=1.0, viewer_count_peak=9999),
    ]


def streams() -> list[StreamingMetrics]:
    return [
        StreamingMetrics("d1", "yt", "youtube", at(15, 9), at(15, 9, 10), peak_viewers=80, avg_viewers=50,
                         avg_bitrate_kbps=4500, bytes_sent=1000, uptime_percentage=100, frame_drop_rate=0.0),
        StreamingMetrics("d1", "tw", "twitch", at(15, 9), at(15, 9, 10), peak_viewers=40, avg_viewers=None,
                         avg_bitrate_kbps=2500, bytes_sent=500, uptime_percentage=90, frame_drop_rate=0.02,
                         reconnects=2),
        StreamingMetrics("d2", "yt", "youtube", at(14, 18), at(14, 18, 20), peak_viewers=250, avg_viewers=150,
                         bytes_sent=2000, uptime_percentage=98, frame_drop_rate=0.01),
    ]


def system(minute: int, cpu: float, sent: float | None) -> SystemMetrics:
    return SystemMetrics(at(15, 11, minute), cpu, 50.0, 40.0, sent, None if sent is None else sent / 2, 1, 2)


@pytest.fixture
def dashboard() -> AnalyticsDashboard:
    board = AnalyticsDashboard(clock=lambda: NOW)
    board.record_debates(debates())
    for item in streams():
        board.record_streaming(item)
    for minute, cpu, sent in ((0, 10.0, None), (1, 20.0, 1000.0), (2, 30.0, 3000.0)):
        board.record_system(system(minute, cpu, sent))
    return board


# ---- the measurements ----------------------------------------------------------------------------


def test_the_seed_example_constructs_and_records():
    metrics = DebateMetrics(debate_id="debate_123", start_time=datetime.now(), duration_seconds=1800,
                            engagement_score=0.85, viewer_count_peak=500)
    assert metrics.start_time.tzinfo is not None and metrics.start_time.utcoffset() == timedelta(0)
    assert metrics.status == "completed" and metrics.end_time is None
    board = AnalyticsDashboard()
    board.record_debate(metrics)
    stats = board.get_debate_statistics(days=7)
    assert stats["total_debates"] == 1 and stats["avg_engagement"] == 0.85 and stats["peak_viewers"] == 500


def test_duration_is_derived_and_documents_round_trip():
    metrics = debates()[0]
    assert metrics.duration_seconds == 600
    assert DebateMetrics.from_doc(json.loads(json.dumps(metrics.to_doc()))) == metrics
    stream = streams()[0]
    doc = stream.to_doc()
    assert doc["stream_id"] == "d1:yt" and doc["start_time"] == "2026-06-15T09:00:00+00:00"
    assert StreamingMetrics.from_doc(doc) == stream
    sample = system(1, 20.0, 1000.0)
    assert SystemMetrics.from_doc(sample.to_doc()) == sample
    assert system(0, 10.0, None).to_sample() == {"ts": "2026-06-15T11:00:00+00:00", "cpu_percent": 10.0,
                                                 "memory_percent": 50.0, "disk_percent": 40.0,
                                                 "active_debates": 1, "active_streams": 2}


def test_documents_of_the_collector_and_outcomes_are_accepted():
    start = at(15, 9)
    debate = {"debate_id": "d9", "topic": "Mars", "status": "completed", "actual_start_time": start.isoformat(),
              "actual_end_time": (start + timedelta(minutes=4)).isoformat(),
              "outcome": {"participants": 4, "responses": 12, "avg_response_length": 230.5, "avg_confidence": 0.7,
                          "consensus_level": 0.75, "controversy_score": 0.4, "verdict": "for"}}
    samples = [{"ts": start.isoformat(), "destination_id": "yt", "platform": "youtube", "status": "live",
                "bytes_sent": 10, "viewers": 5}]
    metrics = DebateMetrics.from_doc(debate_doc(debate, samples, None))
    assert metrics.duration_seconds == 240 and metrics.engagement_score is None and metrics.platforms == ("youtube",)
    stream = StreamingMetrics.from_doc(stream_docs("d9", samples, start, start + timedelta(minutes=4))[0])
    assert stream.stream_id == "d9:yt" and stream.peak_viewers == 5
    outcome = DebateOutcome(4, 3, 12, 230.5, 0.7, 0.75, 0.4, "for")
    made = DebateMetrics.from_outcome("d9", start, start + timedelta(minutes=4), outcome, topic="Mars",
                                      engagement_score=0.5)
    assert (made.consensus, made.controversy, made.verdict, made.engagement_score) == (0.75, 0.4, "for", 0.5)


@pytest.mark.parametrize("changes, words", [
    ({"duration_seconds": -5}, "duration_seconds must be a number >= 0"),
    ({"engagement_score": 1.2}, "engagement_score must be a number 0-1"),
    ({"consensus": math.nan}, "consensus must be a finite number 0-1"),
    ({"avg_response_length": math.inf}, "avg_response_length must be a finite number"),
    ({"participants": -1}, "participants must be a whole number >= 0"),
    ({"participants": 2.5}, "participants must be a whole number"),
    ({"viewer_count_peak": True}, "viewer_count_peak must be a whole number"),
    ({"status": "done"}, "status must be one of completed, failed, interrupted"),
    ({"end_time": at(15, 8)}, "end_time must not be before start_time"),
    ({"platforms": "youtube"}, "platforms must be a list"),
    ({"debate_id": " "}, "debate_id must be non-empty text"),
    ({"start_time": "yesterday"}, "start_time must be a datetime or ISO 8601 text"),
])
def test_debate_metrics_refuse_bad_values(changes, words):
    with pytest.raises(ConfigError, match=words):
        DebateMetrics(**{"debate_id": "d1", "start_time": at(15, 9), **changes})


def test_unknown_fields_are_refused_listing_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown DebateMetrics fields \['viewers'\]; valid: \['debate_id'"):
        DebateMetrics.from_doc({"debate_id": "d1", "start_time": "2026-06-15T09:00:00+00:00", "viewers": 3})
    with pytest.raises(ConfigError, match="stream_id must be broadcast_id:destination_id"):
        StreamingMetrics.from_doc({**streams()[0].to_doc(), "stream_id": "other"})


def test_stream_and_system_metrics_refuse_bad_values():
    good = streams()[0].to_doc()
    for field, value in (("uptime_percentage", 101), ("frame_drop_rate", -0.1), ("bytes_sent", -1),
                         ("avg_viewers", math.nan), ("platform", "")):
        with pytest.raises(ConfigError, match=field):
            StreamingMetrics.from_doc({**good, field: value})
    with pytest.raises(ConfigError, match="cpu_percent must be a number 0-100"):
        SystemMetrics(NOW, -1, 50, 50)
    with pytest.raises(ConfigError, match="net_sent_bps must be a finite number"):
        SystemMetrics(NOW, 1, 50, 50, math.inf)


@pytest.mark.parametrize("days", [0, -1, 3651, 1.5, True, "7", None])
def test_days_must_be_a_whole_number_1_to_3650(days):
    board = AnalyticsDashboard()
    with pytest.raises(ConfigError, match="days must be a whole number 1-3650"):
        board.get_debate_statistics(days=days)
    with pytest.raises(ConfigError, match="days must be a whole number 1-3650"):
        board.export_report("report.json", days=days)
    assert check_days(3650) == 3650


def test_sample_system_measures_rates_only_between_two_samples(tmp_path):
    first, state = sample_system(tmp_path / "not-yet-created", None, active_debates=1, now=NOW)
    assert first.net_sent_bps is None and first.net_recv_bps is None  # no rate yet: unknown, not 0
    assert 0 <= first.cpu_percent <= 100 and 0 < first.disk_percent <= 100 and first.active_debates == 1
    second, _ = sample_system(tmp_path, state)
    assert second.net_sent_bps is not None and second.net_sent_bps >= 0
    rewound = (state[0], state[1] + 10**15, state[2])  # the counters went backwards: a reset
    assert sample_system(tmp_path, rewound)[0].net_sent_bps is None


# ---- figures -------------------------------------------------------------------------------------


def test_debate_statistics_with_known_answers(dashboard):
    stats = dashboard.get_debate_statistics(days=7)
    assert stats["total_debates"] == 4 and (stats["completed"], stats["failed"], stats["interrupted"]) == (3, 1, 0)
    assert stats["completion_rate"] == 0.75
    assert stats["avg_engagement"] == pytest.approx((0.8 + 0.6 + 0.4) / 3)
    assert stats["debates_with_engagement"] == 3
    assert stats["peak_viewers"] == 300 and stats["peak_viewers_debate_id"] == "d2"
    assert stats["avg_viewers"] == 130
    assert stats["avg_duration_seconds"] == (600 + 1200 + 30 + 900) / 4
    assert stats["avg_participants"] == (4 + 4 + 0 + 3) / 4
    assert stats["avg_response_length"] == 250 and stats["avg_confidence"] == pytest.approx(0.6)
    assert stats["avg_consensus"] == pytest.approx((0.75 + 0.5 + 1.0) / 3)
    assert stats["avg_controversy"] == pytest.approx((0.4 + 0.6 + 0.2) / 3)
    assert stats["verdicts"] == {"for": 1, "split": 1, "against": 1}
    assert stats["debates_per_day"] == [
        {"date": f"2026-06-{day:02d}", "debates": debates_, "completed": completed, "failed": failed,
         "interrupted": 0}
        for day, debates_, completed, failed in ((9, 0, 0, 0), (10, 0, 0, 0), (11, 0, 0, 0), (12, 2, 1, 1),
                                                 (13, 0, 0, 0), (14, 1, 1, 0), (15, 1, 1, 0))]
    assert stats["period"] == {"start": "2026-06-09T00:00:00+00:00", "end": "2026-06-15T12:00:00+00:00",
                               "days": 7, "zone": "UTC"}


def test_periods_are_calendar_days_in_a_zone_and_can_end_in_the_past(dashboard):
    tokyo = dashboard.get_debate_statistics(days=2, zone="Asia/Tokyo")  # 14 June 18:00 UTC is 15 June 03:00 there
    assert [(row["date"], row["debates"]) for row in tokyo["debates_per_day"]] == [("2026-06-14", 0),
                                                                                 ("2026-06-15", 2)]
    stale = dashboard.get_debate_statistics(days=3, end=datetime(2026, 5, 2, tzinfo=UTC))
    assert stale["total_debates"] == 1 and stale["peak_viewers"] == 9999
    assert [row["date"] for row in stale["debates_per_day"]] == ["2026-04-29", "2026-04-30", "2026-05-01"]
    assert dashboard.get_debate_statistics(days=60)["total_debates"] == 5
    period = day_period(1, datetime(2026, 6, 15, tzinfo=UTC))  # ending at midnight: the day before
    assert period.dates == ["2026-06-14"]


def test_empty_and_stale_periods_give_zeros_and_unknowns():
    board = AnalyticsDashboard(clock=lambda: NOW)
    board.record_debate(debates()[-1])  # only the stale debate of 1 May
    stats = board.get_debate_statistics(days=7)
    assert stats["total_debates"] == 0 and stats["completion_rate"] is None
    assert stats["avg_engagement"] is None and stats["peak_viewers"] is None and stats["avg_duration_seconds"] is None
    assert len(stats["debates_per_day"]) == 7 and all(row["debates"] == 0 for row in stats["debates_per_day"])
    streaming = board.get_streaming_statistics()
    assert streaming["streams"] == 0 and streaming["total_bytes_sent"] == 0 and streaming["platforms"] == {}
    assert streaming["peak_viewers"] is None and streaming["avg_uptime_percentage"] is None
    assert len(streaming["per_day"]) == 7
    machine = board.get_system_statistics()
    assert machine["samples"] == 0 and machine["latest"] is None and machine["avg_cpu_percent"] is None
    assert len(machine["hourly"]) == 24 and all(row["cpu_percent"] is None for row in machine["hourly"])
    assert board.get_topic_trends() == []
    engagement = board.get_engagement_trends()
    assert engagement["by_hour_of_week"] == [] and len(engagement["per_day"]) == 30
    data = board.get_dashboard_data()
    assert set(data) == {"generated_at", "debates", "streaming", "system", "topics", "engagement", "insights"}
    assert data["insights"]["health"] == "unknown" and data["insights"]["highlights"] == []


def test_streaming_statistics_overall_per_platform_and_filtered(dashboard):
    stats = dashboard.get_streaming_statistics(days=7)
    assert stats["streams"] == 3 and stats["broadcasts"] == 2 and stats["total_bytes_sent"] == 3500
    assert stats["avg_uptime_percentage"] == pytest.approx(96.0)
    assert stats["avg_frame_drop_rate"] == pytest.approx(0.01)
    assert stats["peak_viewers"] == 250 and stats["peak_viewers_platform"] == "youtube"
    assert stats["avg_viewers"] == 100 and stats["reconnects"] == 2 and stats["avg_bitrate_kbps"] == 3500
    assert stats["streamed_seconds"] == 600 + 600 + 1200
    assert set(stats["platforms"]) == {"youtube", "twitch"}
    assert stats["platforms"]["youtube"]["total_bytes_sent"] == 3000
    assert stats["platforms"]["twitch"]["avg_viewers"] is None  # never measured: unknown
    today = stats["per_day"][-1]
    assert today == {"date": "2026-06-15", "broadcasts": 1, "streams": 2, "total_bytes_sent": 1500,
                     "peak_viewers": 80, "avg_viewers": 50.0, "avg_uptime_percentage": 95.0}
    twitch = dashboard.get_streaming_statistics(days=7, platform="Twitch")
    assert twitch["streams"] == 1 and twitch["total_bytes_sent"] == 500 and twitch["peak_viewers"] == 40
    assert set(twitch["platforms"]) == {"twitch"}


def test_system_statistics_latest_averages_maxima_and_hours(dashboard):
    stats = dashboard.get_system_statistics()  # buffered samples are read without a flush
    assert stats["samples"] == 3
    assert stats["latest"]["ts"] == "2026-06-15T11:02:00+00:00" and stats["latest"]["cpu_percent"] == 30
    assert stats["avg_cpu_percent"] == 20 and stats["max_cpu_percent"] == 30
    assert stats["avg_net_sent_bps"] == 2000 and stats["max_net_recv_bps"] == 1500  # the first had no rate
    hour = [row for row in stats["hourly"] if row["samples"]]
    assert len(hour) == 1 and hour[0]["ts"] == "2026-06-15T11:00:00+00:00" and hour[0]["cpu_percent_max"] == 30


def test_rollup_rows_count_as_many_samples_and_never_twice():
    rows = [
        {"ts": "2026-06-15T09:00:00+00:00", "rollup": True, "count": 3, "cpu_percent": 40.0,
         "cpu_percent_min": 30.0, "cpu_percent_max": 50.0},
        {"ts": "2026-06-15T10:00:00+00:00", "rollup": True, "count": 60, "cpu_percent": 99.0,
         "cpu_percent_min": 99.0, "cpu_percent_max": 99.0},  # its raw samples are still there: left out
        {"ts": "2026-06-15T10:05:00+00:00", "cpu_percent": 10.0},
    ]
    frame = system_frame(rows)
    assert list(frame["count"]) == [3, 1]
    board = AnalyticsDashboard(clock=lambda: NOW)
    for row in rows:
        board.store.append_sample("system", row)
    stats = board.get_system_statistics()
    assert stats["samples"] == 4 and stats["avg_cpu_percent"] == (3 * 40 + 10) / 4 and stats["max_cpu_percent"] == 50


def test_topic_trends_group_spellings_and_sort(dashboard):
    topics = dashboard.get_topic_trends(days=30)
    assert [(row["topic"], row["debates"], row["completed"]) for row in topics] == [
        ("Mars colonies", 2, 2), ("Nuclear power", 2, 1)]  # the last spelling is shown
    mars = topics[0]
    assert mars["avg_engagement"] == pytest.approx(0.7) and mars["avg_controversy"] == pytest.approx(0.5)
    assert mars["avg_consensus"] == pytest.approx(0.625) and mars["last_seen"] == "2026-06-15T09:00:00+00:00"
    assert topics[1]["avg_engagement"] == 0.4  # the failed debate's unknown engagement is not a zero
    assert [row["topic"] for row in dashboard.get_topic_trends(days=60, limit=3)] == [
        "Mars colonies", "Nuclear power", "Old news"]


def test_engagement_trends_by_day_and_hour_of_week_in_a_zone(dashboard):
    trends = dashboard.get_engagement_trends(days=7, zone="America/New_York")  # UTC-4 in June
    slots = {(row["weekday"], row["hour"]): row for row in trends["by_hour_of_week"]}
    assert set(slots) == {(0, 5), (6, 14), (4, 16), (4, 17)}  # Mon 05:00, Sun 14:00, Fri 16:30, Fri 17:00
    assert slots[(0, 5)]["avg_engagement"] == 0.8 and slots[(4, 16)]["avg_engagement"] is None
    assert trends["per_day"][-1] == {"date": "2026-06-15", "debates": 1, "avg_engagement": 0.8,
                                     "avg_viewers": 60.0, "peak_viewers": 100}
    assert trends["per_day"][0]["debates"] == 0 and trends["per_day"][0]["avg_engagement"] is None
    assert dashboard.engagement_by_slot(days=7, zone="America/New_York") == {(0, 5): 0.8, (6, 14): 0.6,
                                                                            (4, 17): 0.4}
    twitch = dashboard.get_engagement_trends(days=7, platform="twitch")
    assert sum(row["debates"] for row in twitch["per_day"]) == 2 and twitch["avg_engagement"] == pytest.approx(0.6)
    with pytest.raises(ConfigError, match="IANA zone"):
        dashboard.get_engagement_trends(zone="Mars/Olympus")


# ---- insights ------------------------------------------------------------------------------------


def test_insights_say_the_figures(dashboard):
    insights = dashboard.get_performance_insights()
    assert insights["health"] == "poor"  # completion rate 75 % is below 80 %
    assert "Completion rate 75 % over 7 days (3 of 4 debates)" in insights["highlights"]
    assert "1 of 4 debates failed in the last 7 days: see the Health page" in insights["recommendations"]
    assert "Peak viewership: 300 viewers across platforms in one debate" in insights["highlights"]
    assert any("Top topic over 30 days: 'Mars colonies' (2 debates, engagement 0.70)" == line
               for line in insights["highlights"])
    advice = insights["recommendations"]
    assert any(line.startswith("Stream uptime averaged 96.0 % with 2 reconnects") for line in advice)
    assert any(line.startswith("Frames dropped 1.0 % on average over 3 streams") for line in advice)
    assert dashboard.get_dashboard_data()["insights"] == insights


def test_insights_name_the_platform_the_cpu_and_missing_viewer_counts():
    board = AnalyticsDashboard(clock=lambda: NOW)
    board.record_streaming(StreamingMetrics("b1", "yt", "youtube", at(15, 9), at(15, 10), peak_viewers=1250,
                                            uptime_percentage=100))
    board.record_debate(DebateMetrics("b1", at(15, 9), at(15, 10), topic="Mars"))
    for minute in range(10):
        board.record_system(SystemMetrics(at(15, 11, minute), 87.0, 40.0, 30.0))
    insights = board.get_performance_insights()
    assert "Peak viewership: 1250 viewers on YouTube" in insights["highlights"]
    assert any(line.startswith("CPU averaged 87 % over 24 h: use a faster x264 preset")
               for line in insights["recommendations"])
    assert insights["health"] == "fair"
    quiet = AnalyticsDashboard(clock=lambda: NOW)
    quiet.record_debate(DebateMetrics("q1", at(15, 9), at(15, 10), topic="Mars"))
    advice = quiet.get_performance_insights()
    assert "No viewer counts: add a viewer source on the Streams page to measure engagement" \
        in advice["recommendations"]
    assert advice["health"] == "good" and not any("engagement 0" in line for line in advice["highlights"])


# ---- reports -------------------------------------------------------------------------------------


def test_export_json_has_the_dashboard_keys_and_the_rows(dashboard, tmp_path):
    path = dashboard.export_report(tmp_path / "reports" / "monthly.json", days=30)
    assert path == tmp_path / "reports" / "monthly.json"
    report = json.loads(path.read_text())
    assert {"generated_at", "debates", "streaming", "system", "topics", "engagement", "insights",
            "debate_rows", "stream_rows", "days"} <= set(report)
    assert report["debates"]["total_debates"] == 4 and len(report["debate_rows"]) == 4
    assert len(report["debates"]["debates_per_day"]) == 30 and len(report["stream_rows"]) == 3


def test_export_csv_writes_one_file_per_table(dashboard, tmp_path):
    paths = dashboard.export_report(str(tmp_path / "june.csv"), days=7)
    assert [path.name for path in paths] == ["june_debates.csv", "june_streams.csv", "june_system.csv"]
    lines = paths[0].read_text().splitlines()
    assert lines[0].startswith("debate_id,start_time,end_time,duration_seconds,topic,status")
    assert len(lines) == 5 and "youtube;twitch" in paths[0].read_text()
    assert len(paths[1].read_text().splitlines()) == 4
    assert paths[2].read_text().splitlines()[0].startswith("ts,samples,cpu_percent,cpu_percent_max")
    assert not (tmp_path / "june.csv").exists()


def test_export_html_is_self_contained(dashboard, tmp_path):
    path = dashboard.export_report(tmp_path / "report.html", days=7)
    page = path.read_text()
    assert page.count("<svg") >= 4 and "<script" not in page.lower()
    assert "Completion rate 75 % over 7 days (3 of 4 debates)" in page and "Mars colonies" in page
    assert "src=\"http" not in page and "href=\"http" not in page
    empty = AnalyticsDashboard(clock=lambda: NOW).export_report(tmp_path / "empty.html", days=1)
    assert "No data to chart" in empty.read_text() and "unknown" in empty.read_text()


def test_export_refuses_unknown_formats_and_unwritable_paths(dashboard, tmp_path):
    with pytest.raises(ConfigError, match=r"\.json, \.csv, \.html"):
        dashboard.export_report(tmp_path / "report.pdf")
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    for name in ("report.json", "report.csv", "report.html"):
        with pytest.raises(StoreError, match="could not write the report"):
            dashboard.export_report(blocker / "sub" / name, days=7)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["blocker"]


def test_a_failed_csv_export_leaves_no_partial_set(dashboard, tmp_path, monkeypatch):
    import backend.analytics as analytics

    calls = []

    def failing(path: Path, payload: bytes) -> None:
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        path.write_bytes(payload)

    monkeypatch.setattr(analytics, "atomic_replace", failing)
    with pytest.raises(StoreError, match="No space left on device"):
        dashboard.export_report(tmp_path / "r.csv", days=7)
    assert list(tmp_path.iterdir()) == []


def test_store_and_data_dir_are_exclusive(tmp_path):
    with pytest.raises(ConfigError, match="data_dir or store"):
        AnalyticsDashboard(tmp_path, store=AnalyticsDashboard().store)
    with pytest.raises(ConfigError, match="DebateMetrics or its document"):
        AnalyticsDashboard().record_debate(42)  # type: ignore[arg-type]


def test_period_data_in_one_pass_matches_the_separate_calls(dashboard):
    together = dashboard.get_period_data(7, platform="twitch", zone="Europe/Berlin")
    assert together["debates"] == dashboard.get_debate_statistics(7, zone="Europe/Berlin")
    assert together["streaming"] == dashboard.get_streaming_statistics(7, platform="twitch", zone="Europe/Berlin")
    assert together["streaming_all"] == dashboard.get_streaming_statistics(7, zone="Europe/Berlin")
    assert together["engagement"] == dashboard.get_engagement_trends(28, platform="twitch", zone="Europe/Berlin")
    assert together["topics"] == dashboard.get_topic_trends(7, zone="Europe/Berlin")
    with pytest.raises(ConfigError, match="days"):
        dashboard.get_period_data(0)
