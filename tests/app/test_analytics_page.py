"""The Analytics page through AppTest: empty, a year of history, filters, periods, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.bench_analytics import build
from backend.timeutil import utc_now

APP = Path(__file__).resolve().parents[2] / "app.py"
ANALYTICS = "views/analytics.py"


def page(data_dir: Path) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page(ANALYTICS).run()
    assert not at.exception, at.exception
    return at


def debates_in(days: int) -> int:
    """The builder's debates (one at HH:05 every hour) in the last ``days`` UTC days up to now."""
    now = utc_now()
    return (days - 1) * 24 + now.hour + (1 if now.minute >= 5 else 0)


def metric(at: AppTest, label: str) -> str:
    [found] = [m for m in at.metric if m.label == label]
    return found.value


def test_an_empty_history_shows_unknowns_not_zeros_or_errors(data_dir: Path) -> None:
    at = page(data_dir)
    assert metric(at, "Debates") == "0" and metric(at, "Peak viewers") == "—" and metric(at, "Engagement") == "—"
    assert any("Viewer counts are unknown" in i.value for i in at.info)


@pytest.fixture
def year(data_dir: Path) -> Path:
    build(data_dir, 365, utc_now())
    return data_dir


def test_a_year_of_history_renders_every_section_and_the_filters_work(year: Path) -> None:
    at = page(year)
    assert metric(at, "Debates") == str(debates_in(7))
    assert metric(at, "Peak viewers") != "—" and metric(at, "Completion rate").endswith("%")
    assert any("youtube" == row for row in at.dataframe[0].value["Platform"].tolist())
    assert len(at.get("vega_lite_chart")) >= 4
    assert any("health" in m.value for m in at.markdown if m.value.startswith("**Insights**"))
    [platform] = [s for s in at.selectbox if s.label == "Platform"]
    platform.select("twitch").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value["Platform"].tolist() == ["twitch"]
    at.session_state["period"] = "30 d"
    at.run()
    assert not at.exception, at.exception
    assert metric(at, "Debates") == str(debates_in(30))


def test_reports_download_as_json_csv_and_self_contained_html(year: Path) -> None:
    at = page(year)
    [days] = [n for n in at.number_input if n.label == "Days in the report"]
    days.set_value(30)
    [prepare] = [b for b in at.button if b.label == "Prepare the report"]
    prepare.click().run()
    assert not at.exception, at.exception
    files = at.session_state["report_files"]
    names = sorted(files)
    assert sorted(name.rsplit(".", 1)[1] for name in names) == ["csv", "csv", "csv", "html", "json"]
    report = json.loads(files[next(n for n in names if n.endswith(".json"))])
    assert report["debates"]["total_debates"] > 600 and len(report["debate_rows"]) == report["debates"]["total_debates"]
    html = files[next(n for n in names if n.endswith(".html"))].decode()
    assert "<svg" in html and "<script" not in html and "http://" not in html.split("<svg", 1)[0]
