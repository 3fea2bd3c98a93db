"""The Supervisor for real: threads, files, a second process, kill -9, SIGTERM, the event inbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from backend import DebateStatus, Store, Supervisor
from backend.config import load_settings
from backend.healthlog import components
from backend.timeutil import utc_now
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def settings(data_dir: Path, turn_seconds: float = 0.0):
    return load_settings({"AI_COUNCIL_DATA_DIR": str(data_dir), "AI_COUNCIL_TURN_SECONDS": str(turn_seconds),
                          "AI_COUNCIL_BROADCAST": "off",
                          "AI_COUNCIL_TIMEZONE": "UTC"})




def stored(data_dir: Path) -> list[dict]:
    return Store(data_dir).debates.all()


def by_topic(data_dir: Path, topic: str) -> dict | None:
    return next((doc for doc in stored(data_dir) if doc["topic"] == topic), None)


@pytest.fixture
def supervisor(tmp_path: Path):
    started = Supervisor(settings(tmp_path)).start()
    yield started
    started.stop()


def backend_process(data_dir: Path, turn_seconds: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(data_dir), "AI_COUNCIL_TURN_SECONDS": str(turn_seconds),
           "AI_COUNCIL_BROADCAST": "off",
           "AI_COUNCIL_TIMEZONE": "UTC"}
    process = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: (data_dir / "state.json").exists(), 20, "the backend process to open its store")
    return process


# ---- one process --------------------------------------------------------------------------------


def test_fresh_directory_plans_a_first_debate_soon_and_a_day_ahead(supervisor: Supervisor) -> None:
    assert supervisor.role == "owner" and supervisor.alive
    wait_for(lambda: supervisor.debates(), 5, "the first plan")
    planned = supervisor.debates()
    first = planned[0].scheduled_time - utc_now()
    assert timedelta(minutes=1) <= first <= timedelta(minutes=2)
    assert len(planned) == 24 and all(d.source == "interval" for d in planned)


def test_a_due_debate_starts_within_about_a_second(supervisor: Supervisor) -> None:
    due = utc_now() + timedelta(seconds=2)
    debate = supervisor.schedule_debate(due, "Punctuality matters")
    done = wait_for(lambda: by_topic(supervisor.data_dir, "Punctuality matters")["status"] == "completed"
                    and by_topic(supervisor.data_dir, "Punctuality matters"), 15, "the debate to complete")
    started = supervisor.history(due - timedelta(hours=1), due + timedelta(hours=1))
    late = next(d for d in started if d.debate_id == debate.debate_id).actual_start_time - due
    assert timedelta(0) <= late < timedelta(seconds=1.5), late
    assert done["outcome"]["responses"] == 12
    assert len(supervisor.transcript(debate.debate_id)) == 12


def test_a_failing_job_is_counted_and_alerted_and_the_loop_goes_on(supervisor: Supervisor) -> None:
    def boom() -> None:
        raise RuntimeError("disk on fire")

    supervisor._guarded("boom", boom)  # noqa: SLF001 - the wrapper every job runs in
    assert supervisor.jobs["boom"].failures == 1
    alert = next(a for a in supervisor.alerts() if (a["component"], a["condition"]) == ("supervisor", "job_boom"))
    assert "disk on fire" in alert["message"] and alert["severity"] == "error"
    supervisor.jobs["boom"].paused_until = 0  # skip the back-off
    supervisor._guarded("boom", lambda: None)  # noqa: SLF001 - the job works again: the alert resolves
    assert [a for a in supervisor.alerts() if a["condition"] == "job_boom"] == []
    [kept] = [a for a in supervisor.book.history() if a["condition"] == "job_boom"]
    assert kept["resolved"] and kept["resolved_by"] == "auto"
    supervisor.run_now("Still alive after a failure")
    wait_for(lambda: (by_topic(supervisor.data_dir, "Still alive after a failure") or {}).get("status")
             == "completed", 15, "a debate after the failure")
    assert supervisor.alive


def test_an_exception_in_the_scheduler_step_does_not_kill_the_thread(supervisor: Supervisor, monkeypatch) -> None:
    assert supervisor.scheduler is not None
    calls = []

    def broken_tick() -> float:
        calls.append(1)
        raise ValueError("planner bug")

    monkeypatch.setattr(supervisor.scheduler, "tick", broken_tick)
    supervisor._wake.set()  # noqa: SLF001
    wait_for(lambda: calls, 5, "the broken tick to run")
    assert supervisor.alive
    assert supervisor.jobs["tick"].failures >= 1


def test_stop_interrupts_the_running_debate_and_a_restart_keeps_the_schedule(tmp_path: Path) -> None:
    first = Supervisor(settings(tmp_path, turn_seconds=5)).start()
    wait_for(lambda: first.debates(), 5, "the first plan")
    planned = {d.debate_id for d in first.debates()}
    running = first.run_now("Cut short")
    wait_for(lambda: (by_topic(tmp_path, "Cut short") or {}).get("status") == "running", 10, "running")
    first.stop()
    assert by_topic(tmp_path, "Cut short")["status"] == "interrupted"

    second = Supervisor(settings(tmp_path)).start()
    try:
        after = {d.debate_id: d for d in second.debates()}
        assert planned <= set(after)
        times = [d.scheduled_time for d in after.values() if d.source == "interval"]
        assert len(times) == len(set(times)), "a slot was planned twice"
        assert after[running.debate_id].status is DebateStatus.INTERRUPTED
    finally:
        second.stop()


def test_event_file_in_the_inbox_becomes_a_debate_and_a_bad_one_is_rejected(supervisor: Supervisor) -> None:
    inbox = supervisor.data_dir / "events" / "inbox"
    (inbox / "news.json").write_text(json.dumps({"topic": "Fusion power is here", "urgency": "high"}))
    (inbox / "broken.json").write_text("{not json")
    event = wait_for(lambda: by_topic(supervisor.data_dir, "Fusion power is here"), 10, "the event debate")
    assert event["source"] == "event" and event["urgency"] == "high"
    reason = wait_for(lambda: next((supervisor.data_dir / "events" / "rejected").glob("broken.json.reason.txt"),
                                   None), 10, "the rejected file")
    assert "not valid JSON" in reason.read_text()


def test_corrupt_store_at_start_is_moved_aside_and_alerted(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"debates": {"1": {"debate_id"')
    started = Supervisor(settings(tmp_path)).start()
    try:
        alert = next(a for a in started.alerts() if a["component"] == "store")
        assert alert["severity"] == "critical" and "moved to state.json.corrupt-" in alert["message"]
        assert list(tmp_path.glob("state.json.corrupt-*"))
    finally:
        started.stop()


def test_bad_commands_change_nothing(supervisor: Supervisor) -> None:
    before = supervisor.get_config()
    with pytest.raises(ValueError, match="quiet_hours_start must be a whole number 0-23, got 25"):
        supervisor.update_config({"quiet_hours_start": 25, "quiet_hours_end": 3})
    with pytest.raises(ValueError, match="topic must be at most 300 characters"):
        supervisor.run_now("x" * 10_000)
    assert supervisor.get_config() == before
    assert all(d.source == "interval" for d in supervisor.debates())


# ---- two processes ------------------------------------------------------------------------------


def test_second_process_views_and_its_commands_reach_the_owner(tmp_path: Path) -> None:
    owner = backend_process(tmp_path)
    viewer = Supervisor(settings(tmp_path)).start()
    try:
        assert viewer.role == "viewer" and not viewer.alive
        assert viewer.run_now("Queued from a viewer") is None
        done = wait_for(lambda: (by_topic(tmp_path, "Queued from a viewer") or {}).get("status") == "completed",
                        20, "the owner to run the viewer's debate")
        assert done
        assert viewer.statistics()["completed"] == 1
    finally:
        viewer.stop()
        owner.send_signal(signal.SIGTERM)
        assert owner.wait(15) == 0


def test_a_second_backend_process_on_the_same_directory_refuses_to_start(tmp_path: Path) -> None:
    owner = backend_process(tmp_path)
    try:
        env = {**os.environ, "AI_COUNCIL_DATA_DIR": str(tmp_path)}
        second = subprocess.run([sys.executable, "-m", "backend"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=30)
        assert second.returncode == 1
        assert "already owned by another backend process" in second.stderr
    finally:
        owner.send_signal(signal.SIGTERM)
        owner.wait(15)


def test_kill_9_during_a_debate_then_restart_marks_it_interrupted_and_runs_nothing_twice(tmp_path: Path) -> None:
    owner = backend_process(tmp_path, turn_seconds=5)
    viewer = Supervisor(settings(tmp_path)).start()
    viewer.run_now("Killed mid-sentence")
    wait_for(lambda: (by_topic(tmp_path, "Killed mid-sentence") or {}).get("status") == "running", 20, "running")
    viewer.stop()
    owner.kill()
    owner.wait(10)

    restarted = Supervisor(settings(tmp_path)).start()
    try:
        assert restarted.role == "owner"
        killed = by_topic(tmp_path, "Killed mid-sentence")
        assert killed["status"] == "interrupted" and killed["attempts"] == 1
        time.sleep(1.5)  # a few loop turns: an interrupted debate must not start again
        assert by_topic(tmp_path, "Killed mid-sentence")["attempts"] == 1
    finally:
        restarted.stop()


def test_sigterm_stops_cleanly_and_releases_the_directory(tmp_path: Path) -> None:
    owner = backend_process(tmp_path)
    owner.send_signal(signal.SIGTERM)
    assert owner.wait(15) == 0
    after = Supervisor(settings(tmp_path)).start()
    try:
        assert after.role == "owner"
    finally:
        after.stop()


def test_help_lists_the_flags() -> None:
    result = subprocess.run([sys.executable, "-m", "backend", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0
    for flag in ("--data-dir", "--turn-seconds", "--timezone", "--log-level"):
        assert flag in result.stdout


def test_no_supervisor_thread_is_left_behind(tmp_path: Path) -> None:
    Supervisor(settings(tmp_path)).start().stop()
    assert not [t for t in threading.enumerate() if t.name == "ai-council-supervisor"]


@pytest.mark.parametrize("command", [{"action": "schedule"}, {"action": "schedule", "when": None},
                                     {"action": "cancel"}, {"action": "launch"}, {"action": "event", "event": 5}])
def test_a_malformed_queued_command_is_refused_with_a_config_error(supervisor: Supervisor, command: dict) -> None:
    with pytest.raises(ValueError):
        supervisor.apply(command)
    assert supervisor.alive


def test_debates_due_while_the_process_was_down_run_late_within_grace_or_are_missed(tmp_path: Path) -> None:
    first = Supervisor(settings(tmp_path)).start()
    first.update_config({"schedule_type": "event_driven", "misfire_grace_seconds": 3})
    now = utc_now()
    lost = first.schedule_debate(now + timedelta(seconds=1.5), "Due while down, too late")
    late = first.schedule_debate(now + timedelta(seconds=5), "Due while down, still in grace")
    first.stop()
    assert {d.status for d in first.debates()} == {DebateStatus.PENDING}
    # restart 4 s after the first was due (beyond the 3 s grace), 0.5 s after the second (within it)
    wait_for(lambda: utc_now() > now + timedelta(seconds=5.5), 10, "both due times to pass")

    second = Supervisor(settings(tmp_path)).start()
    try:
        wait_for(lambda: (by_topic(tmp_path, late.topic) or {}).get("status") == "completed", 15, "the late run")
        missed = by_topic(tmp_path, lost.topic)
        assert missed["status"] == "missed" and missed["attempts"] == 0
        assert "not started within 3 s" in missed["error_message"]
    finally:
        second.stop()


def test_health_checks_run_on_the_supervisors_schedule_and_failures_become_alerts(tmp_path: Path) -> None:
    from backend.health import CheckResult, HealthStatus

    env = {"AI_COUNCIL_DATA_DIR": str(tmp_path), "AI_COUNCIL_BROADCAST": "off", "AI_COUNCIL_TIMEZONE": "UTC",
           "MONITORING_INTERVAL": "1"}
    supervisor = Supervisor(load_settings(env)).start()
    try:
        assert supervisor.monitor is not None
        assert set(supervisor.monitor.check_names) == {"scheduler", "database", "disk", "memory", "cpu", "api",
                                                       "events"}  # no ffmpeg, tts or streaming with broadcast off
        supervisor.monitor.register_check("ingest", lambda: CheckResult(HealthStatus.UNHEALTHY,
                                                                          "ingest 0 of 2 servers answer"))
        alert = wait_for(lambda: next((a for a in supervisor.alerts() if a["component"] == "ingest"), None), 20,
                         "the alert after three failed rounds")
        assert alert["severity"] == "error" and "ingest 0 of 2 servers answer" in alert["message"]
        health = supervisor.health()
        assert health["overall_status"] == "unhealthy" and health["latest"]["database"]["status"] == "healthy"
        assert "ms" in health["latest"]["database"]["message"]
        supervisor.store.flush()
        samples = supervisor.store.samples("health", utc_now() - timedelta(minutes=5), utc_now() + timedelta(minutes=1))
        assert set(components(samples)) >= {"disk", "memory", "ingest"}
        assert samples[-1]["up.ingest"] == 0 and samples[-1]["msg.ingest"] == "ingest 0 of 2 servers answer"
        assert samples[-1]["up.database"] == 1 and "msg.database" not in samples[-1]
    finally:
        supervisor.stop()


def test_the_on_screen_clock_follows_the_schedules_zone(supervisor: Supervisor) -> None:
    supervisor.update_config({"timezone": "Asia/Kolkata"})
    assert supervisor.clock_zone() == "Asia/Kolkata"
    supervisor.update_config({"timezone": "America/New_York"})  # read again when an encoder starts
    assert supervisor.clock_zone() == "America/New_York"
