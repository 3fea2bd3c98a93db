"""Engagement from measured viewers, and what it says per local weekday and hour: known answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.engagement import (
    SlotStats,
    baseline,
    debate_engagement,
    learn,
    recency_weight,
    scores_in_order,
    to_engagement,
)
from backend.timeutil import UTC

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 29, 12, tzinfo=UTC)


# ---- one debate's score -------------------------------------------------------------------


@pytest.mark.parametrize("peak", [None, 0, 40])
def test_no_measured_average_means_no_score(peak) -> None:
    assert debate_engagement(None, peak, 50.0) is None
    assert debate_engagement(float("nan"), peak, 50.0) is None


@pytest.mark.parametrize(("avg", "peak", "usual", "expected"), [
    (50, 50, 50, 0.7),  # usual audience (reach 0.5), everyone stayed (retention 1)
    (100, 200, 50, 0.8),  # twice the usual audience: full reach 1; half the peak stayed
    (25, 100, 50, 0.25),  # reach 0.25, retention 0.25
    (30, 60, None, 0.5),  # no baseline yet: reach counts as usual (0.5); retention 0.5
    (500, 400, 50, 1.0),  # clamped: reach capped at 2x, an average above the peak counts as 1
    (0, 0, 50, 0.0),  # measured nobody
    (0, 12, None, 0.0),
])
def test_engagement_known_answers(avg, peak, usual, expected) -> None:
    assert debate_engagement(avg, peak, usual) == pytest.approx(expected)


def test_without_a_peak_the_score_is_the_reach_alone() -> None:
    assert debate_engagement(75, None, 50) == pytest.approx(0.75)
    assert debate_engagement(75, None, None) == pytest.approx(0.5)


def test_baseline_needs_three_measured_debates_and_is_their_median() -> None:
    assert baseline([]) is None
    assert baseline([10, 20]) is None
    assert baseline([10, 20, 90]) == 20
    assert baseline([10, None, 20]) is None  # type: ignore[list-item]  # an unknown is not a figure
    assert baseline([0, 0, 0]) is None  # nobody ever watched: nothing to compare against
    assert baseline([1000, 1000, 1000, 10, 20, 30], window=3) == 20  # the latest debates only


def test_scores_in_order_compare_each_debate_with_the_ones_before() -> None:
    scores = scores_in_order([(10, 10), (None, None), (20, 20), (30, 30), (40, 40)])
    assert scores[:4] == [0.7, None, 0.7, 0.7]  # fewer than 3 measured before: neutral reach
    assert scores[4] == pytest.approx(0.6 * (40 / 20) / 2 + 0.4)  # baseline median(10, 20, 30) = 20


# ---- learning per slot ----------------------------------------------------------------------


def record(start: datetime, score: float | None) -> dict:
    return {"start_time": start.isoformat(), "engagement_score": score, "debate_id": "d"}


def test_slots_are_local_weekday_and_hour_of_the_start() -> None:
    sunday_night = datetime(2026, 1, 4, 23, 30, tzinfo=UTC)  # Sunday 23:30 UTC = Monday 00:30 CET
    assert sunday_night.weekday() == 6
    stats = learn([record(sunday_night, 0.5)], BERLIN, NOW)
    assert list(stats) == [(0, 0)]
    summer = datetime(2026, 7, 5, 23, 30, tzinfo=UTC)  # CEST: Monday 01:30
    assert list(learn([record(summer, 0.5)], BERLIN, NOW)) == [(0, 1)]


def test_recent_debates_weigh_more_with_a_half_life() -> None:
    start = NOW - timedelta(hours=1)
    assert recency_weight(0) == 1.0 and recency_weight(28) == 0.5 and recency_weight(-3) == 1.0
    records = [record(start, 1.0), record(start - timedelta(days=28), 0.0)]
    slot = learn(records, ZoneInfo("UTC"), start)[(start.weekday(), start.hour)]
    assert slot.weight == pytest.approx(1.5)
    assert slot.score == pytest.approx(1.0 / 1.5)  # weights 1 and 0.5
    short = learn(records, ZoneInfo("UTC"), start, half_life_days=7)[(start.weekday(), start.hour)]
    assert short.score == pytest.approx(1.0 / (1 + 0.5 ** 4))


def test_unmeasured_debates_count_as_tried_but_do_not_score() -> None:
    monday_nine = datetime(2026, 6, 22, 9, tzinfo=UTC)
    records = [record(monday_nine - timedelta(days=7), 0.6), record(monday_nine, None),
               {"start_time": (monday_nine + timedelta(hours=3)).isoformat()}, {"engagement_score": 1.0}]
    stats = learn(records, ZoneInfo("UTC"), NOW)
    nine = stats[(0, 9)]
    assert (nine.debates, nine.measured, nine.last_tried) == (2, 1, monday_nine)
    assert nine.score == pytest.approx(0.6)
    noon = stats[(0, 12)]
    assert (noon.debates, noon.measured, noon.score, noon.weight) == (1, 0, None, 0.0)
    assert to_engagement(stats) == {(0, 9): pytest.approx(0.6)}  # only slots with a score
    assert len(stats) == 2  # the record without a start time is skipped


def test_learn_is_pure_and_checks_its_half_life() -> None:
    records = [record(NOW - timedelta(days=1), 0.4)]
    assert learn(records, BERLIN, NOW) == learn(list(records), BERLIN, NOW)
    assert isinstance(next(iter(learn(records, BERLIN, NOW).values())), SlotStats)
    with pytest.raises(ValueError, match="half_life_days"):
        learn(records, BERLIN, NOW, half_life_days=0)
