"""DebateScheduler with an in-memory store, a hand-moved clock and instant debates."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest

from backend import ConfigError, DebateScheduler, DebateStatus, EventTriggeredScheduler, ScheduleConfig, Store
from backend.debates import DemoCouncil
from backend.errors import DebateNotFound
from backend.timeutil import UTC
from tests.conftest import BlockingRunner, FailingRunner, FakeClock


def make(clock: FakeClock, runner=None, store: Store | None = None, **config) -> EventTriggeredScheduler:
    config.setdefault("timezone", "UTC")
    config.setdefault("schedule_type", "event_driven")  # no planned debates unless a test asks
    return EventTriggeredScheduler(ScheduleConfig(**config), store=store or Store(None), clock=clock,
                                   runner=runner or DemoCouncil(turn_seconds=0, rounds=2))


def test_generate_schedule_and_seed_statistics_keys(clock: FakeClock) -> None:
    scheduler = make(clock, schedule_type="interval", interval_minutes=60)
    debates = scheduler.generate_schedule(clock.now, duration_hours=24)
    assert len(debates) == 24
    assert len({d.debate_id for d in debates}) == 24
    assert len({d.topic for d in debates}) == 20  # every demo topic before any repeats
    stats = scheduler.get_statistics()
    assert {"total_scheduled", "pending", "completed", "failed", "success_rate"} <= set(stats)
    assert stats["total_scheduled"] == stats["pending"] == 24
    assert stats["next_debate_time"] == debates[0].scheduled_time.isoformat()


def test_planning_again_adds_nothing_twice_and_respects_a_cancelled_slot(clock: FakeClock) -> None:
    scheduler = make(clock, schedule_type="interval", interval_minutes=60)
    first = scheduler.generate_schedule(clock.now, 6)
    scheduler.cancel_debate(first[1].debate_id)
    assert scheduler.generate_schedule(clock.now, 6) == []
    assert len(scheduler.get_schedule()) == len(first)


def test_ids_are_unique_within_one_second(clock: FakeClock) -> None:
    scheduler = make(clock)
    ids = {scheduler.schedule_debate(clock.now, f"topic {n}").debate_id for n in range(50)}
    assert len(ids) == 50


def test_tick_runs_a_due_debate_and_records_outcome_and_transcript(clock: FakeClock) -> None:
    scheduler = make(clock)
    debate = scheduler.schedule_debate(clock.now + timedelta(seconds=30), "Should cities ban cars?")
    assert scheduler.tick() == pytest.approx(30)
    clock.advance(seconds=30)
    scheduler.tick()
    assert scheduler.wait_idle(10)
    done = scheduler.get_debate(debate.debate_id)
    assert done.status is DebateStatus.COMPLETED
    assert done.outcome["participants"] == 4 and done.outcome["rounds"] == 2
    transcript = scheduler.transcript(debate.debate_id)
    assert len(transcript) == done.turns == 8
    assert scheduler.get_statistics()["success_rate"] == 100.0


def test_one_debate_at_a_time_the_next_waits(clock: FakeClock) -> None:
    runner = BlockingRunner()
    scheduler = make(clock, runner=runner)
    first = scheduler.schedule_debate(clock.now, "first")
    second = scheduler.schedule_debate(clock.now, "second")
    scheduler.tick()
    assert runner.started.wait(5)
    scheduler.tick()
    assert scheduler.get_debate(second.debate_id).status is DebateStatus.PENDING
    scheduler.cancel_debate(first.debate_id)
    scheduler.wait_idle(5)
    assert scheduler.get_debate(first.debate_id).status is DebateStatus.CANCELLED


def test_failure_is_retried_with_backoff_then_succeeds(clock: FakeClock) -> None:
    runner = FailingRunner(failures=2)
    scheduler = make(clock, runner=runner, retry_delay_seconds=10, max_retries=2)
    debate = scheduler.schedule_debate(clock.now, "retry me")
    delays = []
    for _ in range(2):
        scheduler.tick()
        scheduler.wait_idle(5)
        waiting = scheduler.get_debate(debate.debate_id)
        assert waiting.status is DebateStatus.PENDING
        delays.append((waiting.next_attempt_time - clock.now).total_seconds())
        clock.now = waiting.next_attempt_time
    assert delays == [10, 20]
    scheduler.tick()
    scheduler.wait_idle(5)
    done = scheduler.get_debate(debate.debate_id)
    assert done.status is DebateStatus.COMPLETED and done.attempts == 3
    assert len(done.errors) == 2 and "refused" in done.errors[0]


def test_failure_beyond_max_retries_is_failed_with_reason_and_on_error(clock: FakeClock) -> None:
    scheduler = make(clock, runner=FailingRunner(failures=5), max_retries=0)
    seen = []
    scheduler.set_callbacks(on_error=seen.append)
    debate = scheduler.schedule_debate(clock.now, "doomed")
    scheduler.tick()
    scheduler.wait_idle(5)
    failed = scheduler.get_debate(debate.debate_id)
    assert failed.status is DebateStatus.FAILED
    assert "refused the request" in failed.error_message
    assert [d.debate_id for d in seen] == [debate.debate_id]


def test_misfire_within_grace_runs_late_beyond_grace_is_missed(clock: FakeClock) -> None:
    scheduler = make(clock, misfire_grace_seconds=60)
    late = scheduler.schedule_debate(clock.now, "late but fine")
    lost = scheduler.schedule_debate(clock.now - timedelta(seconds=30), "lost")
    clock.advance(seconds=45)
    scheduler.tick()
    scheduler.wait_idle(5)
    assert scheduler.get_debate(lost.debate_id).status is DebateStatus.MISSED
    assert scheduler.get_debate(late.debate_id).status is DebateStatus.COMPLETED


def test_recover_marks_running_debates_interrupted(clock: FakeClock) -> None:
    store = Store(None)
    first = make(clock, store=store)
    debate = first.schedule_debate(clock.now, "crash during me")
    doc = debate.to_doc() | {"status": "running", "attempts": 1}
    store.debates.upsert(doc)
    second = DebateScheduler(store=store, clock=clock, runner=DemoCouncil(turn_seconds=0))
    assert [d.debate_id for d in second.recover()] == [debate.debate_id]
    assert second.get_debate(debate.debate_id).status is DebateStatus.INTERRUPTED


def test_cancel_unknown_and_finished(clock: FakeClock) -> None:
    scheduler = make(clock)
    with pytest.raises(DebateNotFound):
        scheduler.cancel_debate("debate_nope")
    debate = scheduler.schedule_debate(clock.now, "quick")
    scheduler.tick()
    scheduler.wait_idle(5)
    assert scheduler.cancel_debate(debate.debate_id) is False


@pytest.mark.parametrize("topic", ["", "   ", "x" * 10_000])
def test_bad_topic_is_refused_and_nothing_is_stored(clock: FakeClock, topic: str) -> None:
    scheduler = make(clock)
    with pytest.raises(ConfigError, match="topic"):
        scheduler.schedule_debate(clock.now, topic)
    assert scheduler.get_schedule() == []


def test_scheduling_in_the_past_is_refused(clock: FakeClock) -> None:
    scheduler = make(clock)
    with pytest.raises(ConfigError, match="past"):
        scheduler.schedule_debate(clock.now - timedelta(hours=1), "yesterday's news")


def test_update_config_replans_only_untouched_planned_debates(clock: FakeClock) -> None:
    scheduler = make(clock, schedule_type="interval", interval_minutes=60)
    scheduler.generate_schedule(clock.now, 24)
    manual = scheduler.schedule_debate(clock.now + timedelta(minutes=7), "keep me")
    dropped = scheduler.update_config(scheduler.config.replace(interval_minutes=120))
    assert dropped == 24
    kept = scheduler.get_schedule()
    assert manual.debate_id in {d.debate_id for d in kept}
    planned = [d for d in kept if d.source == "interval"]
    # 12 two-hour slots in the next 24 h, less 08:00, which is within 15 min of the manual 08:07
    assert [d.scheduled_time.hour for d in planned] == [10, 12, 14, 16, 18, 20, 22, 0, 2, 4, 6]


def test_clear_completed_keeps_history(clock: FakeClock) -> None:
    scheduler = make(clock)
    debate = scheduler.schedule_debate(clock.now, "archive me")
    scheduler.tick()
    scheduler.wait_idle(5)
    assert scheduler.clear_completed() == 1
    assert scheduler.get_schedule() == []
    history = scheduler._store.debate_history(clock.now - timedelta(days=1), clock.now + timedelta(days=1))
    assert [d["debate_id"] for d in history] == [debate.debate_id]


def test_save_and_load_schedule_round_trip(clock: FakeClock, tmp_path) -> None:
    scheduler = make(clock, schedule_type="interval", interval_minutes=90, quiet_hours_start=1, quiet_hours_end=5)
    planned = scheduler.generate_schedule(clock.now, 12)
    path = scheduler.save_schedule(tmp_path / "nested" / "schedule.json")
    other = make(FakeClock(clock.now))
    assert other.load_schedule(path) == len(planned)
    assert other.config == scheduler.config
    assert [d.debate_id for d in other.get_schedule()] == [d.debate_id for d in planned]


def test_load_of_a_bad_file_changes_nothing(clock: FakeClock, tmp_path) -> None:
    scheduler = make(clock)
    before = scheduler.config
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"config": {"interval_minutes": -5}, "debates": []}))
    with pytest.raises(ConfigError, match="interval_minutes"):
        scheduler.load_schedule(bad)
    assert scheduler.config == before and scheduler.get_schedule() == []


# ---- events ---------------------------------------------------------------------------------


def test_high_urgency_event_runs_at_the_next_free_moment(clock: FakeClock) -> None:
    scheduler = make(clock, min_interval_minutes=30)
    scheduler.schedule_debate(clock.now, "already on")
    debate = scheduler.trigger_debate_from_event({"topic": "Breaking News Event", "urgency": "high"})
    assert debate.scheduled_time == clock.now + timedelta(minutes=30)
    assert debate.source == "event" and debate.urgency == "high"


def test_normal_event_takes_the_next_good_slot(clock: FakeClock) -> None:
    scheduler = make(clock)  # 08:00 UTC; prior hours 9, 12, ...
    debate = scheduler.trigger_debate_from_event({"topic": "A slower story"})
    assert debate.scheduled_time == datetime(2026, 6, 15, 9, tzinfo=UTC)
    assert "good slot" in debate.reason


def test_event_repeating_a_recent_topic_is_ignored(clock: FakeClock) -> None:
    scheduler = make(clock)
    first = scheduler.trigger_debate_from_event({"topic": "Mars mission", "urgency": "high"})
    assert first is not None
    assert scheduler.trigger_debate_from_event({"topic": "  mars   MISSION "}) is None  # planned
    scheduler.tick()
    scheduler.wait_idle(5)
    assert scheduler.get_debate(first.debate_id).status is DebateStatus.COMPLETED
    clock.advance(hours=23)
    assert scheduler.trigger_debate_from_event({"topic": "Mars mission"}) is None  # held 23 h ago
    clock.advance(hours=2)
    assert scheduler.trigger_debate_from_event({"topic": "Mars mission"}) is not None


def test_event_repeating_a_topic_planned_days_ahead_is_ignored(clock: FakeClock) -> None:
    scheduler = make(clock)
    scheduler.schedule_debate(clock.now + timedelta(days=3), "Ocean cities")
    assert scheduler.trigger_debate_from_event({"topic": "ocean cities", "urgency": "high"}) is None


def test_event_without_topic_is_refused(clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match="topic"):
        make(clock).trigger_debate_from_event({"urgency": "high"})


# ---- the async API of the seed README -------------------------------------------------------


def test_async_start_stop_with_async_callbacks() -> None:
    scheduler = EventTriggeredScheduler(ScheduleConfig(timezone="UTC"), store=Store(None),
                                        runner=DemoCouncil(turn_seconds=0, rounds=1))
    started, completed = [], []

    async def on_start(debate):
        started.append(debate.debate_id)

    async def on_complete(debate):
        completed.append(debate.debate_id)

    scheduler.set_callbacks(on_start=on_start, on_complete=on_complete)

    async def main():
        task = asyncio.create_task(scheduler.start())
        debate = scheduler.run_now("async works")
        for _ in range(200):
            if completed:
                break
            await asyncio.sleep(0.02)
        await scheduler.stop()
        await asyncio.wait_for(task, 5)
        return debate

    debate = asyncio.run(main())
    assert started == completed == [debate.debate_id]


def test_the_observer_follows_the_debate_turn_by_turn(clock: FakeClock) -> None:
    seen = []

    class Observer:
        def debate_started(self, debate):
            seen.append(("start", debate.turns))

        def turn_spoken(self, debate, turn):
            seen.append(("turn", debate.turns))

        def debate_ended(self, debate):
            seen.append(("end", debate.status.value))

    scheduler = EventTriggeredScheduler(ScheduleConfig(schedule_type="event_driven", timezone="UTC"),
                                        store=Store(None), clock=clock, observer=Observer(),
                                        runner=DemoCouncil(turn_seconds=0, rounds=1))
    scheduler.schedule_debate(clock.now, "observed")
    scheduler.tick()
    scheduler.wait_idle(5)
    assert seen == [("start", 0), ("turn", 1), ("turn", 2), ("turn", 3), ("turn", 4), ("end", "completed")]
