"""The dashboard's pages, driven through streamlit.testing.v1.AppTest against a real backend thread.

Every test starts app.py (st.navigation) on a fresh data directory with AI_COUNCIL_TURN_SECONDS=0,
so debates finish in well under a second; what the backend wrote is read back from the store.
The page files live in views/, not pages/: a folder named pages/ switches Streamlit into its
older multipage mode whenever app.py has not run yet (a deep link as the first request, or every
AppTest run after the first), which skipped app.py's page config and sidebar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import pytest
from streamlit.testing.v1 import AppTest

if TYPE_CHECKING:
    from conftest import StoreReader  # tests/app/conftest.py

APP = Path(__file__).resolve().parents[2] / "app.py"

SCHEDULE = "views/schedule.py"
OVERVIEW = "views/overview.py"
RUN_NOW_OK = "Debate started (or queued after the one on air)."
SETTINGS_OK = "Settings saved; upcoming planned debates re-planned."


def by_label(widgets: Sequence[Any], label: str) -> Any:
    matches = [w for w in widgets if w.label == label]
    assert len(matches) == 1, f"expected one widget labelled {label!r}, found {[w.label for w in widgets]}"
    return matches[0]


def submit(at: AppTest, label: str) -> AppTest:
    """Click a form's submit button and run the script (st.rerun after success included)."""
    by_label(at.button, label).click()
    at.run()
    assert not at.exception, at.exception
    return at


def open_schedule(at: AppTest) -> AppTest:
    at.switch_page(SCHEDULE).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Schedule"]
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def successes(at: AppTest) -> list[str]:
    return [s.value for s in at.success]


# ---- rendering ----------------------------------------------------------------------------------


def test_overview_renders_title_next_debate_countdown_and_empty_results(app: AppTest) -> None:
    assert [t.value for t in app.title] == ["AI Council Automation"]
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Next debate", "Completed", "Failed", "Success rate"}
    # a fresh data directory plans its first debate two minutes ahead: a countdown, not "none planned"
    assert metrics["Next debate"].startswith("in "), metrics["Next debate"]
    assert metrics["Completed"] == "0" and metrics["Failed"] == "0"
    assert any(c.value.startswith("Next: **") for c in app.caption)
    assert any("No debate has finished yet." == c.value for c in app.caption)


def test_app_py_starts_the_backend_as_owner_and_says_so_in_the_sidebar_on_every_page(data_dir: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["AI Council Automation"]
    for _ in range(2):  # the first run, then a page switch: app.py routes both
        sidebar = [c.value for c in at.sidebar.caption]
        assert len(sidebar) == 2 and "Backend running in this process" in sidebar[0], sidebar
        assert f"`{data_dir.name}/`" in sidebar[0]
        assert "No login is configured, so this dashboard listens on this machine only" in sidebar[1]
        at.switch_page(SCHEDULE).run()
    assert [t.value for t in at.title] == ["Schedule"]


def test_both_pages_render_without_exceptions_and_can_switch_back(app: AppTest) -> None:
    open_schedule(app)
    assert {f.proto.form.form_id for f in app.form} == {"cancel", "run_now", "add", "event", "settings"}
    assert not errors(app)
    app.switch_page(OVERVIEW).run()
    assert not app.exception, app.exception
    assert [t.value for t in app.title] == ["AI Council Automation"]


def test_overview_recent_results_lists_a_debate_run_from_the_schedule_page(
        app: AppTest, stored: StoreReader) -> None:
    topic = "Overview test: lighthouses should be automated"
    open_schedule(app)
    app.text_input(key="run_topic").input(topic)
    submit(app, "Run now")
    stored.wait_for(topic=topic, status="completed")

    app.switch_page(OVERVIEW).run()
    assert not app.exception, app.exception
    assert len(app.dataframe) == 1
    recent = app.dataframe[0].value
    row = recent[recent["Topic"] == topic]
    assert len(row) == 1, recent
    assert row.iloc[0]["Status"] == "completed"
    assert {m.label: m.value for m in app.metric}["Completed"] == "1"


# ---- Schedule: run now, add, event, cancel ------------------------------------------------------


def test_run_now_with_a_topic_shows_success_and_the_debate_is_stored(app: AppTest, stored: StoreReader) -> None:
    topic = "Run-now test: tea is better than coffee"
    open_schedule(app)
    app.text_input(key="run_topic").input(topic)
    submit(app, "Run now")
    assert successes(app) == [RUN_NOW_OK]
    assert not errors(app)
    debate = stored.wait_for(topic=topic)
    assert debate["source"] == "manual" and debate["reason"] == "run now"
    assert len(stored.find(topic=topic)) == 1  # the st.rerun after success did not submit again


@pytest.mark.parametrize("bad_topic, message", [
    ("     ", "topic must be non-empty text"),
    ("x" * 400, "topic must be at most 300 characters, got 400"),
], ids=["only-spaces", "400-chars"])
def test_add_a_debate_with_a_bad_topic_shows_an_error_naming_topic_and_adds_nothing(
        app: AppTest, stored: StoreReader, bad_topic: str, message: str) -> None:
    open_schedule(app)
    before = sorted(d["debate_id"] for d in stored.debates())
    app.text_input(key="add_topic").input(bad_topic)
    submit(app, "Add")
    assert len(errors(app)) == 1 and message in errors(app)[0], errors(app)
    assert not successes(app)
    assert sorted(d["debate_id"] for d in stored.debates()) == before


def test_trigger_a_high_urgency_event_shows_success_and_schedules_an_event_debate(
        app: AppTest, stored: StoreReader) -> None:
    topic = "Event test: a comet was sighted over the harbour"
    open_schedule(app)
    app.text_input(key="event_topic").input(topic)
    by_label(app.radio, "Urgency").set_value("high")
    submit(app, "Trigger")
    assert successes(app) == ["Event accepted."]
    assert not errors(app)
    debate = stored.wait_for(topic=topic)
    assert debate["source"] == "event" and debate["urgency"] == "high"
    assert len(stored.find(topic=topic)) == 1
    assert "next free moment" in debate["reason"]


def test_repeating_a_recent_event_topic_warns_that_it_was_ignored_and_adds_nothing(
        app: AppTest, stored: StoreReader) -> None:
    topic = "Event test: the river burst its banks"
    open_schedule(app)
    for _ in range(2):
        app.text_input(key="event_topic").input(topic)
        submit(app, "Trigger")
    assert [w.value for w in app.warning] == ["Event ignored: this topic ran or is planned within 24 h."], (
        stored.find(topic=topic))
    assert len(stored.find(topic=topic)) == 1


def test_cancel_form_cancels_the_chosen_planned_debate(app: AppTest, stored: StoreReader) -> None:
    open_schedule(app)
    pending = sorted(stored.find(status="pending"), key=lambda d: d["scheduled_time"])
    assert len(pending) >= 2
    target = pending[1]  # not the first: pick a specific one, not the select box's default
    chooser = by_label(app.selectbox, "Debate")
    labels_before = list(chooser.options)  # "When · Topic", in due-time order like `pending`
    target_label = labels_before[1]
    assert target_label.endswith(f" · {target['topic']}"), (target_label, target["topic"])
    chooser.set_value(target["debate_id"])
    submit(app, "Cancel this debate")
    assert successes(app) == ["Cancelled."]
    after = {d["debate_id"]: d["status"] for d in stored.debates()}
    assert after[target["debate_id"]] == "cancelled"
    assert after[pending[0]["debate_id"]] == "pending"
    # the cancelled debate left the Upcoming choices; the others stayed
    labels_after = list(by_label(app.selectbox, "Debate").options)
    assert target_label not in labels_after
    assert labels_after == [label for label in labels_before if label != target_label]


# ---- Schedule: settings form --------------------------------------------------------------------


def _set_settings_and_save(at: AppTest, **fields: Any) -> AppTest:
    for label, value in fields.items():
        widgets = {"Strategy": at.selectbox, "Quiet hours": at.checkbox}.get(label)
        if widgets is None:
            widgets = at.number_input if isinstance(value, int) else at.text_input
        by_label(widgets, label).set_value(value)
    return submit(at, "Save settings")


@pytest.mark.parametrize("fields, message", [
    ({"Strategy": "cron", "Cron expression (cron strategy)": "every hour please"},
     "cron_expression must be five fields"),
    ({"Interval (minutes)": 0}, "interval_minutes must be a whole number 1-10080"),
    ({"Quiet hours": True, "Quiet from (hour)": 25}, "quiet_hours_start must be a whole number 0-23"),
    ({"Quiet hours": True, "Quiet until (hour)": 25}, "quiet_hours_end must be a whole number 0-23"),
    ({"Time zone (IANA, empty: this machine's)": "Mars/Base"},
     "timezone must be an IANA zone name such as 'Europe/Berlin' or 'UTC', got 'Mars/Base'"),
], ids=["bad-cron", "interval-0", "quiet-start-25", "quiet-end-25", "unknown-timezone"])
def test_settings_form_rejects_a_bad_value_with_its_field_and_range_and_keeps_the_config(
        app: AppTest, stored: StoreReader, fields: dict[str, Any], message: str) -> None:
    open_schedule(app)
    before = stored.config()
    assert before is not None
    _set_settings_and_save(app, **fields)
    assert len(errors(app)) == 1 and message in errors(app)[0], errors(app)
    assert not successes(app)
    assert stored.config() == before


def test_settings_form_saves_a_valid_interval_and_shows_success(app: AppTest, stored: StoreReader) -> None:
    open_schedule(app)
    assert stored.config()["interval_minutes"] == 60
    _set_settings_and_save(app, **{"Interval (minutes)": 30})
    assert successes(app) == [SETTINGS_OK]
    assert not errors(app)
    config = stored.config()
    assert config["interval_minutes"] == 30
    assert config["timezone"] == "UTC" and config["schedule_type"] == "interval"
    # the form now shows the saved value
    assert by_label(app.number_input, "Interval (minutes)").value == 30
