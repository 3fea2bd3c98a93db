"""Pure planning: strategies, quiet hours, caps, gaps, DST, misfires, backoff — no clock, no threads."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.models import ScheduleConfig
from backend.planning import (
    adaptive_hours,
    in_quiet_hours,
    local_datetime,
    misfire_action,
    next_free_time,
    next_good_slot,
    plan_slots,
    retry_delay,
)
from backend.timeutil import UTC

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return local_datetime(day, 0, zone), local_datetime(day + timedelta(days=1), 0, zone)


def local_hours(slots, zone) -> list[int]:
    return [slot.time.astimezone(zone).hour for slot in slots]


def test_interval_every_hour_runs_on_the_hour_every_day() -> None:
    config = ScheduleConfig(interval_minutes=60, min_interval_minutes=0, timezone="Europe/Berlin")
    start, end = day_bounds(date(2026, 6, 15), BERLIN)
    slots = plan_slots(config, [], start + timedelta(minutes=7), end)
    assert local_hours(slots, BERLIN) == list(range(1, 24))
    assert all(slot.time.astimezone(BERLIN).minute == 0 for slot in slots)


def test_interval_grid_is_the_same_whatever_the_planning_start() -> None:
    config = ScheduleConfig(interval_minutes=45, min_interval_minutes=0, max_debates_per_day=100, timezone="UTC")
    a = plan_slots(config, [], datetime(2026, 6, 15, 0, 0, tzinfo=UTC), datetime(2026, 6, 16, tzinfo=UTC))
    b = plan_slots(config, [], datetime(2026, 6, 15, 10, 1, tzinfo=UTC), datetime(2026, 6, 16, tzinfo=UTC))
    assert {s.time for s in b} <= {s.time for s in a}


def test_interval_start_date_anchors_the_grid() -> None:
    anchor = datetime(2026, 6, 15, 8, 7, tzinfo=UTC)
    config = ScheduleConfig(interval_minutes=30, min_interval_minutes=0, timezone="UTC", start_date=anchor)
    slots = plan_slots(config, [], anchor - timedelta(hours=1), anchor + timedelta(hours=2))
    assert [s.time for s in slots] == [anchor + timedelta(minutes=30 * k) for k in range(4)]


def test_quiet_hours_wrapping_midnight_are_skipped() -> None:
    config = ScheduleConfig(interval_minutes=60, min_interval_minutes=0, timezone="Europe/Berlin",
                            quiet_hours_start=22, quiet_hours_end=6)
    start, end = day_bounds(date(2026, 6, 15), BERLIN)
    hours = local_hours(plan_slots(config, [], start, end), BERLIN)
    assert hours == list(range(6, 22))


def test_equal_quiet_hours_mean_none() -> None:
    config = ScheduleConfig(quiet_hours_start=3, quiet_hours_end=3, timezone="UTC")
    assert not config.has_quiet_hours
    assert not in_quiet_hours(datetime(2026, 6, 15, 3, 30, tzinfo=UTC), config, ZoneInfo("UTC"))


def test_daily_cap_counts_local_calendar_days_not_utc_days() -> None:
    # Auckland is UTC+12: a UTC day straddles two local days.
    zone = ZoneInfo("Pacific/Auckland")
    config = ScheduleConfig(interval_minutes=60, max_debates_per_day=3, min_interval_minutes=0,
                            timezone="Pacific/Auckland")
    slots = plan_slots(config, [], datetime(2026, 6, 15, tzinfo=UTC), datetime(2026, 6, 18, tzinfo=UTC))
    per_day = Counter(slot.time.astimezone(zone).date() for slot in slots)
    assert set(per_day.values()) == {3}
    first_day = slots[0].time.astimezone(zone).date()
    later = [slot for slot in slots if slot.time.astimezone(zone).date() > first_day]
    assert later and all(slot.time.astimezone(zone).hour in (0, 1, 2) for slot in later)


def test_existing_debates_count_against_the_cap_and_the_gap() -> None:
    config = ScheduleConfig(interval_minutes=60, max_debates_per_day=2, min_interval_minutes=90, timezone="UTC")
    taken = [datetime(2026, 6, 15, 10, 30, tzinfo=UTC)]
    slots = plan_slots(config, taken, datetime(2026, 6, 15, 9, 30, tzinfo=UTC), datetime(2026, 6, 15, 23, tzinfo=UTC))
    assert [s.time.hour for s in slots] == [12]  # 10:00 and 11:00 are too close to 10:30; then the cap of 2


def test_min_gap_between_starts() -> None:
    config = ScheduleConfig(interval_minutes=10, min_interval_minutes=25, timezone="UTC")
    slots = plan_slots(config, [], datetime(2026, 6, 15, 0, tzinfo=UTC), datetime(2026, 6, 15, 2, tzinfo=UTC))
    gaps = {b.time - a.time for a, b in zip(slots, slots[1:])}
    assert gaps == {timedelta(minutes=30)}


def test_adaptive_uses_the_prior_hours_with_reasons() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="Europe/Berlin")
    start, end = day_bounds(date(2026, 6, 15), BERLIN)
    slots = plan_slots(config, [], start, end)
    assert local_hours(slots, BERLIN) == [9, 12, 15, 18, 21]
    assert all("prior" in slot.reason and slot.source == "adaptive" for slot in slots)


def test_adaptive_hours_follow_engagement_for_that_weekday_only() -> None:
    engagement = {(0, 20): 0.9, (0, 7): 0.8, (0, 13): 0.1, (1, 3): 1.0}
    assert [h for h, _ in adaptive_hours(engagement, (9, 12), weekday=0)] == [7, 20]
    assert [h for h, _ in adaptive_hours(engagement, (9, 12), weekday=2)] == [9, 12]


def test_cron_follows_the_local_wall_clock() -> None:
    config = ScheduleConfig(schedule_type="cron", cron_expression="0 9-21/4 * * 1-5", timezone="America/New_York",
                            min_interval_minutes=0)
    slots = plan_slots(config, [], datetime(2026, 6, 13, 12, tzinfo=UTC), datetime(2026, 6, 16, 12, tzinfo=UTC))
    local = [s.time.astimezone(NY) for s in slots]
    assert [(t.weekday(), t.hour) for t in local] == [(0, 9), (0, 13), (0, 17), (0, 21)]


# ---- DST ------------------------------------------------------------------------------------


def test_spring_forward_interval_day_has_23_hourly_slots() -> None:
    config = ScheduleConfig(interval_minutes=60, min_interval_minutes=0, timezone="America/New_York")
    start, end = day_bounds(date(2026, 3, 8), NY)
    slots = plan_slots(config, [], start, end)
    assert len(slots) == 23
    assert 2 not in local_hours(slots, NY)


def test_fall_back_interval_day_has_25_hourly_slots_one_hour_apart() -> None:
    config = ScheduleConfig(interval_minutes=60, min_interval_minutes=0, max_debates_per_day=48,
                            timezone="America/New_York")
    start, end = day_bounds(date(2026, 11, 1), NY)
    slots = plan_slots(config, [], start, end)
    assert len(slots) == 25
    assert {b.time - a.time for a, b in zip(slots, slots[1:])} == {timedelta(hours=1)}


def test_adaptive_hour_in_the_spring_gap_moves_forward_and_ambiguous_hour_runs_once() -> None:
    config = ScheduleConfig(schedule_type="adaptive", adaptive_hours=(1, 2, 9), min_interval_minutes=0,
                            timezone="America/New_York")
    spring = plan_slots(config, [], *day_bounds(date(2026, 3, 8), NY))
    assert [s.time.astimezone(NY).strftime("%H:%M %Z") for s in spring] == ["01:00 EST", "03:00 EDT", "09:00 EDT"]
    fall = plan_slots(config, [], *day_bounds(date(2026, 11, 1), NY))
    assert [s.time.astimezone(NY).strftime("%H:%M %Z") for s in fall] == ["01:00 EDT", "02:00 EST", "09:00 EST"]


def test_cron_at_a_fall_back_hour_runs_once() -> None:
    config = ScheduleConfig(schedule_type="cron", cron_expression="30 1 * * *", timezone="America/New_York")
    slots = plan_slots(config, [], *day_bounds(date(2026, 11, 1), NY))
    assert len(slots) == 1


def test_quiet_hours_use_local_time_across_dst() -> None:
    config = ScheduleConfig(interval_minutes=60, min_interval_minutes=0, timezone="America/New_York",
                            quiet_hours_start=0, quiet_hours_end=6)
    for day in (date(2026, 3, 8), date(2026, 11, 1)):
        hours = local_hours(plan_slots(config, [], *day_bounds(day, NY)), NY)
        assert min(hours) == 6 and hours == sorted(set(hours))


# ---- events ---------------------------------------------------------------------------------


def test_next_free_time_leaves_quiet_hours_then_respects_gap_and_cap() -> None:
    config = ScheduleConfig(timezone="UTC", quiet_hours_start=22, quiet_hours_end=6, min_interval_minutes=30,
                            max_debates_per_day=2)
    at_night = datetime(2026, 6, 15, 23, 10, tzinfo=UTC)
    assert next_free_time(config, [], at_night) == datetime(2026, 6, 16, 6, tzinfo=UTC)
    busy = [datetime(2026, 6, 16, 10, 0, tzinfo=UTC)]
    assert next_free_time(config, busy, datetime(2026, 6, 16, 10, 5, tzinfo=UTC)) == datetime(
        2026, 6, 16, 10, 30, tzinfo=UTC)
    full = busy + [datetime(2026, 6, 16, 12, tzinfo=UTC)]
    assert next_free_time(config, full, datetime(2026, 6, 16, 13, tzinfo=UTC)) == datetime(
        2026, 6, 17, 6, tzinfo=UTC)


def test_next_good_slot_is_the_next_free_adaptive_hour() -> None:
    config = ScheduleConfig(timezone="UTC", min_interval_minutes=60)
    taken = [datetime(2026, 6, 15, 12, 20, tzinfo=UTC)]
    slot = next_good_slot(config, taken, datetime(2026, 6, 15, 10, tzinfo=UTC))
    assert slot is not None and slot.time == datetime(2026, 6, 15, 15, tzinfo=UTC)


def test_no_free_time_within_horizon_is_none() -> None:
    config = ScheduleConfig(timezone="UTC", max_debates_per_day=1)
    taken = [datetime(2026, 6, 15, tzinfo=UTC) + timedelta(days=d, hours=1) for d in range(10)]
    assert next_free_time(config, taken, datetime(2026, 6, 15, 2, tzinfo=UTC), horizon_days=5) is None


# ---- misfires and retries -------------------------------------------------------------------


@pytest.mark.parametrize(("late", "action"), [(-1, "wait"), (0, "run"), (300, "run"), (301, "missed")])
def test_misfire_policy(late: int, action: str) -> None:
    due = datetime(2026, 6, 15, 10, tzinfo=UTC)
    assert misfire_action(due, due + timedelta(seconds=late), grace_seconds=300) == action


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 30, 200) for n in (1, 2, 3, 4)] == [30, 60, 120, 200]


@pytest.mark.parametrize("expression", ["*/20 9-17 * * 1-5", "0 0 1,15 * *", "30 6 * * 0", "0 12 29 2 *",
                                        "5 4 L * *", "0 9 * * MON#2"])
def test_cron_slots_match_cronsim_where_no_dst_applies(expression: str) -> None:
    from cronsim import CronSim

    config = ScheduleConfig(schedule_type="cron", cron_expression=expression, timezone="Asia/Tokyo",
                            min_interval_minutes=0, max_debates_per_day=1440)
    zone = ZoneInfo("Asia/Tokyo")
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2029, 1, 1, tzinfo=UTC)
    expected = []
    for moment in CronSim(expression, start.astimezone(zone) - timedelta(seconds=1)):
        if moment >= end:
            break
        expected.append(moment.astimezone(UTC))
    assert [s.time for s in plan_slots(config, [], start, end)] == expected


def test_half_hourly_cron_on_spring_forward_day_skips_the_gap_without_duplicates() -> None:
    config = ScheduleConfig(schedule_type="cron", cron_expression="*/30 1-4 * * *", timezone="America/New_York",
                            min_interval_minutes=0)
    slots = plan_slots(config, [], *day_bounds(date(2026, 3, 8), NY))
    assert [s.time.astimezone(NY).strftime("%H:%M") for s in slots] == [
        "01:00", "01:30", "03:00", "03:30", "04:00", "04:30"]
