"""Access control through AppTest: a password guards the controls; public viewing is read-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
PASSWORD = "Tr0ub4dor&3-dashboard"


def run(path: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    if path:
        at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def log_in(at: AppTest, password: str) -> AppTest:
    [box] = [t for t in at.sidebar.text_input if t.label == "Password"]
    box.input(password)
    [button] = [b for b in at.sidebar.button if b.label == "Log in"]
    button.click().run()
    assert not at.exception, at.exception
    return at


def labels(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def test_with_a_password_nothing_shows_before_logging_in(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_COUNCIL_PASSWORD", PASSWORD)
    at = run()
    assert [i.value for i in at.info] == ["Log in (sidebar) to see the dashboard."]
    log_in(at, "not it")
    assert [e.value for e in at.sidebar.error] == ["Wrong password."]
    assert PASSWORD not in repr(at.sidebar) and "not it" not in repr([e.value for e in at.sidebar.error])
    log_in(at, PASSWORD)
    assert [t.value for t in at.title] == ["AI Council Automation"]
    assert "Log in (sidebar) to see the dashboard." not in [i.value for i in at.info]
    at.switch_page("views/schedule.py").run()
    assert "Run now" in labels(at)


def test_public_view_is_read_only_until_logged_in(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_COUNCIL_PASSWORD", PASSWORD)
    monkeypatch.setenv("AI_COUNCIL_PUBLIC_VIEW", "on")
    at = run("views/schedule.py")
    assert [t.value for t in at.title] == ["Schedule"]
    assert "Run now" not in labels(at) and "Save settings" not in labels(at)
    assert any("Log in (sidebar) to change this." in c.value for c in at.caption)
    at.switch_page("views/settings.py").run()
    assert [i.value for i in at.info] == ["Log in (sidebar) to change this."] and not at.main.text_input
    at.switch_page("views/streams.py").run()
    assert "Save destination" not in labels(at)
    log_in(at, PASSWORD)
    at.switch_page("views/schedule.py").run()
    assert "Run now" in labels(at)


def test_without_any_login_the_controls_work_only_on_a_local_address(data_dir: Path) -> None:
    at = run("views/schedule.py")
    assert "Run now" in labels(at)
    assert any("listens on this machine only" in c.value for c in at.sidebar.caption)
