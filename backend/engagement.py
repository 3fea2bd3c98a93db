"""How well a debate held its audience, and what that says about each hour of the week.

Pure functions, nothing read from the clock or the store. A debate's engagement is a score in
0-1 computed from measured viewer figures only: without them it is ``None``, never a guess.
``learn`` turns the debate-metrics records into per-slot statistics (local weekday and hour of
the start), recency-weighted, which ``planning`` uses for the ADAPTIVE strategy. The formula, the
baseline and the weighting are explained with an example in ``docs/engagement.md``.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from .timeutil import ensure_utc

REACH_WEIGHT = 0.6
RETENTION_WEIGHT = 0.4
REACH_CAP = 2.0  # twice the channel's usual audience or more is full reach
NEUTRAL_REACH = 0.5  # no baseline yet: reach counts as usual (neither good nor bad)
MIN_BASELINE_DEBATES = 3
BASELINE_WINDOW = 30  # the channel's usual audience: its latest 30 measured debates
HALF_LIFE_DAYS = 28.0


def _number(value: Any) -> float | None:
    """A finite real number, or None (bool, None, NaN and text are not figures)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def baseline(previous_avgs: Sequence[float], window: int = BASELINE_WINDOW) -> float | None:
    """The channel's usual audience: the median average-viewer count of its previous debates.

    Oldest first; only the latest ``window`` count. None with fewer than 3 measured debates,
    or when their median is 0 (nobody watched, so there is nothing to compare against).
    """
    values = [v for v in (_number(x) for x in previous_avgs) if v is not None and v >= 0][-window:]
    if len(values) < MIN_BASELINE_DEBATES:
        return None
    median = statistics.median(values)
    return median if median > 0 else None


def debate_engagement(
    viewer_avg: float | None, viewer_peak: int | None, baseline_avg: float | None
) -> float | None:
    """0.6 * reach + 0.4 * retention, in 0-1; None without a measured average viewer count.

    reach = min(avg / baseline, 2) / 2 (0.5 when there is no baseline yet); retention = avg / peak
    (the share of the peak audience that stayed on average). A measured average of 0 scores 0.
    Without a peak, retention is unknown and the score is the reach alone.
    """
    avg, peak, usual = _number(viewer_avg), _number(viewer_peak), _number(baseline_avg)
    if avg is None:
        return None
    avg = max(0.0, avg)
    if avg == 0:
        return 0.0
    reach = min(avg / usual, REACH_CAP) / REACH_CAP if usual is not None and usual > 0 else NEUTRAL_REACH
    if peak is None or peak <= 0:
        return _clamp(reach)
    retention = min(1.0, avg / peak)
    return _clamp(REACH_WEIGHT * reach + RETENTION_WEIGHT * retention)


def _clamp(score: float) -> float:
    return round(min(1.0, max(0.0, score)), 4)


def scores_in_order(figures: Iterable[tuple[float | None, int | None]]) -> list[float | None]:
    """Each debate's engagement from its (avg, peak), oldest first, against the baseline before it."""
    seen: list[float] = []
    scores: list[float | None] = []
    for avg, peak in figures:
        scores.append(debate_engagement(avg, peak, baseline(seen)))
        if (value := _number(avg)) is not None:
            seen.append(value)
    return scores


# ---- learning per slot of the week ----------------------------------------------------------


@dataclass(frozen=True)
class SlotStats:
    """What the records say about one local (weekday 0=Monday, hour) of the week.

    ``debates`` counts every debate that started in the slot; ``measured`` those with an
    engagement score; ``score`` is their recency-weighted mean (None when none was measured) and
    ``weight`` the sum of their recency weights (1 for a debate today, 0.5 one half-life ago).
    """

    weekday: int
    hour: int
    debates: int
    measured: int
    score: float | None
    weight: float
    last_tried: datetime


def recency_weight(age_days: float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """Exponential decay: 1 now, 0.5 one half-life ago; a future start counts as now."""
    return 0.5 ** (max(0.0, age_days) / half_life_days)


def _start(record: Mapping[str, Any]) -> datetime | None:
    value = record.get("start_time")
    if isinstance(value, datetime):
        return ensure_utc(value)
    if isinstance(value, str) and value:
        return ensure_utc(datetime.fromisoformat(value))
    return None


def learn(
    records: Iterable[Mapping[str, Any]], zone: ZoneInfo, now: datetime,
    half_life_days: float = HALF_LIFE_DAYS,
) -> dict[tuple[int, int], SlotStats]:
    """Per local (weekday, hour) of ``start_time`` in ``zone``: debates, measured, weighted score.

    Records are debate metrics (``start_time`` ISO UTC, ``engagement_score`` or None). One with no
    score counts as tried but does not score; one with no start time is skipped.
    """
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be more than 0, got {half_life_days!r}")
    now = ensure_utc(now)
    tried: dict[tuple[int, int], list[datetime]] = {}
    scored: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for record in records:
        start = _start(record)
        if start is None:
            continue
        local = start.astimezone(zone)
        key = (local.weekday(), local.hour)
        tried.setdefault(key, []).append(start)
        score = _number(record.get("engagement_score"))
        if score is not None:
            age = (now - start).total_seconds() / 86400
            scored.setdefault(key, []).append((recency_weight(age, half_life_days), min(1.0, max(0.0, score))))
    stats = {}
    for key, starts in tried.items():
        pairs = scored.get(key, [])
        weight = sum(w for w, _ in pairs)
        mean = sum(w * s for w, s in pairs) / weight if weight > 0 else None
        stats[key] = SlotStats(key[0], key[1], len(starts), len(pairs), mean, weight, max(starts))
    return stats


def to_engagement(stats: Mapping[tuple[int, int], SlotStats]) -> dict[tuple[int, int], float]:
    """The plain per-slot scores (``planning.Engagement``): only slots with a measured score."""
    return {key: s.score for key, s in stats.items() if s.score is not None}
