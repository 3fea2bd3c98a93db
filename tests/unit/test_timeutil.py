"""The rehearsal clock: a day in minutes, and the conversion of its waits to real time."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest

from backend.__main__ import clock_of, parse_args
from backend.errors import ConfigError
from backend.timeutil import UTC, FastClock, posix_tz, real_seconds, utc_now

START = datetime(2026, 6, 15, tzinfo=UTC)


class Ticks:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_fast_clock_runs_rate_times_faster_from_its_start() -> None:
    ticks = Ticks()
    clock = FastClock(START, 600, monotonic=ticks)
    assert clock() == START
    ticks.now += 6
    assert clock() == START + timedelta(hours=1)
    assert real_seconds(clock, 3600) == 6.0


def test_the_real_clock_waits_in_real_seconds() -> None:
    assert real_seconds(utc_now, 42.5) == 42.5


@pytest.mark.parametrize("rate", [0, -3])
def test_a_fast_clock_needs_a_positive_rate(rate: float) -> None:
    with pytest.raises(ConfigError, match=f"rate must be a positive number, got {rate}"):
        FastClock(START, rate)


def test_the_command_line_makes_a_rehearsal_clock_or_names_the_valid_form() -> None:
    assert clock_of(parse_args([])) is utc_now
    rehearsal = clock_of(parse_args(["--clock-rate", "600", "--clock-start", "2026-06-15T00:00:00+00:00"]))
    assert isinstance(rehearsal, FastClock) and rehearsal.rate == 600 and rehearsal.start == START
    for argv, said in ((["--clock-start", "2026-06-15"], "--clock-start needs --clock-rate"),
                       (["--clock-rate", "0.5"], "--clock-rate must be a number 1-10000, got 0.5"),
                       (["--clock-rate", "5", "--clock-start", "noon"], "must be an ISO 8601 time")):
        with pytest.raises(ConfigError, match=said):
            clock_of(parse_args(argv))


def test_the_scheduler_check_judges_a_rehearsal_loop_by_real_seconds() -> None:
    from types import SimpleNamespace

    from backend.checks import _tick_age, tick_finding

    ticks = Ticks()
    clock = FastClock(START, 600, monotonic=ticks)
    supervisor = SimpleNamespace(_clock=clock, last_tick=clock())
    ticks.now += 1.5  # 15 minutes on the fast clock
    age = _tick_age(supervisor, clock())  # type: ignore[arg-type]
    assert age == 1.5
    assert tick_finding(age, 120)[1] == "loop alive, last tick 1.5 s ago (limit 120 s)"


@pytest.mark.parametrize(("zone", "rule"), [
    ("America/New_York", "EST5EDT,M3.2.0,M11.1.0"),
    ("Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"),
    ("Asia/Kolkata", "IST-5:30"),
    ("UTC", "UTC0"),
])
def test_a_zone_gives_its_posix_rule(zone: str, rule: str) -> None:
    assert posix_tz(zone) == rule


def test_the_rule_comes_from_the_tzdata_package_without_system_zone_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(zoneinfo, "TZPATH", ())  # a slim container: no /usr/share/zoneinfo
    assert posix_tz("America/New_York") == "EST5EDT,M3.2.0,M11.1.0"


@pytest.mark.parametrize("zone", ["Nowhere/Atlantis", "Europe", "../../etc/passwd", "Europe/../UTC", ""])
def test_no_rule_for_what_is_not_a_zone(zone: str) -> None:
    assert posix_tz(zone) is None
