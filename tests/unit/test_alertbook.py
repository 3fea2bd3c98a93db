"""The AlertBook: rules applied, alerts kept, restarts remembered, holds and reminders honoured."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.alertbook import MAX_NOTICES, AlertBook
from backend.alerting import AlertRule, MaintenanceWindow, Silence
from backend.health import AlertSeverity, CheckResult, HealthStatus
from backend.storage import Store

BAD = CheckResult(HealthStatus.UNHEALTHY, "disk 96.0 % used (threshold 90 %)", 96.0, "%")
GOOD = CheckResult(HealthStatus.HEALTHY, "disk 40.0 % used", 40.0, "%")
CRIT = CheckResult(HealthStatus.CRITICAL, "disk 99.5 % used (threshold 98 %)", 99.5, "%")


@pytest.fixture
def book(clock):
    return AlertBook(Store(None), clock=clock, rule=AlertRule(fail_threshold=3, reminder_seconds=600))


def run(book, clock, result, times=1, component="disk"):
    said = []
    for _ in range(times):
        said += book.observe(component, "check", result)
        clock.advance(seconds=60)
    return said


def test_fires_after_n_failures_once_and_resolves_with_a_notice(book, clock):
    assert run(book, clock, BAD, 2) == []
    assert book.open_alerts() == []  # pending is not an alert yet
    said = run(book, clock, BAD, 5)
    assert [n.kind for n in said] == ["firing"]
    [alert] = book.open_alerts()
    assert alert["count"] == 7 and alert["severity"] == "error" and "96.0 %" in alert["message"]
    said = run(book, clock, GOOD)
    assert [n.kind for n in said] == ["resolved"]
    assert book.open_alerts() == []
    [kept] = book.history()
    assert kept["resolved"] and kept["resolved_by"] == "auto" and kept["resolved_at"]


def test_pending_that_clears_leaves_no_alert_and_no_writes(book, clock):
    run(book, clock, BAD, 2)
    run(book, clock, GOOD, 3)
    assert book.history() == [] and book.store.notices.all() == []


def test_a_restart_remembers_a_firing_alert_and_does_not_announce_it_again(tmp_path, clock):
    first = AlertBook(Store(tmp_path), clock=clock, rule=AlertRule(fail_threshold=2))
    assert [n.kind for n in run(first, clock, BAD, 2)] == ["firing"]
    again = AlertBook(Store(tmp_path), clock=clock, rule=AlertRule(fail_threshold=2))
    assert run(again, clock, BAD, 3) == []  # already told
    assert [n.kind for n in run(again, clock, GOOD)] == ["resolved"]
    assert len(again.history()) == 1


def test_events_fire_at_once_count_up_and_resolve_when_quiet(book, clock):
    said = book.raise_event("supervisor", "job_flush", "error", "job flush failed: OSError")
    assert [n.kind for n in said] == ["firing"]
    clock.advance(minutes=5)
    assert book.raise_event("supervisor", "job_flush", "error", "job flush failed again") == []
    [alert] = book.open_alerts()
    assert alert["count"] == 2 and alert["source"] == "event"
    clock.advance(minutes=29)
    assert book.sweep() == []
    clock.advance(minutes=2)
    assert [n.kind for n in book.sweep()] == ["resolved"]
    assert book.open_alerts() == []


def test_clear_event_resolves_and_is_free_when_nothing_is_open(book, clock):
    assert book.clear_event("supervisor", "job_flush", "ran") == []
    book.raise_event("supervisor", "job_flush", AlertSeverity.ERROR, "failed")
    assert [n.kind for n in book.clear_event("supervisor", "job_flush", "job flush ran again")] == ["resolved"]


def test_reminders_for_unacknowledged_critical_alerts_come_from_the_sweep(book, clock):
    book.raise_event("store", "corrupt_file", "critical", "state.json was unreadable")
    clock.advance(minutes=9)
    assert book.sweep() == []
    clock.advance(minutes=2)
    assert [n.kind for n in book.sweep()] == ["reminder"]
    assert book.acknowledge(book.open_alerts()[0]["alert_id"])
    clock.advance(minutes=11)
    assert book.sweep() == []
    assert book.open_alerts()[0]["acknowledged"]


def test_silence_holds_notices_and_the_notice_follows_when_it_lifts(book, clock):
    book.add_silence(Silence("disk", None, clock.now, clock.now + timedelta(minutes=10), "moving disks"))
    assert run(book, clock, BAD, 4) == []
    assert book.open_alerts()  # the alert is open, only its notice is held
    assert book.held("disk", "check").startswith("silenced until")
    clock.advance(minutes=7)
    assert [n.kind for n in book.sweep()] == ["firing"]
    assert book.held("disk", "check") is None


def test_maintenance_windows_hold_and_can_be_removed(book, clock):
    window_id = book.add_maintenance(MaintenanceWindow(component="disk", cron="0 8 * * *", duration_seconds=3600))
    assert run(book, clock, BAD, 4) == []  # 08:00-08:04, inside the window
    assert book.held("disk", "check") == "in a maintenance window"
    assert book.remove_hold(window_id) and not book.remove_hold(window_id)
    assert [n.kind for n in book.sweep()] == ["firing"]


def test_resolve_by_hand_and_unknown_ids(book, clock):
    run(book, clock, BAD, 3)
    alert_id = book.open_alerts()[0]["alert_id"]
    assert not book.resolve("disk:check:nope")
    assert book.resolve(alert_id)
    assert not book.resolve(alert_id)
    [kept] = book.history()
    assert kept["resolved_by"] == "hand"
    said = run(book, clock, BAD, 3)  # still failing: a new alert, from scratch
    assert [n.kind for n in said] == ["firing"]
    assert len(book.history()) == 2 and len({doc["alert_id"] for doc in book.history()}) == 2


def test_escalation_is_said_and_the_worst_severity_kept(book, clock):
    run(book, clock, BAD, 3)
    said = run(book, clock, CRIT)
    assert [n.kind for n in said] == ["escalated"] and "was ERROR" in said[0].text
    assert book.open_alerts()[0]["severity"] == "critical"


def test_notices_are_capped_and_read_after_a_time(book, clock):
    for index in range(MAX_NOTICES + 5):
        book.raise_event("events", f"bad_{index}", "warning", "unschedulable")
        clock.advance(seconds=1)
    notices = book.notices()
    assert len(notices) == MAX_NOTICES and notices[-1]["text"].startswith("[WARNING] events")
    assert book.notices(since=notices[-2]["ts"]) == [notices[-1]]


def test_history_is_pruned_by_age(book, clock):
    book.raise_event("events", "x", "warning", "w")
    book.clear_event("events", "x", "fine")
    clock.advance(days=91)
    assert book.prune(clock.now) == 1 and book.history() == []


def test_on_notice_failure_does_not_stop_the_book(book, clock):
    def boom(note):
        raise RuntimeError("notifier down")

    book.on_notice = boom
    assert [n.kind for n in book.raise_event("events", "x", "error", "e")] == ["firing"]
    assert book.open_alerts()
