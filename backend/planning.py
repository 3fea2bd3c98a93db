"""When debates run: pure decisions from (config, what is already taken, now).

Nothing here reads the clock, the store or a thread. Times are aware datetimes; the local time
that quiet hours, daily caps and adaptive hours speak of is the config's IANA zone, so DST is the
zone database's business: interval slots are spaced in absolute time, cron and adaptive slots
follow the local wall clock (a wall time that a spring-forward day skips moves forward by the gap;
one that exists twice on a fall-back day runs once, at its first).
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Iterable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from cronsim import CronSim

from .models import ScheduleConfig, ScheduleType
from .timeutil import UTC, ensure_utc, resolve_zone

# Engagement learned per (weekday 0=Monday, hour) -> score; the analytics issue fills it.
Engagement = Mapping[tuple[int, int], float]
INTERVAL_EPOCH = date(2000, 1, 1)


@dataclass(frozen=True)
class Slot:
    """A planned start: when, which strategy chose it, and why, in words."""

    time: datetime
    source: str
    reason: str


# ---- local wall-clock helpers -------------------------------------------------------------


def local_datetime(day: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    """The instant a local wall clock shows ``day hour:minute``.

    PEP 495's fold=0 gives the first of two instants on a fall-back day, and moves a wall time
    that a spring-forward day skips forward by the length of the gap (02:30 -> 03:30).
    """
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=zone, fold=0).astimezone(UTC)


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def next_local_midnight(moment: datetime, zone: ZoneInfo) -> datetime:
    return local_datetime(local_day(moment, zone) + timedelta(days=1), 0, zone)


# ---- quiet hours --------------------------------------------------------------------------


def in_quiet_hours(moment: datetime, config: ScheduleConfig, zone: ZoneInfo) -> bool:
    return is_quiet_hour(moment.astimezone(zone).hour, config)


def is_quiet_hour(hour: int, config: ScheduleConfig) -> bool:
    """Quiet hours are [start, end) in local hours and may wrap midnight (22 -> 6)."""
    if not config.has_quiet_hours:
        return False
    start, end = config.quiet_hours_start, config.quiet_hours_end
    assert start is not None and end is not None
    return start <= hour < end if start < end else hour >= start or hour < end


def quiet_hours_end_after(moment: datetime, config: ScheduleConfig, zone: ZoneInfo) -> datetime:
    """The first instant at or after ``moment`` that is outside quiet hours."""
    if not in_quiet_hours(moment, config, zone):
        return moment
    assert config.quiet_hours_end is not None
    day = local_day(moment, zone)
    for offset in (0, 1):
        candidate = local_datetime(day + timedelta(days=offset), config.quiet_hours_end, zone)
        if candidate > moment and not in_quiet_hours(candidate, config, zone):
            return candidate
    raise AssertionError("quiet hours always end within a day")


# ---- candidate times per strategy ---------------------------------------------------------


def interval_candidates(config: ScheduleConfig, zone: ZoneInfo, start: datetime) -> Iterator[Slot]:
    """Every ``interval_minutes`` in absolute time from the anchor.

    The anchor is ``start_date`` or else a fixed local midnight, so that planning again later
    lands on the same grid (a 60-minute interval runs on the hour).
    """
    step = timedelta(minutes=config.interval_minutes)
    anchor = config.start_date or local_datetime(INTERVAL_EPOCH, 0, zone)
    moment = anchor if anchor >= start else anchor + step * -((anchor - start) // step)
    reason = f"every {config.interval_minutes} min"
    while True:
        yield Slot(moment, "interval", reason)
        moment += step


def cron_candidates(config: ScheduleConfig, zone: ZoneInfo, start: datetime) -> Iterator[Slot]:
    """Times matching ``cron_expression`` on the local wall clock.

    cronsim parses the expression and finds each matching day; the day's times are its hours x
    minutes, placed on the wall clock with the same DST rule as every other strategy. One cronsim
    step per matching day instead of one per match: a year of a half-hourly cron plans in ms.
    """
    assert config.cron_expression
    parsed = CronSim(config.cron_expression, datetime(2000, 1, 1))
    times_of_day = sorted(itertools.product(parsed.hours, parsed.minutes))
    reason = f"cron '{config.cron_expression}'"
    day, last = local_day(start, zone), start - timedelta(microseconds=1)
    while True:
        # CronSim yields times strictly after its start: begin a second before the day.
        day = next(CronSim(config.cron_expression, datetime.combine(day, time.min) - timedelta(seconds=1))).date()
        for hour, minute in times_of_day:
            moment = local_datetime(day, hour, zone, minute)
            if moment > last:  # skips the past and a wall time shifted onto a later one (DST)
                last = moment
                yield Slot(moment, "cron", reason)
        day += timedelta(days=1)


def adaptive_hours(
    engagement: Engagement | None, prior: Sequence[int], weekday: int, slots: int | None = None
) -> list[tuple[int, str]]:
    """The hours to use on ``weekday``, each with its reason.

    Until analytics supplies engagement for that weekday, this is the prior (the seed's
    9/12/15/18/21). With engagement, the best-scoring hours win, as many as the prior has.
    """
    count = slots or len(prior)
    scores = {hour: score for (day, hour), score in (engagement or {}).items() if day == weekday}
    if not scores:
        return [(hour, f"{hour:02d}:00 is a prior peak hour (no engagement data yet)") for hour in prior]
    best = sorted(scores, key=lambda hour: (-scores[hour], hour))[:count]
    return [(hour, f"{hour:02d}:00 scored {scores[hour]:.2f} engagement") for hour in sorted(best)]


def adaptive_candidates(
    config: ScheduleConfig, zone: ZoneInfo, start: datetime, engagement: Engagement | None = None
) -> Iterator[Slot]:
    day = local_day(start, zone)
    while True:
        for hour, reason in adaptive_hours(engagement, config.adaptive_hours, day.weekday()):
            moment = local_datetime(day, hour, zone)
            if moment >= start:
                yield Slot(moment, "adaptive", reason)
        day += timedelta(days=1)


def candidates(
    config: ScheduleConfig, zone: ZoneInfo, start: datetime, engagement: Engagement | None = None
) -> Iterator[Slot]:
    """The strategy's own times from ``start`` on, before any constraint; none for EVENT_DRIVEN."""
    if config.schedule_type is ScheduleType.INTERVAL:
        return interval_candidates(config, zone, start)
    if config.schedule_type is ScheduleType.CRON:
        return cron_candidates(config, zone, start)
    if config.schedule_type is ScheduleType.ADAPTIVE:
        return adaptive_candidates(config, zone, start, engagement)
    return iter(())


# ---- constraints --------------------------------------------------------------------------


class Occupancy:
    """The starts already taken, answering the two constraint questions quickly (bisect, counts)."""

    def __init__(self, taken: Iterable[datetime], zone: ZoneInfo) -> None:
        self.zone = zone
        self.times = sorted(ensure_utc(moment) for moment in taken)
        self.per_day = Counter(local_day(moment, zone) for moment in self.times)

    def day_count(self, moment: datetime) -> int:
        return self.per_day[local_day(moment, self.zone)]

    def conflict(self, moment: datetime, gap: timedelta) -> datetime | None:
        """The latest taken start closer than ``gap`` to ``moment``, if any."""
        if gap <= timedelta(0):
            return None
        high = bisect.bisect_left(self.times, moment + gap)
        if high and self.times[high - 1] > moment - gap:
            return self.times[high - 1]
        return None

    def add(self, moment: datetime) -> None:
        bisect.insort(self.times, moment)
        self.per_day[local_day(moment, self.zone)] += 1


def fits(moment: datetime, config: ScheduleConfig, occupied: Occupancy) -> bool:
    local = moment.astimezone(occupied.zone)
    return (
        not is_quiet_hour(local.hour, config)
        and occupied.per_day[local.date()] < config.max_debates_per_day
        and occupied.conflict(moment, timedelta(minutes=config.min_interval_minutes)) is None
    )


def plan_slots(
    config: ScheduleConfig,
    taken: Iterable[datetime],
    start: datetime,
    end: datetime,
    engagement: Engagement | None = None,
) -> list[Slot]:
    """The strategy's slots in [start, end) that respect quiet hours, the daily cap and the gap."""
    zone = resolve_zone(config.timezone)
    start, end = ensure_utc(start), ensure_utc(end)
    occupied = Occupancy(taken, zone)
    planned: list[Slot] = []
    for slot in candidates(config, zone, start, engagement):
        if slot.time >= end:
            break
        if fits(slot.time, config, occupied):
            occupied.add(slot.time)
            planned.append(slot)
    return planned


def next_free_time(
    config: ScheduleConfig, taken: Iterable[datetime], after: datetime, horizon_days: int = 8
) -> datetime | None:
    """The earliest instant at or after ``after`` that fits every constraint (urgent events)."""
    zone = resolve_zone(config.timezone)
    occupied = Occupancy(taken, zone)
    gap = timedelta(minutes=config.min_interval_minutes)
    moment, limit = ensure_utc(after), ensure_utc(after) + timedelta(days=horizon_days)
    while moment < limit:
        if in_quiet_hours(moment, config, zone):
            moment = quiet_hours_end_after(moment, config, zone)
        elif occupied.day_count(moment) >= config.max_debates_per_day:
            moment = next_local_midnight(moment, zone)
        elif (clash := occupied.conflict(moment, gap)) is not None:
            moment = clash + gap
        else:
            return moment
    return None


def next_good_slot(
    config: ScheduleConfig,
    taken: Iterable[datetime],
    after: datetime,
    engagement: Engagement | None = None,
    horizon_days: int = 8,
) -> Slot | None:
    """The next engagement-chosen (adaptive) hour that fits every constraint (normal events)."""
    zone = resolve_zone(config.timezone)
    occupied = Occupancy(taken, zone)
    limit = ensure_utc(after) + timedelta(days=horizon_days)
    for slot in adaptive_candidates(config, zone, ensure_utc(after), engagement):
        if slot.time >= limit:
            return None
        if fits(slot.time, config, occupied):
            return slot
    return None


# ---- running late, retrying ---------------------------------------------------------------


def misfire_action(due: datetime, now: datetime, grace_seconds: int) -> str:
    """'wait' before its time, 'run' when due (late within grace), 'missed' beyond the grace window."""
    if now < due:
        return "wait"
    return "run" if (now - due).total_seconds() <= grace_seconds else "missed"


def retry_delay(attempt: int, base_seconds: float, cap_seconds: float = 3600.0) -> float:
    """Exponential backoff: base, 2*base, 4*base ... capped. ``attempt`` counts failures so far (1+)."""
    return min(cap_seconds, base_seconds * 2 ** max(0, attempt - 1))
