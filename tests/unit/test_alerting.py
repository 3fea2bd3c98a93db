"""Pure alert rules: pending/firing/resolved, flapping, silences, maintenance, reminders — no clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.alerting import (
    AlertRule,
    AlertState,
    MaintenanceWindow,
    Notification,
    Silence,
    acknowledge,
    alert_transition,
    flap_count,
    initial_state,
    resolve_manually,
)
from backend.errors import ConfigError
from backend.health import AlertSeverity, CheckResult, HealthStatus
from backend.timeutil import UTC

H, D, U, C, X = (HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY, HealthStatus.CRITICAL,
                 HealthStatus.UNKNOWN)
T0 = datetime(2026, 6, 15, 14, 2, tzinfo=UTC)
DISK_FULL = "96.2 % used on /data (threshold 90 %)"


def result(status: HealthStatus, message: str = DISK_FULL) -> CheckResult:
    return CheckResult(status=status, message=message)


def run(
    statuses: Sequence[HealthStatus], rule: AlertRule, *, state: AlertState | None = None,
    start: datetime = T0, step: timedelta = timedelta(minutes=1), silences: Sequence[Silence] = (),
    maintenance: Sequence[MaintenanceWindow] = (),
) -> tuple[list[AlertState], list[list[Notification]]]:
    """Feed one result per ``step``; return the state and the notifications after each."""
    state = state or initial_state("disk", "usage")
    states, said = [], []
    for i, status in enumerate(statuses):
        state, notes = alert_transition(state, result(status), start + step * i, rule, silences, maintenance)
        states.append(state)
        said.append(notes)
    return states, said


def kinds(said: list[list[Notification]]) -> list[tuple[int, str]]:
    return [(i, note.kind) for i, notes in enumerate(said) for note in notes]


# --- pending, firing, resolved ---------------------------------------------------------------

def test_fires_at_exactly_the_threshold_and_is_pending_before() -> None:
    states, said = run([U, U, U], AlertRule(fail_threshold=3))
    assert [s.phase for s in states] == ["pending", "pending", "firing"]
    assert kinds(said) == [(2, "firing")]
    assert states[2].severity is AlertSeverity.ERROR and states[2].fired_at == T0 + timedelta(minutes=2)
    assert said[2][0].text == ("[ERROR] disk: 96.2 % used on /data (threshold 90 %) — "
                               "failing 3 times since 14:02 UTC")


def test_one_open_alert_per_component_and_condition_with_count_increasing() -> None:
    states, said = run([U] * 6, AlertRule(fail_threshold=2))
    assert len({s.alert_id for s in states}) == 1
    assert states[0].alert_id == "disk:usage:20260615T140200Z"
    assert [s.count for s in states] == [1, 2, 3, 4, 5, 6]
    assert kinds(said) == [(1, "firing")]
    assert states[-1].first_seen == T0 and states[-1].last_seen == T0 + timedelta(minutes=5)


def test_resolved_notice_only_after_firing_with_the_same_id() -> None:
    states, said = run([U, U, H, H], AlertRule(fail_threshold=2))
    assert kinds(said) == [(1, "firing"), (2, "resolved")]
    assert said[2][0].alert.alert_id == said[1][0].alert.alert_id
    assert states[2].phase == states[3].phase == "resolved"
    assert states[2].resolved_at == T0 + timedelta(minutes=2)
    assert said[2][0].text.startswith("[RESOLVED] disk: ")


def test_resolved_text_carries_the_healthy_figure() -> None:
    state = initial_state("disk", "usage")
    rule = AlertRule(fail_threshold=1)
    state, _ = alert_transition(state, result(U), T0, rule)
    state, notes = alert_transition(state, result(H, "41.0 % used on /data"), T0 + timedelta(minutes=18), rule)
    assert notes[0].text == ("[RESOLVED] disk: 41.0 % used on /data — healthy again after 18 min "
                             "(was ERROR since 14:02 UTC)")


def test_an_open_alert_keeps_saying_what_was_wrong_and_keeps_the_healthy_figure_as_its_recovery() -> None:
    rule = AlertRule(fail_threshold=1, recover_threshold=2, flap_changes=9)
    state, _ = alert_transition(initial_state("disk", "usage"), result(U), T0, rule)
    state, _ = alert_transition(state, result(H, "41.0 % used on /data"), T0 + timedelta(minutes=1), rule)
    assert state.phase == "firing" and state.message == DISK_FULL and state.recovery == ""
    state, notes = alert_transition(state, result(H, "40.0 % used on /data"), T0 + timedelta(minutes=2), rule)
    assert state.phase == "resolved" and state.message == DISK_FULL and state.recovery == "40.0 % used on /data"
    assert notes[0].text.startswith("[RESOLVED] disk: 40.0 % used on /data — ")
    assert AlertState.from_doc(state.to_doc()) == state


def test_recover_threshold_needs_that_many_healthy_results_in_a_row() -> None:
    states, said = run([U, H, U, H, H], AlertRule(fail_threshold=1, recover_threshold=2, flap_changes=9))
    assert [s.phase for s in states] == ["firing", "firing", "firing", "firing", "resolved"]
    assert kinds(said) == [(0, "firing"), (4, "resolved")]


def test_pending_that_recovers_says_nothing_at_all() -> None:
    states, said = run([U, U, H, U, H, H], AlertRule(fail_threshold=3))
    assert kinds(said) == []
    assert states[2].phase == "ok" and states[2].alert_id == "" and states[2].count == 0
    assert states[-1].phase == "ok"


def test_unknown_results_move_nothing() -> None:
    states, said = run([U, X, X, U], AlertRule(fail_threshold=2))
    assert states[1] == states[2] == states[0]
    assert states[3].phase == "firing" and kinds(said) == [(3, "firing")]


# --- escalation --------------------------------------------------------------------------------

def test_a_worse_status_while_firing_escalates_once_per_step() -> None:
    states, said = run([D, D, U, D, C, U], AlertRule(fail_threshold=2))
    assert kinds(said) == [(1, "firing"), (2, "escalated"), (4, "escalated")]
    assert [s.severity for s in states] == [AlertSeverity.WARNING, AlertSeverity.WARNING, AlertSeverity.ERROR,
                                            AlertSeverity.ERROR, AlertSeverity.CRITICAL, AlertSeverity.CRITICAL]
    assert said[2][0].text.startswith("[ERROR] disk: ") and "worse: was WARNING, failing 3 times" in said[2][0].text
    assert len({s.alert_id for s in states}) == 1


def test_severity_steps_are_not_flapping() -> None:
    # A disk filling step by step and then cleaned: every step is said, the recovery too.
    _, said = run([D, U, C, H], AlertRule(fail_threshold=1, flap_window=4, flap_changes=2))
    assert kinds(said) == [(0, "firing"), (1, "escalated"), (2, "escalated"), (3, "resolved")]


# --- flapping ----------------------------------------------------------------------------------

def test_flapping_holds_notifications_and_keeps_the_alert_firing_until_it_settles() -> None:
    rule = AlertRule(fail_threshold=1, recover_threshold=1, flap_window=10, flap_changes=4)
    alternating = [U, H] * 6
    states, said = run(alternating + [U] * 8 + [H] * 3, rule)
    # The first four changes are said; from the fourth change on it is flapping.
    assert kinds(said)[:4] == [(0, "firing"), (1, "resolved"), (2, "firing"), (3, "resolved")]
    held = states[4:12]
    assert all(s.phase == "firing" for s in held) and len({s.alert_id for s in held}) == 1
    assert all(not notes for notes in said[4:12])
    # Stable failing: once fewer than 4 changes remain in the last 10, the held firing is said once.
    later = kinds(said)[4:]
    first_stable = next(i for i, kind in later)
    assert later == [(first_stable, "firing"), (20, "resolved")]
    assert first_stable == 18  # the last alternation leaves the 10-result window
    assert said[first_stable][0].alert.alert_id == states[4].alert_id == said[20][0].alert.alert_id
    assert states[first_stable].count > 1


def test_flap_count_counts_only_healthy_changes() -> None:
    assert flap_count([D, U, C, D]) == 0
    assert flap_count([H, D, H, C]) == 3
    assert flap_count([]) == 0


# --- silences and maintenance ------------------------------------------------------------------

def test_silence_holds_notifications_but_keeps_state_and_says_the_firing_after_it_ends() -> None:
    silence = Silence("disk", None, T0, T0 + timedelta(minutes=5), reason="replacing the disk")
    states, said = run([U] * 8, AlertRule(fail_threshold=2), silences=[silence])
    assert [s.phase for s in states[:5]] == ["pending"] + ["firing"] * 4
    assert states[4].count == 5
    assert kinds(said) == [(5, "firing")]  # the first result after the silence
    assert said[5][0].text.endswith("failing 6 times since 14:02 UTC")


def test_an_alert_that_fires_and_resolves_inside_a_silence_is_never_mentioned() -> None:
    silence = Silence(None, "usage", T0, T0 + timedelta(hours=1))
    states, said = run([U, U, H, H], AlertRule(fail_threshold=2), silences=[silence])
    assert [s.phase for s in states] == ["pending", "firing", "resolved", "resolved"]
    assert kinds(said) == []
    # ...and after the silence there is nothing owed either.
    _, notes = alert_transition(states[-1], result(H), T0 + timedelta(hours=2), AlertRule())
    assert notes == []


def test_a_resolution_held_by_a_silence_is_said_after_it() -> None:
    rule = AlertRule(fail_threshold=1)
    silence = Silence("disk", "usage", T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    states, said = run([U, H, H, H], rule, silences=[silence])
    assert kinds(said) == [(0, "firing"), (3, "resolved")]
    assert states[1].phase == "resolved"


def test_silences_for_other_components_or_conditions_do_not_hold() -> None:
    others = [Silence("memory", None, T0, T0 + timedelta(hours=1)),
              Silence("disk", "inodes", T0, T0 + timedelta(hours=1)),
              Silence("disk", "usage", T0 - timedelta(hours=2), T0 - timedelta(hours=1))]
    _, said = run([U], AlertRule(fail_threshold=1), silences=others)
    assert kinds(said) == [(0, "firing")]


def test_one_off_maintenance_holds_notifications_for_its_component_only() -> None:
    window = MaintenanceWindow(component="disk", start=T0, end=T0 + timedelta(minutes=3), reason="resize")
    states, said = run([U] * 5, AlertRule(fail_threshold=1), maintenance=[window])
    assert all(s.phase == "firing" for s in states)
    assert kinds(said) == [(3, "firing")]
    other = initial_state("memory", "usage")
    _, notes = alert_transition(other, result(U), T0, AlertRule(fail_threshold=1), maintenance=[window])
    assert [n.kind for n in notes] == ["firing"]


def test_naive_one_off_maintenance_times_are_wall_times_in_its_zone() -> None:
    window = MaintenanceWindow(start=datetime(2026, 6, 15, 16, 0), end=datetime(2026, 6, 15, 17, 0),
                               timezone="Europe/Berlin")
    assert window.start == datetime(2026, 6, 15, 14, 0, tzinfo=UTC)
    assert window.active(datetime(2026, 6, 15, 14, 30, tzinfo=UTC))
    assert not window.active(datetime(2026, 6, 15, 15, 0, tzinfo=UTC))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_recurring_maintenance_on_the_spring_forward_night_in_berlin() -> None:
    # 2026-03-29 02:00 does not exist in Berlin: as Debian cron, the window opens when the clock
    # resumes at 03:00 CEST (01:00 UTC) and lasts its 3600 s.
    window = MaintenanceWindow(component="streaming", cron="0 2 * * *", duration_seconds=3600,
                               timezone="Europe/Berlin")
    assert window.active(utc("2026-03-28T01:00"))  # 02:00 CET the night before
    assert not window.active(utc("2026-03-29T00:59:59"))  # 01:59:59 CET
    assert window.active(utc("2026-03-29T01:00"))  # 03:00 CEST
    assert window.active(utc("2026-03-29T01:59:59"))
    assert not window.active(utc("2026-03-29T02:00"))
    assert window.active(utc("2026-03-30T00:00"))  # 02:00 CEST the night after
    assert not window.active(utc("2026-03-30T01:00"))


def test_recurring_maintenance_across_midnight_and_the_dst_gap() -> None:
    # 23:00 CET on the 28th for four real hours: past local midnight, past the skipped hour,
    # ending at 04:00 CEST (02:00 UTC), not at 03:00 wall time.
    window = MaintenanceWindow(cron="0 23 * * *", duration_seconds=4 * 3600, timezone="Europe/Berlin")
    assert not window.active(utc("2026-03-28T21:59"))
    assert window.active(utc("2026-03-28T22:00"))
    assert window.active(utc("2026-03-28T23:30"))  # 00:30 CET on the 29th
    assert window.active(utc("2026-03-29T01:59"))  # 03:59 CEST
    assert not window.active(utc("2026-03-29T02:00"))


def test_recurring_maintenance_on_the_fall_back_night() -> None:
    # 2026-10-25: 02:00-03:00 happens twice in Berlin; the window starts at the first 02:30
    # (00:30 UTC) and is still open at the second 02:10 (01:10 UTC), which cronsim's wall-clock
    # walk would place before it.
    window = MaintenanceWindow(cron="30 2 * * *", duration_seconds=3600, timezone="Europe/Berlin")
    assert window.active(utc("2026-10-25T00:30"))
    assert window.active(utc("2026-10-25T01:10"))
    assert not window.active(utc("2026-10-25T01:30"))


def test_recurring_maintenance_holds_notifications_and_state_still_moves() -> None:
    window = MaintenanceWindow(component="disk", cron="0 14 * * *", duration_seconds=600, timezone="UTC")
    states, said = run([U] * 12, AlertRule(fail_threshold=2), start=T0)  # 14:02-14:13 UTC
    assert kinds(said) == [(1, "firing")]
    states, said = run([U] * 12, AlertRule(fail_threshold=2), start=T0, maintenance=[window])
    assert states[1].phase == "firing" and states[7].count == 8
    assert kinds(said) == [(8, "firing")]  # 14:10, the window's end


# --- reminders and acknowledgement -------------------------------------------------------------

def test_reminder_for_a_long_open_critical_alert() -> None:
    rule = AlertRule(fail_threshold=1, reminder_seconds=3600)
    states, said = run([C] * 13, rule, step=timedelta(minutes=10))
    assert kinds(said) == [(0, "firing"), (6, "reminder"), (12, "reminder")]
    assert said[6][0].text == ("[CRITICAL] disk: 96.2 % used on /data (threshold 90 %) — still open after "
                               "1 h 00 min and not acknowledged, failing 7 times since 14:02 UTC")
    assert states[12].last_notified_at == T0 + timedelta(hours=2)


def test_no_reminders_for_acknowledged_or_non_critical_alerts() -> None:
    rule = AlertRule(fail_threshold=1, reminder_seconds=3600)
    states, said = run([C], rule)
    acked = acknowledge(states[0])
    assert acked.acknowledged
    _, said = run([C] * 12, rule, state=acked, start=T0 + timedelta(minutes=10), step=timedelta(minutes=10))
    assert kinds(said) == []
    _, said = run([U] * 13, rule, step=timedelta(minutes=10))
    assert kinds(said) == [(0, "firing")]


def test_escalation_clears_the_acknowledgement() -> None:
    rule = AlertRule(fail_threshold=1, reminder_seconds=3600)
    states, _ = run([D], rule)
    acked = acknowledge(states[0])
    states, said = run([C] * 7, rule, state=acked, start=T0 + timedelta(minutes=1), step=timedelta(minutes=10))
    assert not states[0].acknowledged
    assert kinds(said) == [(0, "escalated"), (6, "reminder")]


def test_acknowledging_a_closed_alert_changes_nothing() -> None:
    state = initial_state("disk", "usage")
    assert acknowledge(state) == state


# --- episodes ----------------------------------------------------------------------------------

def test_a_resolved_alert_that_fails_again_is_a_new_episode_with_a_new_id() -> None:
    states, said = run([U, U, H, U, U], AlertRule(fail_threshold=2))
    assert kinds(said) == [(1, "firing"), (2, "resolved"), (4, "firing")]
    assert states[3].alert_id != states[1].alert_id
    assert states[3].alert_id == "disk:usage:20260615T140500Z"
    assert states[3].count == 1 and states[3].fired_at is None and states[3].resolved_at is None


def test_manual_resolve_owes_no_notice_and_a_still_failing_check_starts_over() -> None:
    rule = AlertRule(fail_threshold=2)
    states, _ = run([U, U], rule)
    closed = resolve_manually(states[1], T0 + timedelta(minutes=2))
    assert closed.phase == "resolved" and closed.resolved_at == T0 + timedelta(minutes=2)
    states, said = run([U, U], rule, state=closed, start=T0 + timedelta(minutes=3))
    assert [s.phase for s in states] == ["pending", "firing"]
    assert states[0].alert_id != closed.alert_id and states[0].count == 1
    assert kinds(said) == [(1, "firing")]
    assert resolve_manually(closed, T0 + timedelta(hours=1)) == closed


def test_state_round_trips_through_its_document() -> None:
    states, _ = run([D, U, C, H], AlertRule(fail_threshold=2, recover_threshold=2))
    for state in states:
        assert AlertState.from_doc(state.to_doc()) == state


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("changes, field", [
    ({"fail_threshold": 0}, "fail_threshold"),
    ({"fail_threshold": True}, "fail_threshold"),
    ({"recover_threshold": 0}, "recover_threshold"),
    ({"flap_window": 1, "flap_changes": 1}, "flap_window"),
    ({"flap_window": 10, "flap_changes": 10}, "flap_changes"),
    ({"flap_changes": 0}, "flap_changes"),
    ({"reminder_seconds": 0}, "reminder_seconds"),
    ({"reminder_seconds": float("nan")}, "reminder_seconds"),
])
def test_rule_validation_names_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        AlertRule(**changes)  # type: ignore[arg-type]


def test_silence_and_window_validation_names_the_field() -> None:
    with pytest.raises(ConfigError, match="end must be after start"):
        Silence("disk", None, T0, T0)
    with pytest.raises(ConfigError, match="component"):
        Silence("", None, T0, T0 + timedelta(hours=1))
    with pytest.raises(ConfigError, match="cron"):
        MaintenanceWindow(cron="every night", duration_seconds=60)
    with pytest.raises(ConfigError, match="duration_seconds"):
        MaintenanceWindow(cron="0 2 * * *")
    with pytest.raises(ConfigError, match="start and end"):
        MaintenanceWindow(cron="0 2 * * *", duration_seconds=60, start=T0, end=T0 + timedelta(hours=1))
    with pytest.raises(ConfigError, match="start and end"):
        MaintenanceWindow()
    with pytest.raises(ConfigError, match="duration_seconds"):
        MaintenanceWindow(start=T0, end=T0 + timedelta(hours=1), duration_seconds=60)
    with pytest.raises(ConfigError, match="end must be after start"):
        MaintenanceWindow(start=T0, end=T0 - timedelta(hours=1))
    with pytest.raises(ConfigError, match="timezone"):
        MaintenanceWindow(cron="0 2 * * *", duration_seconds=60, timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="component"):
        initial_state("", "usage")
    with pytest.raises(ConfigError, match="phase"):
        AlertState.from_doc({**initial_state("disk", "usage").to_doc(), "phase": "burning"})


# --- properties --------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(
    statuses=st.lists(st.sampled_from(list(HealthStatus)), max_size=60),
    fail_threshold=st.integers(1, 4),
    recover_threshold=st.integers(1, 3),
    flap_window=st.integers(2, 8),
    flap_ratio=st.floats(0, 1),
    reminder_minutes=st.integers(1, 30),
    silence=st.one_of(st.none(), st.tuples(st.integers(0, 60), st.integers(1, 30))),
    acks=st.sets(st.integers(0, 59), max_size=5),
)
def test_at_most_one_firing_per_episode_and_every_resolved_follows_a_firing(
    statuses: list[HealthStatus], fail_threshold: int, recover_threshold: int, flap_window: int,
    flap_ratio: float, reminder_minutes: int, silence: tuple[int, int] | None, acks: set[int],
) -> None:
    rule = AlertRule(fail_threshold=fail_threshold, recover_threshold=recover_threshold, flap_window=flap_window,
                     flap_changes=1 + round(flap_ratio * (flap_window - 2)), reminder_seconds=reminder_minutes * 60)
    step = timedelta(minutes=7)
    silences = [] if silence is None else [Silence("disk", "usage", T0 + step * silence[0],
                                                   T0 + step * (silence[0] + silence[1]))]
    state = initial_state("disk", "usage")
    told: dict[str, list[str]] = {}
    for i, status in enumerate(statuses):
        if i in acks:
            state = acknowledge(state)
        state, notes = alert_transition(state, result(status), T0 + step * i, rule, silences)
        assert len(notes) <= 1
        for note in notes:
            assert note.alert == state
            history = told.setdefault(note.alert.alert_id, [])
            assert "resolved" not in history  # nothing is said about an episode after its end
            if note.kind != "firing":
                assert history[:1] == ["firing"]
            history.append(note.kind)
    assert all(kinds.count("firing") == 1 for kinds in told.values())
