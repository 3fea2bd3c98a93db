"""The Analytics page's view models: periods, downsampling, the heatmap."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend.planning import HourChoice
from backend.timeutil import UTC, resolve_zone
from dashboard.analytics_views import MAX_POINTS, debates_per_day, figure, heatmap, period, system_lines

BERLIN = resolve_zone("Europe/Berlin")
NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_periods_and_custom_ranges():
    assert period("7 d", None, NOW, BERLIN) == (7, NOW)
    days, end = period("Custom", (date(2026, 6, 10), date(2026, 6, 1)), NOW, BERLIN)
    assert days == 10 and end == datetime(2026, 6, 10, 23, 59, 59, tzinfo=BERLIN)
    assert period("Custom", (date(2026, 6, 14), date(2026, 6, 20)), NOW, BERLIN)[1] == NOW  # not in the future
    with pytest.raises(ValueError, match="first and the last day"):
        period("Custom", (date(2026, 6, 1),), NOW, BERLIN)


def test_unknown_figures_are_dashes_not_zeros():
    assert figure(None) == "—" and figure(0) == "0" and figure(1234.5, " kbps", 1) == "1,234.5 kbps"


def test_a_year_of_hours_is_downsampled_before_drawing():
    hourly = [{"ts": (NOW - timedelta(hours=h)).isoformat(), "cpu_percent": 20.0 + h % 10} for h in range(8760)]
    lines = system_lines(hourly, BERLIN, ["cpu_percent"])
    assert len(lines) <= MAX_POINTS and set(lines["measure"]) == {"CPU"}
    assert 20 <= lines["value"].min() and lines["value"].max() <= 29.5


def test_debates_per_day_leaves_out_empty_outcomes():
    frame = debates_per_day({"debates_per_day": [{"date": "2026-06-14", "debates": 3, "completed": 2, "failed": 1,
                                                  "interrupted": 0}]})
    assert frame.to_dict("records") == [{"day": "2026-06-14", "outcome": "completed", "debates": 2},
                                        {"day": "2026-06-14", "outcome": "failed", "debates": 1}]


def test_the_heatmap_marks_what_adaptive_picked_and_why():
    grid = heatmap([{"weekday": 0, "hour": 20, "debates": 4, "avg_engagement": 0.9}],
                   {0: [HourChoice(20, "best", "20:00 scored 0.90", 0.9, 4)]})
    assert len(grid) == 7 * 24
    cell = grid[(grid["weekday"] == "Mon") & (grid["hour"] == 20)].iloc[0]
    assert cell["engagement"] == 0.9 and cell["pick"] == "best" and cell["why"] == "20:00 scored 0.90"
    assert grid[(grid["weekday"] == "Tue") & (grid["hour"] == 20)].iloc[0]["pick"] == ""
