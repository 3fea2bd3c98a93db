"""When debates run: pure decisions from (config, what is already taken, now).

Nothing here reads the clock, the store or a thread. Times are aware datetimes; the local time
that quiet hours, daily caps and adaptive hours speak of is the config's IANA zone, so DST is the
zone database's business: interval slots are spaced in absolute time, cron and adaptive slots
follow the local wall clock (a wall time that a spring-forward day skips moves forward by the gap;
one that exists twice on a fall-back day runs once, at its first).
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable, Iterable, Iterator, Mapping, Sequence, cast
from zoneinfo import ZoneInfo

from cronsim import CronSim

from .engagement import SlotStats
from .models import ScheduleConfig, ScheduleType
from .timeutil import UTC, ensure_utc, resolve_zone

# Engagement per local (weekday 0=Monday, hour): plain scores, or what ``engagement.learn`` learned
# from the debate metrics (counts, recency-weighted score, last tried), which also lets the
# ADAPTIVE strategy wait for enough data and explore. Planning accepts either.
Scores = Mapping[tuple[int, int], float]
Learned = Mapping[tuple[int, int], SlotStats]
Engagement = Scores | Learned
INTERVAL_EPOCH = date(2000, 1, 1)
MIN_DEBATES_TO_LEARN = 3  # measured debates on a weekday before its hours are learned, not the prior
EXPLORE_SHARE = 0.2  # of a learned day's slots, at least this share explores (at least 1 of 2+)
POOL_WEIGHT = 1.0  # the other weekdays' score at an hour counts as (at most) one debate of this one
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Slot:
    """A planned start: when, which strategy chose it, and why, in words."""

    time: datetime
    source: str
    reason: str


@dataclass(frozen=True)
class HourChoice:
    """One hour the ADAPTIVE strategy uses on a weekday, and why.

    ``kind`` is "prior" (not enough data), "best" (scored among the best) or "explore" (kept for
    learning); ``score`` is the estimate it was chosen on (an explored hour's own score, if any)
    and ``measured`` the debates measured at that hour on that weekday.
    """

    hour: int
    kind: str
    reason: str
    score: float | None
    measured: int


# ---- local wall-clock helpers -------------------------------------------------------------


def local_datetime(day: date, hour: int, zone: ZoneInfo, minute: int = 0) -> datetime:
    """The instant a local wall clock shows ``day hour:minute``.

    PEP 495's fold=0 gives the first of two instants on a fall-back day, and moves a wall time
    that a spring-forward day skips forward by the length of the gap (02:30 -> 03:30).
    """
    return datetime.combine(day, time(hour, minute)).replace(tzinfo=zone, fold=0).astimezone(UTC)


def steady_midnight(day: date, zone: ZoneInfo) -> datetime | None:
    """The instant of the day's local midnight when the clock does not change that day (all but a
    couple of days a year), so that any time of the day is that plus its hours and minutes; None
    on a day with a change (then ``local_datetime`` places each time)."""
    midnight = datetime.combine(day, time.min)
    offset = midnight.replace(tzinfo=zone).utcoffset()
    following = datetime.combine(day + timedelta(days=1), time.min).replace(tzinfo=zone).utcoffset()
    if offset is None or following != offset:
        return None
    return midnight.replace(tzinfo=UTC) - offset


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
    after_midnight = [timedelta(hours=hour, minutes=minute) for hour, minute in times_of_day]
    reason = f"cron '{config.cron_expression}'"
    day, last = local_day(start, zone), start - timedelta(microseconds=1)
    while True:
        # CronSim yields times strictly after its start: begin a second before the day.
        day = next(CronSim(config.cron_expression, datetime.combine(day, time.min) - timedelta(seconds=1))).date()
        midnight = steady_midnight(day, zone)
        moments = ([local_datetime(day, hour, zone, minute) for hour, minute in times_of_day] if midnight is None
                   else [midnight + delta for delta in after_midnight])
        for moment in moments:
            if moment > last:  # skips the past and a wall time shifted onto a later one (DST)
                last = moment
                yield Slot(moment, "cron", reason)
        day += timedelta(days=1)


# ---- adaptive: prior, learned best hours, exploration (docs/engagement.md) --------------------


def _learned(engagement: Engagement | None) -> Learned | None:
    """The learned statistics when that is what was passed (None counts as none learned yet)."""
    if engagement is None:
        return {}
    if all(isinstance(value, SlotStats) for value in engagement.values()):
        return cast(Learned, engagement)
    return None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def explore_count(slots: int, share: float = EXPLORE_SHARE) -> int:
    """Slots of a learned day that explore: at least ``share`` of them, at least 1 of 2 or more."""
    if slots < 2 or share <= 0:
        return 0
    return min(slots - 1, max(1, math.ceil(slots * share - 1e-9)))


@dataclass(frozen=True)
class _Estimate:
    value: float
    own: float | None  # this weekday's recency-weighted mean
    own_measured: int
    others: float | None  # the other weekdays' mean at this hour
    others_measured: int


def _estimates(stats: Learned, weekday: int) -> dict[int, _Estimate]:
    """Per hour: this weekday's own score, shrunk towards the other weekdays' score at that hour.

    est = (own weight * own + k * others) / (own weight + k), k = min(POOL_WEIGHT, others' weight):
    with little data of its own a weekday leans on the same hour on other days; its own measured
    debates soon outweigh them (recency weights as ``engagement.learn`` gives them).
    """
    estimates = {}
    for hour in range(24):
        own = stats.get((weekday, hour))
        own_w = own.weight if own is not None and own.score is not None else 0.0
        rest = [s for (day, h), s in stats.items() if h == hour and day != weekday and s.score is not None]
        rest_w = sum(s.weight for s in rest)
        others = sum(s.weight * (s.score or 0.0) for s in rest) / rest_w if rest_w > 0 else None
        k = min(POOL_WEIGHT, rest_w) if others is not None else 0.0
        if own_w + k <= 0:
            continue
        own_score = own.score if own is not None else None
        value = ((own_w * own_score if own_score is not None else 0.0) + k * (others or 0.0)) / (own_w + k)
        estimates[hour] = _Estimate(value, own_score, own.measured if own is not None else 0, others,
                                    sum(s.measured for s in rest))
    return estimates


def _best_reason(hour: int, est: _Estimate, day: str) -> str:
    head = f"{hour:02d}:00 scored {est.value:.2f} engagement"
    if est.own is None:
        return (f"{head} on other days ({_plural(est.others_measured, 'debate')} measured there; "
                f"not yet measured on {day}s)")
    own = f"{_plural(est.own_measured, 'debate')} measured on {day}s"
    if est.others is None:
        return f"{head} ({own})"
    return f"{head} ({est.own:.2f} over {own}, {est.others:.2f} over {est.others_measured} on other days)"


def _choose(
    stats: Learned, prior: Sequence[int], weekday: int, slots: int, quiet: Callable[[int], bool],
    gap_minutes: int, share: float,
) -> list[HourChoice]:
    """The learned choice for one weekday; see ``explain_adaptive``."""
    day = WEEKDAYS[weekday]
    own = {hour: s for (d, hour), s in stats.items() if d == weekday}
    measured = sum(s.measured for s in own.values())
    if measured < MIN_DEBATES_TO_LEARN:
        why = (f"not enough engagement data yet: {_plural(measured, 'debate')} measured on {day}s, "
               f"{MIN_DEBATES_TO_LEARN} needed")
        return [HourChoice(hour, "prior", f"{hour:02d}:00 is a prior peak hour ({why})", None, 0) for hour in prior]
    explore = explore_count(slots, share)
    estimates = _estimates(stats, weekday)
    usable = [hour for hour in range(24) if not quiet(hour)]
    chosen: list[HourChoice] = []

    def clear(hour: int) -> bool:
        return all(hour != c.hour and abs(hour - c.hour) * 60 >= max(1, gap_minutes) for c in chosen)

    for hour in sorted((h for h in usable if h in estimates), key=lambda h: (-estimates[h].value, h)):
        if len(chosen) >= slots - explore:
            break
        if clear(hour):
            est = estimates[hour]
            chosen.append(HourChoice(hour, "best", _best_reason(hour, est, day), est.value, est.own_measured))
    for hour in prior:  # fewer scored hours than slots: the prior fills in
        if len(chosen) < slots - explore and hour in usable and clear(hour):
            chosen.append(HourChoice(hour, "prior", f"{hour:02d}:00 is a prior peak hour (not measured on {day}s yet)",
                                     None, 0))

    def order(hour: int) -> tuple[int, datetime, int, int, int]:
        mine = own.get(hour)
        everywhere = sum(s.measured for (_, h), s in stats.items() if h == hour)
        return (mine.measured if mine else 0, mine.last_tried if mine else _NEVER, everywhere,
                min(abs(hour - p) for p in prior), hour)

    explored: list[int] = []
    for hour in sorted(usable, key=order):
        if len(chosen) + len(explored) >= slots:
            break
        if clear(hour) and all(abs(hour - e) * 60 >= max(1, gap_minutes) for e in explored):
            explored.append(hour)
    for hour in explored:
        mine = own.get(hour)
        tried = f"last tried {mine.last_tried:%Y-%m-%d}" if mine else "never tried"
        reason = (f"{hour:02d}:00 explores an hour with {_plural(mine.measured if mine else 0, 'debate')} "
                  f"measured on {day}s ({tried}; {len(explored)} of {slots} slots explore)")
        chosen.append(HourChoice(hour, "explore", reason, mine.score if mine else None, mine.measured if mine else 0))
    return sorted(chosen, key=lambda c: c.hour)


def explain_adaptive(
    engagement: Engagement | None, config: ScheduleConfig, weekday: int, share: float = EXPLORE_SHARE
) -> list[HourChoice]:
    """The hours the ADAPTIVE strategy uses on ``weekday``, each with its kind, reason and score.

    What planning uses and what the Schedule and Analytics pages show. With learned
    ``SlotStats`` (or None): the prior (``config.adaptive_hours``) until the weekday has
    ``MIN_DEBATES_TO_LEARN`` measured debates; then, of ``min(len(prior), max_debates_per_day)``
    slots, ``explore_count`` explore and the rest go to the best-scoring hours. Quiet hours are
    never chosen and chosen hours keep ``min_interval_minutes`` apart, so that the constraint
    filter (which still applies) does not drop an exploration slot. Exploration takes the hour
    least measured on this weekday, then least recently tried there, then least measured on any
    day, then nearest to a prior hour, then earliest. With plain scores: ``adaptive_hours``.
    """
    learned = _learned(engagement)
    if learned is None:
        scores = cast(Scores, engagement)
        return [HourChoice(hour, "best" if (weekday, hour) in scores else "prior", reason,
                           scores.get((weekday, hour)), 0)
                for hour, reason in adaptive_hours(scores, config.adaptive_hours, weekday)]
    slots = min(len(config.adaptive_hours), config.max_debates_per_day)
    return _choose(learned, config.adaptive_hours, weekday, slots, lambda hour: is_quiet_hour(hour, config),
                   config.min_interval_minutes, share)


def adaptive_hours(
    engagement: Engagement | None, prior: Sequence[int], weekday: int, slots: int | None = None
) -> list[tuple[int, str]]:
    """The hours to use on ``weekday``, each with its reason.

    Plain scores (``Scores``): the prior until that weekday has any, then the best-scoring hours,
    as many as the prior has. Learned ``SlotStats``: as ``explain_adaptive``, without a config
    (no quiet hours or gap known here; ``slots`` or as many as the prior has).
    """
    count = slots or len(prior)
    learned = _learned(engagement) if engagement else None
    if learned:
        return [(c.hour, c.reason) for c in _choose(learned, prior, weekday, count, lambda hour: False, 0,
                                                    EXPLORE_SHARE)]
    plain = cast(Scores, engagement or {})
    scores = {hour: float(score) for (day, hour), score in plain.items() if day == weekday}
    if not scores:
        return [(hour, f"{hour:02d}:00 is a prior peak hour (no engagement data yet)") for hour in prior]
    best = sorted(scores, key=lambda hour: (-scores[hour], hour))[:count]
    return [(hour, f"{hour:02d}:00 scored {scores[hour]:.2f} engagement") for hour in sorted(best)]


def adaptive_candidates(
    config: ScheduleConfig, zone: ZoneInfo, start: datetime, engagement: Engagement | None = None,
    explore: bool = True,
) -> Iterator[Slot]:
    """Each day's adaptive hours on the local wall clock; ``explore=False`` leaves exploration out."""
    day = local_day(start, zone)
    by_weekday: dict[int, list[HourChoice]] = {}
    while True:
        weekday = day.weekday()
        if weekday not in by_weekday:
            by_weekday[weekday] = explain_adaptive(engagement, config, weekday)
        for choice in by_weekday[weekday]:
            if choice.kind == "explore" and not explore:
                continue
            moment = local_datetime(day, choice.hour, zone)
            if moment >= start:
                yield Slot(moment, "adaptive", choice.reason)
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

    def add(self, moment: datetime, day: date | None = None) -> None:
        bisect.insort(self.times, moment)
        self.per_day[local_day(moment, self.zone) if day is None else day] += 1

    def take_if_fits(self, moment: datetime, config: ScheduleConfig) -> bool:
        """``fits`` then ``add``, with the local time worked out once (planning a year calls it a lot)."""
        local = moment.astimezone(self.zone)
        if not _fits_local(moment, local, config, self):
            return False
        self.add(moment, local.date())
        return True


def _fits_local(moment: datetime, local: datetime, config: ScheduleConfig, occupied: Occupancy) -> bool:
    return (
        not is_quiet_hour(local.hour, config)
        and occupied.per_day[local.date()] < config.max_debates_per_day
        and occupied.conflict(moment, _minutes(config.min_interval_minutes)) is None
    )


@functools.lru_cache(maxsize=64)
def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def fits(moment: datetime, config: ScheduleConfig, occupied: Occupancy) -> bool:
    return _fits_local(moment, moment.astimezone(occupied.zone), config, occupied)


def plan_slots(
    config: ScheduleConfig,
    taken: Iterable[datetime],
    start: datetime,
    end: datetime,
    engagement: Engagement | None = None,
) -> list[Slot]:
    """The strategy's slots in [start, end) that respect quiet hours, the daily cap and the gap.

    ADAPTIVE also keeps each local day to as many debates as that day has adaptive hours, counting
    the starts already taken that day: when what was learned changes between two plannings that
    overlap a day, the day gets the new hours in place of the old, not in addition to them.
    """
    zone = resolve_zone(config.timezone)
    start, end = ensure_utc(start), ensure_utc(end)
    occupied = Occupancy(taken, zone)
    planned: list[Slot] = []
    per_weekday: dict[int, int] = {}
    adaptive = config.schedule_type is ScheduleType.ADAPTIVE
    for slot in candidates(config, zone, start, engagement):
        if slot.time >= end:
            break
        if adaptive:
            weekday = local_day(slot.time, zone).weekday()
            if weekday not in per_weekday:
                per_weekday[weekday] = len(explain_adaptive(engagement, config, weekday))
            if occupied.day_count(slot.time) >= per_weekday[weekday]:
                continue
        if occupied.take_if_fits(slot.time, config):
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
    """The next engagement-chosen (adaptive) hour that fits every constraint (normal events).

    Exploration hours are left out: an event goes to an hour known to be good (or the prior).
    """
    zone = resolve_zone(config.timezone)
    occupied = Occupancy(taken, zone)
    limit = ensure_utc(after) + timedelta(days=horizon_days)
    for slot in adaptive_candidates(config, zone, ensure_utc(after), engagement, explore=False):
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
