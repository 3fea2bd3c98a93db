"""Notifiers: URL masking and validation, settings, the pure rate limit, the severity filter."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from backend.alerting import AlertRule, Notification, alert_transition, initial_state
from backend.errors import ConfigError, StoreError
from backend.health import AlertSeverity, CheckResult, HealthStatus
from backend.notify import (
    Delivery,
    NotifierConfig,
    Notifiers,
    RateLimit,
    RateState,
    Timeouts,
    _instantiate,
    admit,
    hears,
    held_back_line,
    mask_in_detail,
    mask_url,
    notice_title,
    owed_summary,
    validate_url,
)
from backend.timeutil import UTC

TOKEN = "Zq7SECRETtoken9"  # distinctive: must never be shown
SECRET_URLS = {
    "slack": f"slack://T1{TOKEN}/B2{TOKEN}/C3{TOKEN}/#alerts",
    "discord": f"discord://123456789/{TOKEN}",
    "tgram": f"tgram://123456789:{TOKEN}/12345",
    "json password": f"json://ops:{TOKEN}@hooks.example.com:8080/alerts",
    "json path": f"json://hooks.example.com/alerts/{TOKEN}",
    "json header": f"json://hooks.example.com/alerts?+X-Token={TOKEN}&-apikey={TOKEN}",
    "mailto": f"mailto://ops:{TOKEN}@gmail.com",
}
HOOK = "json://127.0.0.1:9/hook"
NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)


def firing(component: str = "scheduler", status: HealthStatus = HealthStatus.UNHEALTHY) -> Notification:
    rule = AlertRule(fail_threshold=1)
    _, notes = alert_transition(initial_state(component, "stalled"), CheckResult(status, "no tick for 90 s"),
                                NOW, rule)
    assert [n.kind for n in notes] == ["firing"]
    return notes[0]


def resolved(note: Notification) -> Notification:
    _, notes = alert_transition(note.alert, CheckResult(HealthStatus.HEALTHY, "ticking"),
                                NOW + timedelta(minutes=5), AlertRule(fail_threshold=1))
    assert [n.kind for n in notes] == ["resolved"]
    return notes[0]


# --- masking and validation ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SECRET_URLS))
def test_masked_urls_hide_the_secret_token(kind: str) -> None:
    url = SECRET_URLS[kind]
    shown = mask_url(url)
    assert TOKEN not in shown and TOKEN.lower() not in shown.lower()
    assert shown.split("://")[0] in {url.split("://")[0], "mailtos"}
    assert validate_url(url) == shown


def test_masked_urls_keep_what_identifies_the_receiver() -> None:
    assert mask_url(SECRET_URLS["json password"]).startswith("json://ops:****@hooks.example.com:8080/")
    assert "@gmail.com" in mask_url(SECRET_URLS["mailto"])


def test_a_url_apprise_does_not_know_is_masked_whole() -> None:
    assert mask_url(f"bogus://{TOKEN}/x") == "bogus://****"
    assert mask_url(TOKEN) == "****"


@pytest.mark.parametrize("url", [f"bogus://{TOKEN}/x", f"http://example.com/{TOKEN}", f"slack://{TOKEN}",
                                 f"discord://{TOKEN}", TOKEN, f"json://:{TOKEN}@"])
def test_validation_errors_say_the_valid_form_without_quoting_the_url(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_url(url)
    message = str(caught.value)
    assert "not a notification URL apprise understands" in message and "json://host/path" in message
    assert TOKEN not in message and url not in message


@pytest.mark.parametrize("url, fragment", [("", "empty"), ("   ", "empty"), (f"json://host/{TOKEN}\nx", "one line"),
                                           ("json://host/" + "a" * 3000, "at most"), (42, "must be text")])
def test_validation_refuses_other_bad_input(url: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment) as caught:
        validate_url(url)
    assert TOKEN not in str(caught.value)


def test_apprise_does_not_log_a_refused_url(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigError):
        validate_url(f"slack://{TOKEN}")
    with pytest.raises(ConfigError):
        validate_url(f"bogus://{TOKEN}")
    assert TOKEN not in caplog.text


def test_apprise_log_lines_have_their_urls_masked(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("apprise").warning("JSON POST URL: %s (cert_verify=True)", f"http://host/{TOKEN}")
    assert TOKEN not in caplog.text and "http://****" in caplog.text


def test_a_failure_reason_has_every_secret_part_of_the_url_masked() -> None:
    url = f"json://ops:{TOKEN}@127.0.0.1:8080/hook/{TOKEN}x?+X-Token=Hdr{TOKEN}"
    reason = (f"POST to http://127.0.0.1:8080/hook/{TOKEN}x failed; token {TOKEN} refused; "
              f"sent {url}; encoded {TOKEN.replace('S', '%53')}")
    masked = mask_in_detail(reason, url)
    assert TOKEN not in masked and "127.0.0.1" not in masked.split("http")[0]
    assert "failed" in masked and "refused" in masked
    assert "127.0.0.1" in mask_in_detail("a connection error occurred sending to 127.0.0.1", url)


def test_timeouts_are_capped_even_when_the_url_asks_for_more() -> None:
    plugin = _instantiate("json://127.0.0.1:9/hook?cto=60&rto=60", Timeouts(2, 4, 8))
    assert plugin is not None
    assert (plugin.socket_connect_timeout, plugin.socket_read_timeout) == (2, 4)
    shorter = _instantiate("json://127.0.0.1:9/hook?cto=1&rto=1", Timeouts(2, 4, 8))
    assert shorter is not None and (shorter.socket_connect_timeout, shorter.socket_read_timeout) == (1, 1)
    mail = _instantiate("mailto://ops:pw@gmail.com", Timeouts())
    assert mail is not None and mail.socket_connect_timeout <= 3
    with pytest.raises(ConfigError, match="read_seconds"):
        Timeouts(read_seconds=0)


# --- settings -----------------------------------------------------------------------------------


def test_config_validates_and_round_trips() -> None:
    config = NotifierConfig("ops-slack", "  Ops on Slack ", min_severity="Error")  # type: ignore[arg-type]
    assert config.name == "Ops on Slack" and config.min_severity is AlertSeverity.ERROR and config.enabled
    assert NotifierConfig.from_doc(config.to_doc()) == config
    assert json.loads(json.dumps(config.to_doc())) == config.to_doc()
    for bad, fragment in [({"notifier_id": "Ops Slack"}, "notifier_id"), ({"notifier_id": ""}, "notifier_id"),
                          ({"name": ""}, "name"), ({"name": "x" * 61}, "name"), ({"name": "a\nb"}, "name"),
                          ({"enabled": "yes"}, "enabled"), ({"min_severity": "loud"}, "info, warning, error")]:
        with pytest.raises(ConfigError, match=fragment):
            NotifierConfig.from_doc({**config.to_doc(), **bad})


def test_from_doc_names_the_valid_fields() -> None:
    with pytest.raises(ConfigError) as caught:
        NotifierConfig.from_doc({"notifier_id": "ops", "name": "Ops", "url": HOOK})
    assert "['url']" in str(caught.value)
    assert "valid: ['enabled', 'min_severity', 'name', 'notifier_id']" in str(caught.value)
    assert HOOK not in str(caught.value)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_configs_round_trip_with_the_urls_kept_apart(tmp_path: Path) -> None:
    notifiers = Notifiers(tmp_path / "data")
    assert notifiers.configs() == [] and notifiers.masked_url("ops") is None
    slack = NotifierConfig("ops", "Ops on Slack")
    hook = NotifierConfig("hook", "Webhook", enabled=False, min_severity=AlertSeverity.CRITICAL)
    notifiers.save(slack, SECRET_URLS["slack"])
    notifiers.save(hook, f" {SECRET_URLS['json path']} ")
    again = Notifiers(tmp_path / "data")
    assert again.configs() == [slack, hook]
    assert again.urls.get("hook") == SECRET_URLS["json path"]
    assert again.masked_url("ops") == mask_url(SECRET_URLS["slack"])
    settings = (tmp_path / "data" / "notifier_settings.json").read_text()
    assert TOKEN not in settings
    assert mode_of(tmp_path / "data" / "notifiers.json") == 0o600
    renamed = NotifierConfig("ops", "Ops channel", min_severity=AlertSeverity.INFO)
    again.save(renamed)  # no URL: the stored one stays
    assert Notifiers(tmp_path / "data").configs() == [renamed, hook]
    assert again.urls.get("ops") == SECRET_URLS["slack"]
    assert again.remove("ops") is True and again.remove("ops") is False
    assert again.configs() == [hook] and again.masked_url("ops") is None
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        "notifier_settings.json", "notifiers.json", "notifiers.json.lock"]  # the lock: empty, across processes


def test_save_with_a_bad_url_changes_nothing(tmp_path: Path) -> None:
    notifiers = Notifiers(tmp_path)
    notifiers.save(NotifierConfig("ops", "Ops"), HOOK)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ConfigError) as caught:
        notifiers.save(NotifierConfig("ops", "Renamed"), f"bogus://{TOKEN}")
    assert TOKEN not in str(caught.value)
    with pytest.raises(ConfigError, match="no URL yet"):
        notifiers.save(NotifierConfig("new", "New one"))
    with pytest.raises(ConfigError):
        notifiers.save({"notifier_id": "x", "name": "x"}, HOOK)  # type: ignore[arg-type]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(ConfigError, match="notifier_id"):
        notifiers.urls.set("Bad Id", HOOK)
    with pytest.raises(ConfigError, match="apprise"):
        notifiers.urls.set("ops", f"bogus://{TOKEN}")


def test_a_corrupt_settings_file_is_a_store_error_and_a_bad_entry_is_skipped(tmp_path: Path) -> None:
    notifiers = Notifiers(tmp_path)
    notifiers.settings_path.write_text("[1, 2")
    with pytest.raises(StoreError, match="notifier_settings.json"):
        notifiers.configs()
    notifiers.settings_path.write_text(json.dumps({"notifiers": [{"notifier_id": "ok", "name": "Fine"},
                                                                 {"notifier_id": "bad", "colour": "red"}]}))
    assert [c.notifier_id for c in notifiers.configs()] == ["ok"]
    with pytest.raises(ConfigError, match="known: \\['ok'\\]"):
        notifiers.send_test("missing")


def test_send_and_close_never_raise_without_notifiers(tmp_path: Path) -> None:
    notifiers = Notifiers(tmp_path)
    notifiers.send(firing())
    notifiers.close()
    notifiers.close()
    notifiers.send(firing())  # after close: dropped and logged


def test_a_delivery_without_a_url_is_a_failed_delivery(tmp_path: Path) -> None:
    seen: list[Delivery] = []
    notifiers = Notifiers(tmp_path, clock=lambda: NOW, on_delivery=seen.append)
    notifiers.save(NotifierConfig("ops", "Ops"), HOOK)
    notifiers.urls.delete("ops")
    delivery = notifiers.send_test("ops")
    assert not delivery.ok and "no URL" in delivery.detail and delivery.when == NOW and seen == [delivery]
    assert delivery.to_doc()["when"] == NOW.isoformat()


# --- who hears what -----------------------------------------------------------------------------


def test_severity_filter_compares_the_alert_severity_for_resolved_notices_too() -> None:
    error, warning = firing(), firing(status=HealthStatus.DEGRADED)
    assert error.alert.severity is AlertSeverity.ERROR and warning.alert.severity is AlertSeverity.WARNING
    default = NotifierConfig("ops", "Ops")
    strict = NotifierConfig("pager", "Pager", min_severity=AlertSeverity.ERROR)
    assert hears(default, warning) and hears(default, error) and hears(default, resolved(warning))
    assert hears(strict, error) and hears(strict, resolved(error))
    assert not hears(strict, warning) and not hears(strict, resolved(warning))
    assert not hears(NotifierConfig("off", "Off", enabled=False), error)


def test_titles_name_the_severity_and_the_component() -> None:
    note = firing()
    assert notice_title(note) == "[ERROR] scheduler"
    assert notice_title(resolved(note)) == "[RESOLVED] scheduler"


# --- the rate limit -----------------------------------------------------------------------------


def test_rate_limit_holds_back_and_counts_then_tells_the_count() -> None:
    limit = RateLimit(max_messages=3, window_seconds=60)
    state = RateState()
    outcomes = []
    for i in range(7):
        state, held = admit(state, limit, NOW + timedelta(seconds=i), f"a{i}")
        outcomes.append(held)
    assert outcomes == [0, 0, 0, None, None, None, None]
    assert state.held == 4 and state.held_alerts == ("a3", "a4", "a5", "a6")
    state, held = admit(state, limit, NOW + timedelta(seconds=59), "late")
    assert held is None and state.held == 5
    # The first message leaves the window 60 s after it went out: one slot opens.
    state, held = admit(state, limit, NOW + timedelta(seconds=60), "next")
    assert held == 5 and state.held == 0
    state, held = admit(state, limit, NOW + timedelta(seconds=60.5), "again")
    assert held is None and state.held == 1  # the messages of 1 s, 2 s and 60 s fill the window
    state, held = admit(state, limit, NOW + timedelta(seconds=61), "then")
    assert held == 1


def test_resolved_notices_of_alerts_never_announced_are_dropped_uncounted() -> None:
    limit = RateLimit(max_messages=1, window_seconds=60)
    state, _ = admit(RateState(), limit, NOW, "told")
    state, held = admit(state, limit, NOW, "untold")
    assert held is None and state.held == 1 and state.held_alerts == ("untold",)
    later = NOW + timedelta(seconds=61)
    state, held = admit(state, limit, later, "untold", "resolved")
    assert held is None and state.held == 1 and state.held_alerts == ()
    state, held = admit(state, limit, later, "told", "resolved")
    assert held == 1  # the summary rides on the next message


def test_an_alert_announced_by_a_later_notice_gets_its_resolved_notice() -> None:
    limit = RateLimit(max_messages=1, window_seconds=60)
    state, _ = admit(RateState(), limit, NOW, "other")
    state, _ = admit(state, limit, NOW, "a", "firing")
    state, held = admit(state, limit, NOW + timedelta(seconds=61), "a", "escalated")
    assert held == 1 and state.held_alerts == ()
    state, held = admit(state, limit, NOW + timedelta(seconds=122), "a", "resolved")
    assert held == 0


def test_a_summary_is_owed_once_the_window_allows_it() -> None:
    limit = RateLimit(max_messages=1, window_seconds=60)
    state, _ = admit(RateState(), limit, NOW, "a")
    assert owed_summary(state, limit, NOW) == (state, 0)  # nothing held
    state, _ = admit(state, limit, NOW, "b")
    assert owed_summary(state, limit, NOW + timedelta(seconds=30)) == (state, 0)  # not yet
    after, held = owed_summary(state, limit, NOW + timedelta(seconds=60))
    assert held == 1 and after.held == 0 and len(after.sent) == 1
    assert held_back_line(1) == "(1 more alert was held back by the rate limit)"
    assert held_back_line(15) == "(15 more alerts were held back by the rate limit)"


def test_rate_limit_settings_are_checked() -> None:
    assert RateLimit() == RateLimit(5, 300)
    for bad in [{"max_messages": 0}, {"max_messages": True}, {"window_seconds": 0},
                {"window_seconds": float("nan")}]:
        with pytest.raises(ConfigError):
            RateLimit(**bad)  # type: ignore[arg-type]
