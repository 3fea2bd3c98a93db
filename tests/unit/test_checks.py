"""The health checks' pure decisions with exact numbers, Thresholds validation, cgroup files in
tmp_path, and the registry's binding (no network, no supervisor thread)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from backend import checks
from backend.checks import (
    PREDEFINED,
    CgroupMemory,
    Probe,
    Thresholds,
    _classify_percent,
    _disk_used_percent,
    _num,
    _size,
    bitrate_finding,
    check_api_endpoints,
    check_memory_usage,
    check_streaming_health,
    check_tts_availability,
    check_url,
    classify_probe,
    cpu_finding,
    database_finding,
    destination_findings,
    disk_message,
    drop_rate,
    event_age_finding,
    job_findings,
    memory_findings,
    overdue_debates,
    overdue_finding,
    parse_cgroup_limit,
    predefined_checks,
    probe_finding,
    read_cgroup_memory,
    tick_finding,
    watcher_finding,
)
from backend.config import load_settings
from backend.destinations import (
    QUALITY_PRESETS,
    StreamConfig,
    StreamPlatform,
    StreamQuality,
)
from backend.errors import ConfigError
from backend.health import HealthStatus
from backend.models import DebateStatus, ScheduledDebate
from backend.streaming import StreamDestination, StreamMetrics, StreamStatus
from backend.supervisor import JobHealth, Supervisor
from backend.timeutil import UTC

H, D, U, C = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY, HealthStatus.CRITICAL
T = Thresholds()
NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
GB = 10**9


# --- Thresholds -----------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    assert (T.disk_warn_percent, T.disk_crit_percent, T.memory_warn_percent, T.memory_crit_percent) == (85, 95, 85, 95)
    assert (T.cpu_warn_percent, T.tick_max_age_seconds, T.overdue_grace_seconds) == (90, 120, 60)
    assert (T.bitrate_min_ratio, T.drop_rate_warn, T.db_write_warn_ms) == (0.7, 0.02, 50)
    assert (T.event_max_age_seconds, T.api_timeout_seconds, T.api_slow_ms) == (None, 5, 1000)


@pytest.mark.parametrize(("field", "value", "expected"), [
    ("disk_warn_percent", 120, "disk_warn_percent must be a number more than 0 and at most 100, got 120"),
    ("memory_crit_percent", 0, "memory_crit_percent must be a number more than 0 and at most 100, got 0"),
    ("cpu_warn_percent", -5, "cpu_warn_percent must be a number more than 0 and at most 100, got -5"),
    ("tick_max_age_seconds", 0, "tick_max_age_seconds must be a number more than 0 and at most 86400, got 0"),
    ("overdue_grace_seconds", -1, "overdue_grace_seconds must be a number at least 0 and at most 86400, got -1"),
    ("bitrate_min_ratio", 1.5, "bitrate_min_ratio must be a number more than 0 and at most 1, got 1.5"),
    ("drop_rate_warn", 0, "drop_rate_warn must be a number more than 0 and at most 1, got 0"),
    ("db_write_warn_ms", "fast", "db_write_warn_ms must be a number more than 0 and at most 60000, got 'fast'"),
    ("event_max_age_seconds", 0,
     "event_max_age_seconds must be empty or a number more than 0 and at most 2592000, got 0"),
    ("api_timeout_seconds", True, "api_timeout_seconds must be a number more than 0 and at most 300, got True"),
    ("api_slow_ms", math.nan, "api_slow_ms must be a number more than 0 and at most 300000, got nan"),
])
def test_a_threshold_out_of_range_names_field_and_range(field: str, value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Thresholds(**{field: value})
    assert str(caught.value) == expected


@pytest.mark.parametrize(("warn", "crit"), [("disk_warn_percent", "disk_crit_percent"),
                                            ("memory_warn_percent", "memory_crit_percent")])
def test_warning_above_critical_is_refused(warn: str, crit: str) -> None:
    with pytest.raises(ConfigError, match=f"{warn} must not be above {crit}, got 96 > 95"):
        Thresholds(**{warn: 96, crit: 95})


def test_edges_that_are_valid() -> None:
    edge = Thresholds(disk_warn_percent=0.1, disk_crit_percent=0.1, overdue_grace_seconds=0, bitrate_min_ratio=1,
                      event_max_age_seconds=3600, memory_warn_percent=100, memory_crit_percent=100)
    assert edge.disk_warn_percent == 0.1 and edge.overdue_grace_seconds == 0 and edge.event_max_age_seconds == 3600


# --- formatting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [(85, "85"), (0.7, "0.7"), (0.02, "0.02"), (0.1, "0.1"),
                                             (1000, "1000"), (86400, "86400"), (-0.0001, "0")])
def test_numbers_read_as_people_write_them(value: float, text: str) -> None:
    assert _num(value) == text


@pytest.mark.parametrize(("count", "text"), [(0, "0 B"), (999, "999 B"), (12_345, "12.3 KB"),
                                             (312_400_000, "312.4 MB"), (3_140_000_000, "3.1 GB"),
                                             (2 * 10**12, "2.0 TB")])
def test_sizes_in_decimal_units(count: int, text: str) -> None:
    assert _size(count) == text


# --- disk -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "status"), [(0, H), (84.9, H), (85, D), (94.99, D), (95, C), (100, C)])
def test_classify_percent(value: float, status: HealthStatus) -> None:
    assert _classify_percent(value, 85, 95) is status


def test_disk_percent_is_dfs_used_over_used_plus_available() -> None:
    assert _disk_used_percent(used=962, free=38) == pytest.approx(96.2)
    assert _disk_used_percent(used=0, free=0) == 100.0  # nothing usable at all


def test_disk_message_carries_the_figures() -> None:
    assert disk_message(96.24, Path("/data"), 3_100_000_000, C, T) == \
        "disk 96.2 % used on /data, 3.1 GB free (critical at 95 %)"
    assert disk_message(50.0, Path("/data"), 40 * GB, H, T) == \
        "disk 50.0 % used on /data, 40.0 GB free (warning at 85 %, critical at 95 %)"


# --- memory and the cgroup files ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "limit"), [("max\n", None), ("2147483648\n", 2147483648), ("", None),
                                             ("0", None), ("garbage", None), ("-5", None)])
def test_parse_cgroup_limit(text: str, limit: int | None) -> None:
    assert parse_cgroup_limit(text) == limit


def cgroup(root: Path, limit: str, current: str, stat: str | None = None) -> Path:
    (root / "memory.max").write_text(limit)
    (root / "memory.current").write_text(current)
    if stat is not None:
        (root / "memory.stat").write_text(stat)
    return root


def test_no_cgroup_files_means_no_cgroup(tmp_path: Path) -> None:
    assert read_cgroup_memory(tmp_path) is None


def test_max_means_no_limit(tmp_path: Path) -> None:
    assert read_cgroup_memory(cgroup(tmp_path, "max\n", "123456\n")) is None


def test_numbers_give_a_percent(tmp_path: Path) -> None:
    found = read_cgroup_memory(cgroup(tmp_path, "1000000000\n", "713000000\n"))
    assert found == CgroupMemory(713_000_000, 1_000_000_000)
    assert found is not None and found.percent == pytest.approx(71.3)


def test_inactive_file_cache_is_not_counted(tmp_path: Path) -> None:
    stat = "anon 400000000\nfile 500000000\ninactive_file 300000000\nactive_file 200000000\n"
    found = read_cgroup_memory(cgroup(tmp_path, "1000000000", "900000000", stat))
    assert found is not None and found.used_bytes == 600_000_000 and found.percent == pytest.approx(60.0)


def test_unreadable_current_means_no_cgroup(tmp_path: Path) -> None:
    assert read_cgroup_memory(cgroup(tmp_path, "1000", "lots")) is None


def test_the_worse_of_system_and_cgroup_decides() -> None:
    percent, (status, text) = memory_findings(40.0, 16 * GB, 312_400_000, CgroupMemory(960, 1000), T)
    assert (percent, status) == (96.0, C)
    assert text == ("memory 96.0 % used of the cgroup limit (critical at 95 %), system 40.0 % of 16.0 GB, "
                    "cgroup 96.0 % of its 1.0 KB limit, this process 312.4 MB RSS")
    percent, (status, text) = memory_findings(71.3, 16 * GB, 1_000_000, CgroupMemory(100, 1000), T)
    assert (percent, status) == (71.3, H)
    assert text.startswith("memory 71.3 % used of the system (warning at 85 %, critical at 95 %)")
    _, (status, text) = memory_findings(86.0, 16 * GB, 1_000_000, None, T)
    assert status is D and "cgroup" not in text


def test_memory_check_reads_a_cgroup_near_its_limit(tmp_path: Path) -> None:
    result = check_memory_usage(T, cgroup(tmp_path, "1000000000", "990000000"))
    assert result.status is C and result.value == 99.0 and result.unit == "%"
    assert "memory 99.0 % used of the cgroup limit" in result.message
    assert result.details["cgroup_limit_bytes"] == 1_000_000_000


# --- cpu ----------------------------------------------------------------------------------------------


def test_cpu_finding() -> None:
    assert cpu_finding(12.5, 0.52, 2, T) == (H, ("cpu 12.5 % busy over 0.2 s (warning at 90 %), "
                                                 "load 0.52 per core (1-minute average over 2 cores)"))
    assert cpu_finding(90.0, 3.0, 4, T)[0] is D


# --- scheduler ----------------------------------------------------------------------------------------


def debate(minutes_ago: float, status: DebateStatus = DebateStatus.PENDING, name: str = "a") -> ScheduledDebate:
    return ScheduledDebate(f"debate_{name}", NOW - timedelta(minutes=minutes_ago), "A topic", status=status)


def test_tick_finding() -> None:
    assert tick_finding(2.04, 120) == (H, "loop alive, last tick 2.0 s ago (limit 120 s)")
    assert tick_finding(120, 120)[0] is H
    assert tick_finding(300.5, 120) == (U, "loop stalled: last tick 300.5 s ago (limit 120 s)")
    assert tick_finding(None, 120) == (H, "loop alive, no tick yet")


def test_overdue_is_pending_and_past_the_grace() -> None:
    debates = [debate(0.5, name="within_grace"), debate(2, name="late"), debate(-5, name="future"),
               debate(10, DebateStatus.COMPLETED, name="done"), debate(10, DebateStatus.MISSED, name="missed")]
    assert [d.debate_id for d in overdue_debates(debates, NOW, 60)] == ["debate_late"]
    assert overdue_debates(debates, NOW, 0) == [debates[0], debates[1]]


def test_overdue_finding() -> None:
    late = [debate(2, name="x"), debate(3, name="y")]
    assert overdue_finding([], NOW, 60, busy=False) == (H, "no debate overdue (grace 60 s)")
    assert overdue_finding(late, NOW, 60, busy=False) == \
        (U, "2 debate(s) overdue by up to 180 s with none running (grace 60 s): debate_x, debate_y")
    assert overdue_finding(late, NOW, 60, busy=True) == (H, "2 debate(s) waiting behind the running one, up to 180 s")


def test_job_findings() -> None:
    ok = {"flush": JobHealth(runs=5), "archive": JobHealth(runs=1, failures=2)}
    assert job_findings(ok) == [(H, "2 jobs ok")]
    failing = {"flush": JobHealth(consecutive_failures=3, last_error="StoreError: disk full"),
               "tick": JobHealth(consecutive_failures=1, last_error="ValueError: x"), "rollup": JobHealth()}
    assert job_findings(failing) == [(D, "job flush failed 3 time(s) in a row: StoreError: disk full"),
                                     (U, "job tick failed 1 time(s) in a row: ValueError: x")]


# --- streaming ----------------------------------------------------------------------------------------


def live(**values: Any) -> StreamMetrics:
    return StreamMetrics(**{"status": StreamStatus.LIVE, "bitrate_kbps": 6000.0, "uptime_seconds": 100.0, **values})


def test_drop_rate_is_dropped_over_expected_frames() -> None:
    assert drop_rate(60, 30, 100) == pytest.approx(0.02)
    assert drop_rate(5, 30, 0) is None


def test_bitrate_finding() -> None:
    assert bitrate_finding("yt", 1800, 3000, 0.7) == (D, "yt: 1800 kbps, 60 % of the 3000 kbps target (minimum 70 %)")
    assert bitrate_finding("yt", 2100, 3000, 0.7)[0] is H  # exactly 70 %: not below
    assert bitrate_finding("yt", None, 3000, 0.7) == (H, "yt: no bitrate reading yet")


def test_destination_findings_for_a_live_output() -> None:
    high = QUALITY_PRESETS[StreamQuality.HIGH]
    assert destination_findings("yt", live(), high, T) == [
        (H, "yt: 6000 kbps, 100 % of the 6000 kbps target (minimum 70 %)"),
        (H, "yt: 0 dropped frames (0.00 %, warning at 2.00 %), 0 reconnects")]
    dropping = destination_findings("yt", live(dropped_frames=90, reconnects=2), high, T)
    assert dropping[1] == (D, "yt: 90 dropped frames (3.00 %, warning at 2.00 %), 2 reconnects")


@pytest.mark.parametrize(("status", "health"), [(StreamStatus.ERROR, U), (StreamStatus.RECONNECTING, D),
                                                (StreamStatus.CONNECTING, H), (StreamStatus.IDLE, D)])
def test_destination_findings_by_state(status: StreamStatus, health: HealthStatus) -> None:
    metrics = StreamMetrics(status=status, reconnects=3, last_error="connection refused by the ingest server")
    findings = destination_findings("tw", metrics, QUALITY_PRESETS[StreamQuality.MEDIUM], T)
    assert findings == [(health, f"tw: {status.value}, 3 reconnects: connection refused by the ingest server")]


class FakeConsumer:
    def __init__(self, metrics: StreamMetrics) -> None:
        self.metrics = metrics


def on_air(*destinations: StreamDestination, streaming: bool = True) -> Any:
    streamer = SimpleNamespace(streaming=streaming, destinations={d.destination_id: d for d in destinations})
    return SimpleNamespace(broadcast=SimpleNamespace(streamer=streamer), role="owner")


def destination(name: str, metrics: StreamMetrics, enabled: bool = True,
                tier: StreamQuality | None = None) -> StreamDestination:
    config = StreamConfig(StreamPlatform.TWITCH, "k" * 20, quality=StreamQuality.HIGH, enabled=enabled,
                          destination_id=name)
    return StreamDestination(config, FakeConsumer(metrics), tier)  # type: ignore[arg-type]


def test_streaming_check_judges_each_enabled_destination_at_its_tier() -> None:
    slow = destination("a", live(bitrate_kbps=1400.0), tier=StreamQuality.LOW)  # 1400 of 1500: fine
    failing = destination("b", StreamMetrics(status=StreamStatus.ERROR, last_error="key rejected"))
    off = destination("c", StreamMetrics(status=StreamStatus.ERROR), enabled=False)
    result = check_streaming_health(on_air(slow, failing, off), T)
    assert result.status is U and result.value == 1 and result.details == {"enabled": 2, "live": 1}
    # An alert says what is wrong (b) and only counts what is fine (a's bitrate and drops).
    assert result.message == "b: error, 0 reconnects: key rejected; 2 other findings fine"
    healthy = check_streaming_health(on_air(slow), T)
    assert healthy.status is H and "a: 1400 kbps, 93 % of the 1500 kbps target" in healthy.message


def test_streaming_check_off_air_and_broadcast_off() -> None:
    assert check_streaming_health(on_air(streaming=False), T).message == "not on air (no debate running)"
    off = check_streaming_health(SimpleNamespace(broadcast=None, role="owner"), T)  # type: ignore[arg-type]
    assert (off.status, off.message) == (H, "broadcast off")
    viewer = check_streaming_health(SimpleNamespace(broadcast=None, role="viewer"), T)  # type: ignore[arg-type]
    assert viewer.message == "streaming runs in the owner process"


# --- database, api, events ----------------------------------------------------------------------------


def test_database_finding() -> None:
    assert database_finding(3.21, T) == (H, "store write+read 3.2 ms (warning at 50 ms)")
    assert database_finding(50.0, T)[0] is D


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://host/x", "http://", "localhost:8000/health", ""])
def test_only_http_urls_are_probed(url: str) -> None:
    with pytest.raises(ConfigError, match="api endpoints must be http:// or https:// URLs"):
        check_url(url)
    assert check_url("https://example.org/health") == "https://example.org/health"


@pytest.mark.parametrize(("probe", "status"), [
    (Probe("u", 200, 12.0), H), (Probe("u", 204, 999.9), H), (Probe("u", 200, 1000.0), D),
    (Probe("u", 404, 5.0), D), (Probe("u", 500, 5.0), U), (Probe("u", 503, 5.0), U),
    (Probe("u", None, 1000.0, "timed out after 1 s"), U), (Probe("u", None, 1.0, "refused"), U),
])
def test_classify_probe(probe: Probe, status: HealthStatus) -> None:
    assert classify_probe(probe, 1000) is status


def test_probe_finding_names_the_url_without_its_password() -> None:
    assert probe_finding(Probe("http://h/ok", 200, 2.4), T) == (H, "http://h/ok answered 200 in 2 ms")
    assert probe_finding(Probe("http://h/s", 200, 1500.0), T) == \
        (D, "http://h/s answered 200 in 1500 ms (slow: over 1000 ms)")
    assert probe_finding(Probe("http://u:secret@h/x", None, 3.0, "refused"), T) == (U, "http://u:****@h/x refused")


def test_no_endpoints_configured() -> None:
    result = check_api_endpoints([], T)
    assert (result.status, result.message) == (H, "no endpoints configured")


def test_watcher_finding() -> None:
    assert watcher_finding(True, True) == (H, "inbox watcher alive")
    assert watcher_finding(False, True) == (D, "inbox watcher not running: event files wait for the loop's next tick")
    assert watcher_finding(False, False)[0] is U


def test_event_age_finding() -> None:
    assert event_age_finding(None, 10, None) == (H, "no event since start")
    assert event_age_finding(42.4, 1000, None) == (H, "last event 42 s ago")
    assert event_age_finding(42.4, 1000, 60) == (H, "last event 42 s ago (expected within 60 s)")
    assert event_age_finding(90, 1000, 60) == (D, "last event 90 s ago (expected within 60 s)")
    assert event_age_finding(None, 30, 60)[0] is H  # just started: not silent for long yet
    assert event_age_finding(None, 61, 60) == (D, "no event since start (expected within 60 s)")


# --- tts without an engine --------------------------------------------------------------------------


def test_tts_switched_off_is_the_operator_s_choice_not_a_problem() -> None:
    result = check_tts_availability({"AI_COUNCIL_TTS": "off"})
    assert (result.status, result.message) == (H, "speech off (AI_COUNCIL_TTS=off): a tone bed plays")


def test_tts_without_espeak_on_the_path_is_degraded_with_the_fallback_named(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    result = check_tts_availability({})
    assert (result.status, result.message) == (D, "no speech engine (espeak-ng not on PATH): a tone bed plays instead")


def test_tts_misconfigured_is_unhealthy() -> None:
    result = check_tts_availability({"AI_COUNCIL_TTS": "no-such-speech-program-xyz"})
    assert result.status is U and "no-such-speech-program-xyz" in result.message


# --- the registry -----------------------------------------------------------------------------------


def unstarted(tmp_path: Path) -> Supervisor:
    return Supervisor(load_settings({"AI_COUNCIL_DATA_DIR": str(tmp_path), "AI_COUNCIL_BROADCAST": "off",
                                     "AI_COUNCIL_TIMEZONE": "UTC"}))


def test_registry_names() -> None:
    assert set(PREDEFINED) == {"scheduler", "streaming", "database", "disk", "memory", "cpu", "api", "events",
                               "tts", "ffmpeg"}


def test_predefined_checks_are_bound_and_read_their_arguments_when_run(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    supervisor = unstarted(tmp_path)
    bound = predefined_checks(supervisor, T)
    assert set(bound) == set(PREDEFINED)
    seen: list[tuple[Any, ...]] = []
    monkeypatch.setitem(checks.PREDEFINED, "database", lambda *args: seen.append(args) or "result")
    assert bound["database"]() == "result"  # type: ignore[comparison-overlap]
    assert seen == [(None, T)]  # the store is read at run time: None before start()
    assert bound["scheduler"]().status is C  # a supervisor that never started


def test_predefined_checks_validate_the_urls_up_front(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="http:// or https://"):
        predefined_checks(unstarted(tmp_path), T, ["ftp://example.org/"])
    with pytest.raises(ConfigError, match="api_urls must be a list of URLs"):
        predefined_checks(unstarted(tmp_path), T, "http://example.org/")


def test_api_endpoints_are_bounded_in_number_and_length() -> None:
    from backend.checks import check_urls

    assert check_urls(["http://127.0.0.1/ok"] * 20) == ("http://127.0.0.1/ok",) * 20
    with pytest.raises(ConfigError, match="at most 20 URLs .each is probed every round., got 21"):
        check_urls(["http://127.0.0.1/ok"] * 21)
    with pytest.raises(ConfigError, match="of at most 2048 characters, got 3019"):
        check_urls(["http://127.0.0.1/" + "a" * 3002])
    with pytest.raises(ConfigError, match="got int"):
        check_urls([5])
