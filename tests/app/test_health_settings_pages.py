"""The Health and Settings pages through AppTest, against the real backend thread and real checks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest
from streamlit.testing.v1 import AppTest

from backend.config import load_settings
from backend.storage import Store
from backend.timeutil import utc_now
from dashboard.runtime import _supervisor
from tests.conftest import wait_for
from tests.integration.test_notify_webhook import TOKEN, Receiver

APP = Path(__file__).resolve().parents[2] / "app.py"
HEALTH, SETTINGS = "views/health.py", "views/settings.py"


def page(path: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def backend(data_dir: Path) -> Any:
    """The Supervisor the app started (the same cached object the pages use)."""
    return _supervisor(str(data_dir), load_settings())


def texts(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "error", "success", "info", "warning")
                     for e in getattr(at, kind))


def button(at: AppTest, label: str, key_start: str | None = None) -> Any:
    found = [b for b in at.button if b.label == label and (key_start is None or str(b.key).startswith(key_start))]
    assert found, f"no button {label!r}; have {[b.label for b in at.button]}"
    return found[0]


@pytest.fixture
def fast_checks(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MONITORING_INTERVAL", "1")
    return data_dir


# ---- Health -----------------------------------------------------------------------------------


def test_health_shows_each_component_with_uptime_and_the_strip(fast_checks: Path) -> None:
    at = page(HEALTH)
    supervisor = backend(fast_checks)
    wait_for(lambda: supervisor.health_samples(supervisor.started_at, utc_now() + timedelta(minutes=1)), 20,
             "a round of checks")
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert {"scheduler", "database", "disk", "memory", "cpu", "events"} <= set(table["Component"])
    disk = table[table["Component"] == "disk"].iloc[0]
    assert disk["Up 24 h"] == "100 %" and "used" in disk["Measured"]  # the figure the check measured
    assert any(m.value.startswith("### Overall: :") for m in at.markdown)
    charts = at.get("vega_lite_chart")
    assert charts, "the status strip chart is missing"
    assert "No open alerts." in texts(at)


def test_an_alert_can_be_acknowledged_and_resolved_from_the_health_page(data_dir: Path) -> None:
    at = page(HEALTH)
    supervisor = backend(data_dir)
    supervisor.raise_alert("events", "unschedulable", "error", "event 'Mars vote': no slot before 23:00")
    at.run()
    assert any("no slot before 23:00" in toast.value for toast in at.toast)  # said once, as a toast
    at.run()
    assert not any("no slot before 23:00" in toast.value for toast in at.toast)
    assert "no slot before 23:00" in texts(at) and ":red[ERROR] · **events**" in texts(at)
    button(at, "Acknowledge").click()
    at.run()
    assert not at.exception, at.exception
    [alert] = supervisor.alerts()
    assert alert["acknowledged"] and "acknowledged" in texts(at)
    button(at, "Resolve").click()
    at.run()
    assert supervisor.alerts() == [] and "No open alerts." in texts(at)
    [kept] = supervisor.book.history()
    assert kept["resolved_by"] == "hand"
    assert "resolved by hand" in at.dataframe[-1].value["Ended"].tolist()


# ---- Settings: notifiers ----------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def add_notifier(at: AppTest, name: str, url: str) -> AppTest:
    [name_box] = [t for t in at.text_input if t.label == "Name"]
    [url_box] = [t for t in at.text_input if t.label == "apprise URL"]
    name_box.input(name)
    url_box.input(url)
    button(at, "Add notifier").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_bad_notifier_url_is_refused_and_nothing_is_saved(data_dir: Path) -> None:
    at = add_notifier(page(SETTINGS), "Ops", f"nonsense-{TOKEN}")
    assert any("Not added" in e.value and "apprise" in e.value for e in at.error)
    assert TOKEN not in texts(at)
    assert not (data_dir / "notifiers.json").exists() and not (data_dir / "notifier_settings.json").exists()


def test_a_notifier_is_added_masked_tested_and_hears_a_real_alert(data_dir: Path, receiver: Receiver) -> None:
    at = add_notifier(page(SETTINGS), "Ops hook", receiver.url(f"hook/{TOKEN}"))
    assert any("Added Ops hook" in s.value for s in at.success)
    assert "Ops hook" in texts(at) and TOKEN not in texts(at)
    assert json.loads((data_dir / "notifiers.json").read_text())["ops-hook"].endswith(TOKEN)
    button(at, "Send test").click()
    at.run()
    assert any("Ops hook" in s.value for s in at.success), texts(at)
    assert "test notification" in receiver.messages()[-1]

    backend(data_dir).raise_alert("store", "corrupt_file", "critical", "state.json was unreadable")
    wait_for(lambda: any("state.json was unreadable" in m for m in receiver.messages()), 10, "the alert's message")
    at.run()
    deliveries = at.dataframe[-1].value
    assert "firing" in deliveries["What"].tolist() and "sent" in deliveries["Result"].tolist()


def test_a_failing_notifier_is_visible_as_an_alert(data_dir: Path, receiver: Receiver) -> None:
    at = add_notifier(page(SETTINGS), "Dead hook", receiver.url())
    receiver.close()  # nobody listens any more
    supervisor = backend(data_dir)
    supervisor.raise_alert("store", "corrupt_file", "critical", "state.json was unreadable")
    alert = wait_for(lambda: next((a for a in supervisor.alerts() if a["component"] == "notify"), None), 20,
                     "the notifier's own alert")
    assert alert["condition"] == "notifier_dead-hook" and "Dead hook failed" in alert["message"]
    at.run()
    assert "FAILED" in at.dataframe[-1].value["Result"].tolist()


# ---- Settings: rules, thresholds, silences, maintenance ---------------------------------------


def test_alert_rules_refuse_bad_input_and_save_good_input(data_dir: Path) -> None:
    at = page(SETTINGS)
    [window] = [n for n in at.number_input if n.label.startswith("Flapping: look at")]
    [changes] = [n for n in at.number_input if n.label.startswith("Flapping: this many")]
    window.set_value(4)
    changes.set_value(6)
    button(at, "Save alert rules").click()
    at.run()
    assert any("Not saved" in e.value and "flap_changes" in e.value for e in at.error)
    assert Store(data_dir).settings.get("alert_rule") is None
    [fail] = [n for n in at.number_input if n.label.startswith("Failed checks")]
    fail.set_value(5)
    [changes] = [n for n in at.number_input if n.label.startswith("Flapping: this many")]
    changes.set_value(3)
    button(at, "Save alert rules").click()
    at.run()
    assert Store(data_dir).settings.get("alert_rule")["fail_threshold"] == 5
    assert backend(data_dir).book.rule.fail_threshold == 5


def test_thresholds_out_of_order_are_refused(data_dir: Path) -> None:
    at = page(SETTINGS)
    [warn] = [n for n in at.number_input if n.label.startswith("Disk: degraded from")]
    warn.set_value(99.0)
    button(at, "Save thresholds").click()
    at.run()
    assert any("disk_warn_percent must not be above disk_crit_percent" in e.value for e in at.error)
    assert Store(data_dir).settings.get("thresholds") is None
    [warn] = [n for n in at.number_input if n.label.startswith("Disk: degraded from")]
    warn.set_value(80.0)
    button(at, "Save thresholds").click()
    at.run()
    assert Store(data_dir).settings.get("thresholds")["disk_warn_percent"] == 80.0
    assert backend(data_dir).thresholds().disk_warn_percent == 80.0


def test_silences_and_maintenance_windows_are_added_listed_and_removed(data_dir: Path) -> None:
    at = page(SETTINGS)
    [component] = [s for s in at.selectbox if s.label == "Component" and s.key is None]
    component.select("disk")
    button(at, "Silence").click()
    at.run()
    assert "Silence** · disk" in texts(at)
    [cron] = [t for t in at.text_input if t.label.startswith("Recurring: cron")]
    cron.input("61 3 * * *")
    button(at, "Add window").click()
    at.run()
    assert any("Not saved" in e.value and "cron" in e.value for e in at.error)
    assert Store(data_dir).maintenance.all() == []
    [cron] = [t for t in at.text_input if t.label.startswith("Recurring: cron")]
    cron.input("30 2 * * 0")
    button(at, "Add window").click()
    at.run()
    assert "`30 2 * * 0` for 60 min" in texts(at)
    assert backend(data_dir).book.held("disk", "check") is not None
    for _ in range(2):
        button(at, "Remove", "hold-").click()
        at.run()
    assert Store(data_dir).silences.all() == [] and Store(data_dir).maintenance.all() == []
    assert "No silence or maintenance window." in texts(at)


def test_api_endpoints_to_watch_are_validated_and_probed(fast_checks: Path, receiver: Receiver) -> None:
    at = page(SETTINGS)
    [box] = [t for t in at.text_area if t.label == "One http(s) URL per line"]
    box.input("ftp://example.org/file")
    button(at, "Save endpoints").click()
    at.run()
    assert any("Not saved" in e.value and "http:// or https://" in e.value for e in at.error)
    assert Store(fast_checks).settings.get("api_urls") is None
    url = f"http://127.0.0.1:{receiver.port}/health"  # the receiver answers a GET with 501
    [box] = [t for t in at.text_area if t.label == "One http(s) URL per line"]
    box.input(url)
    button(at, "Save endpoints").click()
    at.run()
    assert Store(fast_checks).settings.get("api_urls") == [url]
    supervisor = backend(fast_checks)
    wait_for(lambda: "501" in supervisor.latest_messages().get("api", ""), 15, "the API check to probe it")
