"""Pure planning: strategies, quiet hours, caps, gaps, DST, misfires, backoff — no clock, no threads."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.engagement import SlotStats, learn, to_engagement
from backend.models import ScheduleConfig
from backend.planning import (
    EXPLORE_SHARE,
    adaptive_hours,
    explain_adaptive,
    explore_count,
    in_quiet_hours,
    local_datetime,
    misfire_action,
    next_free_time,
    next_good_slot,
    plan_slots,
    retry_delay,
    steady_midnight,
)
from backend.timeutil import UTC, resolve_zone

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


# ---- adaptive: learning, exploring ----------------------------------------------------------

UTC_ZONE = ZoneInfo("UTC")
MONDAY = date(2026, 6, 8)


def measured(day: date, scores: dict[int, float | None], zone: ZoneInfo = UTC_ZONE) -> list[dict]:
    """Debate-metrics records: one debate per hour of ``day`` with its engagement score."""
    return [{"start_time": local_datetime(day, hour, zone).isoformat(), "engagement_score": score}
            for hour, score in scores.items()]


def kinds(choices) -> dict[int, str]:
    return {choice.hour: choice.kind for choice in choices}


def test_prior_until_a_weekday_has_enough_measured_debates() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC")
    stats = learn(measured(MONDAY, {9: 0.9, 12: 0.8, 15: None}), UTC_ZONE, local_datetime(MONDAY, 23, UTC_ZONE))
    choices = explain_adaptive(stats, config, weekday=0)
    assert kinds(choices) == {9: "prior", 12: "prior", 15: "prior", 18: "prior", 21: "prior"}
    assert choices[0].reason == ("09:00 is a prior peak hour (not enough engagement data yet: "
                                 "2 debates measured on Mondays, 3 needed)")
    assert [s.reason for s in plan_slots(config, [], *day_bounds(MONDAY + timedelta(days=7), UTC_ZONE), stats)] == [
        c.reason for c in choices]


def test_learned_day_takes_the_best_hours_and_explores_one_of_five() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC")
    stats = learn(measured(MONDAY, {9: 0.4, 12: 0.5, 15: 0.6, 18: 0.3, 21: 0.8}), UTC_ZONE,
                  local_datetime(MONDAY, 23, UTC_ZONE))
    choices = explain_adaptive(stats, config, weekday=0)
    # 18:00 scored least; 08:00 is the earliest never-tried hour next to a prior hour.
    assert kinds(choices) == {8: "explore", 9: "best", 12: "best", 15: "best", 21: "best"}
    by_hour = {c.hour: c for c in choices}
    assert by_hour[21].reason == "21:00 scored 0.80 engagement (1 debate measured on Mondays)"
    assert by_hour[21].score == pytest.approx(0.8)
    assert by_hour[8].reason == ("08:00 explores an hour with 0 debates measured on Mondays "
                                 "(never tried; 1 of 5 slots explore)")
    slots = plan_slots(config, [], *day_bounds(MONDAY + timedelta(days=7), UTC_ZONE), stats)
    assert [s.time.hour for s in slots] == [8, 9, 12, 15, 21]
    assert explain_adaptive(stats, config, weekday=1)[0].kind == "prior"  # Tuesdays know nothing yet


def test_exploration_takes_the_least_measured_then_least_recently_tried_hour() -> None:
    base = datetime(2026, 6, 1, tzinfo=UTC)
    stats = {(0, hour): SlotStats(0, hour, 1, 1, 0.9 if hour >= 20 else 0.5, 1.0, base + timedelta(hours=hour))
             for hour in range(24)}
    stats[(0, 7)] = SlotStats(0, 7, 1, 1, 0.5, 1.0, base - timedelta(days=7))
    stats[(0, 3)] = SlotStats(0, 3, 2, 2, 0.5, 2.0, base - timedelta(days=14))  # older, but measured twice
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC")
    choices = explain_adaptive(stats, config, weekday=0)
    assert kinds(choices) == {7: "explore", 20: "best", 21: "best", 22: "best", 23: "best"}
    assert choices[0].reason == ("07:00 explores an hour with 1 debate measured on Mondays "
                                 "(last tried 2026-05-25; 1 of 5 slots explore)")


def test_exploration_honours_quiet_hours_gaps_and_the_daily_cap() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC", quiet_hours_start=0, quiet_hours_end=8,
                            min_interval_minutes=90)
    stats = learn(measured(MONDAY, {9: 0.4, 12: 0.5, 15: 0.6, 18: 0.3, 21: 0.8}), UTC_ZONE,
                  local_datetime(MONDAY, 23, UTC_ZONE))
    choices = explain_adaptive(stats, config, weekday=0)
    hours = sorted(kinds(choices))
    # 08, 10, 11, 13, 14 and 16 lie within 90 min of a best hour: 17:00 is the first that keeps the gap.
    assert kinds(choices)[17] == "explore"
    assert all(hour >= 8 for hour in hours) and all(b - a >= 2 for a, b in zip(hours, hours[1:]))
    slots = plan_slots(config, [], *day_bounds(MONDAY + timedelta(days=7), UTC_ZONE), stats)
    assert [s.time.hour for s in slots] == hours  # the constraint filter drops none of them
    capped = config.replace(max_debates_per_day=3)
    assert [c.kind for c in explain_adaptive(stats, capped, weekday=0)].count("explore") == 1
    assert len(plan_slots(capped, [], *day_bounds(MONDAY + timedelta(days=7), UTC_ZONE), stats)) == 3


def test_explore_count_is_at_least_the_share() -> None:
    assert [explore_count(n) for n in (1, 2, 3, 5, 6, 10, 15)] == [0, 1, 1, 1, 2, 2, 3]
    assert explore_count(5, 0.5) == 3 and explore_count(5, 0) == 0 and explore_count(2, 1.0) == 1


def test_other_weekdays_inform_an_hour_a_weekday_has_not_measured() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC")
    tuesday = MONDAY + timedelta(days=1)
    records = measured(MONDAY, {9: 0.4, 12: 0.5, 15: 0.6, 18: 0.3, 21: 0.4}) + measured(tuesday, {20: 0.9})
    stats = learn(records, UTC_ZONE, local_datetime(tuesday, 23, UTC_ZONE))
    twenty = {c.hour: c for c in explain_adaptive(stats, config, weekday=0)}[20]
    assert twenty.kind == "best" and twenty.score == pytest.approx(0.9)
    assert twenty.reason == ("20:00 scored 0.90 engagement on other days (1 debate measured there; "
                             "not yet measured on Mondays)")


def test_plain_scores_and_learned_stats_both_work_with_adaptive_hours() -> None:
    stats = learn(measured(MONDAY, {9: 0.4, 12: 0.5, 15: 0.6, 18: 0.3, 21: 0.8}), UTC_ZONE,
                  local_datetime(MONDAY, 23, UTC_ZONE))
    assert [h for h, _ in adaptive_hours(stats, (9, 12, 15, 18, 21), weekday=0)] == [8, 9, 12, 15, 21]
    assert [h for h, _ in adaptive_hours(to_engagement(stats), (9, 12, 15, 18, 21), weekday=0)] == [
        9, 12, 15, 18, 21]
    assert [h for h, _ in adaptive_hours(to_engagement(stats), (9, 12), weekday=0)] == [15, 21]


def test_events_go_to_a_good_hour_not_an_exploration_hour() -> None:
    config = ScheduleConfig(schedule_type="adaptive", timezone="UTC")
    stats = learn(measured(MONDAY, {9: 0.4, 12: 0.5, 15: 0.6, 18: 0.3, 21: 0.8}), UTC_ZONE,
                  local_datetime(MONDAY, 23, UTC_ZONE))
    slot = next_good_slot(config, [], local_datetime(MONDAY + timedelta(days=7), 7, UTC_ZONE), stats)
    assert slot is not None and slot.time.hour == 9 and "scored" in slot.reason  # not 08:00 (exploration)


def hidden_engagement(weekday: int, hour: int, best: dict[int, int]) -> float:
    """The simulated audience: the planted hour is clearly best, the others 0.30-0.50 (no randomness)."""
    if hour == best[weekday]:
        return 0.9
    return round(0.3 + 0.2 * ((hour * 5 + weekday * 3) % 7) / 6, 3)


def simulate(days: int, best: dict[int, int], config: ScheduleConfig, first: date = date(2026, 6, 1)):
    """Each day: plan the day's adaptive slots, run them, record their engagement, learn again."""
    zone = resolve_zone(config.timezone)
    records: list[dict] = []
    taken: list[datetime] = []
    stats: dict = {}
    history = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        start, end = day_bounds(day, zone)
        slots = plan_slots(config, taken, start, end, stats)
        history.append((day, slots))
        for slot in slots:
            local = slot.time.astimezone(zone)
            taken.append(slot.time)
            records.append({"start_time": slot.time.isoformat(),
                            "engagement_score": hidden_engagement(local.weekday(), local.hour, best)})
        stats = learn(records, zone, end)
    return history, stats


MONTH_CONFIG = ScheduleConfig(schedule_type="adaptive", timezone="Europe/Berlin", quiet_hours_start=2,
                              quiet_hours_end=6, max_debates_per_day=5, min_interval_minutes=30)


def test_simulated_month_finds_the_planted_hour_and_keeps_exploring() -> None:
    history, stats = simulate(28, {weekday: 20 for weekday in range(7)}, MONTH_CONFIG)
    for day, slots in history:
        hours = local_hours(slots, BERLIN)
        assert len(slots) == 5 and not any(2 <= hour < 6 for hour in hours)
        explored = [slot for slot in slots if "explores" in slot.reason]
        if day < date(2026, 6, 8):  # the first week: no data, the prior
            assert hours == [9, 12, 15, 18, 21] and not explored
        else:
            assert len(explored) / len(slots) >= EXPLORE_SHARE
    for day, slots in history[-7:]:  # the month's last week: 20:00 on every weekday, as a best hour
        assert any(s.time.astimezone(BERLIN).hour == 20 and "scored" in s.reason for s in slots), day
    for weekday in range(7):
        choices = explain_adaptive(stats, MONTH_CONFIG, weekday)
        best = max((c for c in choices if c.kind == "best"), key=lambda c: c.score or 0)
        assert best.hour == 20 and best.score == pytest.approx(0.9, abs=0.02)
        assert [c.kind for c in choices].count("explore") == 1


def test_a_weekday_with_its_own_best_hour_learns_it_from_its_own_data() -> None:
    best = {weekday: 20 for weekday in range(7)} | {5: 11}  # Saturdays peak at 11:00
    history, stats = simulate(70, best, MONTH_CONFIG)
    saturdays = [local_hours(slots, BERLIN) for day, slots in history if day.weekday() == 5]
    assert all(11 in hours for hours in saturdays[-4:])
    top = max(explain_adaptive(stats, MONTH_CONFIG, 5), key=lambda c: c.score or 0)
    assert top.hour == 11 and top.kind == "best"


def test_replanning_with_new_data_does_not_add_debates_to_a_day() -> None:
    """As the scheduler does: every hour, plan the next 24 h with what was learned so far."""
    config = MONTH_CONFIG.replace(max_debates_per_day=24)
    plan: dict[datetime, str] = {}
    records: list[dict] = []
    stats: dict = {}
    best = {weekday: 20 for weekday in range(7)}
    now = local_datetime(date(2026, 6, 1), 0, BERLIN)
    for _ in range(28 * 24):
        for slot in plan_slots(config, plan, now, now + timedelta(hours=24), stats):
            plan.setdefault(slot.time, slot.reason)
        for moment in (t for t in plan if now - timedelta(hours=1) <= t < now):
            local = moment.astimezone(BERLIN)
            records.append({"start_time": moment.isoformat(),
                            "engagement_score": hidden_engagement(local.weekday(), local.hour, best)})
        stats = learn(records, BERLIN, now)
        now += timedelta(hours=1)
    per_day = Counter(moment.astimezone(BERLIN).date() for moment in plan if moment < now)
    assert set(per_day.values()) == {5}  # without the day's budget: 5 to 10 as the learned hours moved
    last_week = [moment.astimezone(BERLIN) for moment in plan if now - timedelta(days=7) <= moment < now]
    assert sum(local.hour == 20 for local in last_week) == 7


# Zones with clock changes at odd hours: at midnight (Santiago, Havana, Beirut), at 02:00 (New York,
# Lord Howe's half hour), none (Kolkata), and Samoa, which skipped a whole day in 2011.
ODD_ZONES = ["America/Santiago", "America/Havana", "Asia/Beirut", "America/New_York", "Australia/Lord_Howe",
             "Asia/Kolkata", "Pacific/Apia", "Europe/Dublin", "Africa/Casablanca"]


@settings(max_examples=400, deadline=None)
@given(zone=st.sampled_from(ODD_ZONES), day=st.dates(date(2005, 1, 1), date(2035, 12, 31)),
       hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_the_steady_midnight_shortcut_places_every_time_as_local_datetime_does(
        zone: str, day: date, hour: int, minute: int) -> None:
    tz = ZoneInfo(zone)
    midnight = steady_midnight(day, tz)
    if midnight is not None:
        assert midnight + timedelta(hours=hour, minutes=minute) == local_datetime(day, hour, tz, minute)


def test_every_change_day_of_a_zone_is_left_to_local_datetime() -> None:
    tz = ZoneInfo("America/New_York")
    assert steady_midnight(date(2026, 3, 8), tz) is None and steady_midnight(date(2026, 11, 1), tz) is None
    assert steady_midnight(date(2026, 3, 7), tz) == datetime(2026, 3, 7, 5, tzinfo=UTC)
    assert steady_midnight(date(2026, 3, 9), tz) == datetime(2026, 3, 9, 4, tzinfo=UTC)
    changes = [d for d in (date(2026, 1, 1) + timedelta(days=n) for n in range(365)) if steady_midnight(d, tz) is None]
    assert changes == [date(2026, 3, 8), date(2026, 11, 1)]
