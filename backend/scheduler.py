"""DebateScheduler: the seed README's scheduler, doing it for real.

It keeps the schedule (in memory, written through to the Store), plans slots with the pure
functions of ``planning``, starts due debates in a worker thread and records what happened.
``tick()`` is one step of its loop: the Supervisor calls it from its thread, and ``await
start()`` calls it for library users; both wait on the same ``threading.Event``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol

from .debates import DEMO_TOPICS, DebateRunner, DemoCouncil, Turn, pick_topic, summarize
from .errors import ConfigError, DebateFailed, DebateNotFound
from .events import DebateEvent, event_from_dict
from .models import (
    FINISHED,
    OCCUPYING,
    DebateStatus,
    ScheduleConfig,
    ScheduledDebate,
    new_debate_id,
    validate_topic,
)
from .planning import Engagement, misfire_action, next_free_time, next_good_slot, plan_slots, retry_delay
from .storage import Store
from .timeutil import Clock, ensure_utc, utc_now

log = logging.getLogger(__name__)

CONFIG_KEY = "schedule_config"
MAX_WAIT_SECONDS = 60.0
Callback = Callable[[ScheduledDebate], Any]

__all__ = ["DebateScheduler", "EventTriggeredScheduler", "schedule_statistics"]


class DebateObserver(Protocol):
    """Follows each debate as it is held (the broadcast draws its picture from this)."""

    def debate_started(self, debate: ScheduledDebate) -> None: ...

    def turn_spoken(self, debate: ScheduledDebate, turn: Turn) -> None: ...

    def debate_ended(self, debate: ScheduledDebate) -> None: ...


def schedule_statistics(debates: Iterable[ScheduledDebate]) -> dict[str, Any]:
    """The seed's statistics keys plus a count per status and the next debate."""
    debates = list(debates)
    counts = {status.value: 0 for status in DebateStatus}
    for debate in debates:
        counts[debate.status.value] += 1
    done, failed = counts["completed"], counts["failed"]
    pending = [d for d in debates if d.status is DebateStatus.PENDING]
    upcoming = min(pending, key=lambda d: d.due_time, default=None)
    return {
        "total_scheduled": len(debates),
        **counts,
        "success_rate": round(100.0 * done / (done + failed), 1) if done + failed else 0.0,
        "next_debate_time": upcoming.due_time.isoformat() if upcoming else None,
        "next_debate_id": upcoming.debate_id if upcoming else None,
    }


class DebateScheduler:
    """Automated debate scheduling with interval, cron, adaptive and event-driven strategies."""

    def __init__(
        self,
        config: ScheduleConfig | None = None,
        *,
        store: Store | None = None,
        runner: DebateRunner | None = None,
        clock: Clock = utc_now,
        horizon_hours: int = 24,
        engagement: Callable[[], Engagement | None] | None = None,
        wake: threading.Event | None = None,
        observer: "DebateObserver | None" = None,
    ) -> None:
        self._observer = observer
        self._store = store if store is not None else Store(None)
        self._clock = clock
        self._runner = runner or DemoCouncil()
        self._horizon = timedelta(hours=horizon_hours)
        self._engagement = engagement or (lambda: None)
        self.wake = wake or threading.Event()
        self._lock = threading.RLock()
        self._debates = {doc["debate_id"]: ScheduledDebate.from_doc(doc) for doc in self._store.debates.all()}
        self._config = self._initial_config(config)
        self._callbacks: dict[str, Callback | None] = {"on_start": None, "on_complete": None, "on_error": None}
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def _initial_config(self, config: ScheduleConfig | None) -> ScheduleConfig:
        if config is not None:
            self._store.settings.set(CONFIG_KEY, config.to_doc())
            return config
        stored = self._store.settings.get(CONFIG_KEY)
        return ScheduleConfig.from_doc(stored) if stored else ScheduleConfig()

    # ---- configuration ------------------------------------------------------------------

    @property
    def config(self) -> ScheduleConfig:
        return self._config

    def update_config(self, config: ScheduleConfig) -> int:
        """Apply a new config: planned debates not yet started are dropped and planned again."""
        if not isinstance(config, ScheduleConfig):
            raise ConfigError(f"config must be a ScheduleConfig, got {type(config).__name__}")
        with self._lock:
            self._store.settings.set(CONFIG_KEY, config.to_doc())
            self._config = config
            stale = [d.debate_id for d in self._debates.values() if self._replannable(d)]
            self._store.debates.delete(stale)
            for debate_id in stale:
                del self._debates[debate_id]
            self.top_up(self._clock())
        self.wake.set()
        return len(stale)

    @staticmethod
    def _replannable(debate: ScheduledDebate) -> bool:
        return debate.status is DebateStatus.PENDING and debate.attempts == 0 and debate.source in {
            "interval", "cron", "adaptive"}

    def set_callbacks(
        self, on_start: Callback | None = None, on_complete: Callback | None = None,
        on_error: Callback | None = None,
    ) -> None:
        """Functions (plain or async) called with the ScheduledDebate as it starts, completes or fails."""
        self._callbacks = {"on_start": on_start, "on_complete": on_complete, "on_error": on_error}

    # ---- the schedule ---------------------------------------------------------------------

    def generate_schedule(self, start_time: datetime, duration_hours: float = 24) -> list[ScheduledDebate]:
        """Plan the strategy's debates in [start_time, start_time + duration_hours); returns the new ones."""
        if not isinstance(duration_hours, (int, float)) or not 0 < duration_hours <= 24 * 366:
            raise ConfigError(f"duration_hours must be more than 0 and at most 8784, got {duration_hours!r}")
        start = ensure_utc(start_time)
        with self._lock:
            existing = {d.scheduled_time for d in self._debates.values()}
            slots = plan_slots(self._config, self._occupied(), start,
                               start + timedelta(hours=duration_hours), self._engagement())
            used = self._topics_by_time()
            fresh = []
            for slot in (slot for slot in slots if slot.time not in existing):
                used.append(pick_topic(used[-len(DEMO_TOPICS):]))
                fresh.append(self._new(slot.time, used[-1], slot.source, slot.reason))
            self._save(fresh)
        return fresh

    def top_up(self, now: datetime) -> list[ScheduledDebate]:
        """Keep the next ``horizon_hours`` planned; a slot cancelled by hand is not planned again."""
        return self.generate_schedule(now, self._horizon.total_seconds() / 3600)

    def schedule_debate(
        self, scheduled_time: datetime, topic: str | None = None, *, urgency: str = "normal",
        source: str = "manual", reason: str = "scheduled by hand",
    ) -> ScheduledDebate:
        """Schedule one debate by hand; it is the operator's call, so it may sit outside the plan's rules."""
        when = ensure_utc(scheduled_time)
        late = (self._clock() - when).total_seconds()
        if late > self._config.misfire_grace_seconds:
            raise ConfigError(f"scheduled_time must not be in the past, got {when.isoformat()}")
        debate = self._new(when, validate_topic(topic) if topic is not None else None, source, reason, urgency)
        with self._lock:
            self._save([debate])
        self.wake.set()
        return debate

    def run_now(self, topic: str | None = None) -> ScheduledDebate:
        """Start a debate at once (after the one running now, if any)."""
        return self.schedule_debate(self._clock(), topic, reason="run now")

    def cancel_debate(self, debate_id: str) -> bool:
        """Cancel a pending debate, or stop the running one; False when it had already finished."""
        with self._lock:
            debate = self._get(debate_id)
            if debate.status in FINISHED:
                return False
            if debate.status is DebateStatus.RUNNING:
                self._cancel.set()
                return True
            debate.status = DebateStatus.CANCELLED
            self._save([debate])
        self.wake.set()
        return True

    def get_schedule(self, include_finished: bool = True) -> list[ScheduledDebate]:
        with self._lock:
            debates = [d for d in self._debates.values() if include_finished or d.status not in FINISHED]
        return sorted(debates, key=lambda d: d.scheduled_time)

    def get_debate(self, debate_id: str) -> ScheduledDebate:
        with self._lock:
            return self._get(debate_id)

    def transcript(self, debate_id: str) -> list[Turn]:
        return [Turn.from_doc(doc) for doc in self._store.transcript(debate_id)]

    @property
    def running_debate(self) -> ScheduledDebate | None:
        with self._lock:
            return next((d for d in self._debates.values() if d.status is DebateStatus.RUNNING), None)

    @property
    def next_debate(self) -> ScheduledDebate | None:
        pending = [d for d in self.get_schedule(False) if d.status is DebateStatus.PENDING]
        return min(pending, key=lambda d: d.due_time, default=None)

    @property
    def next_debate_time(self) -> datetime | None:
        """When the next upcoming debate is due (its retry time for one waiting to retry)."""
        upcoming = self.next_debate
        return upcoming.due_time if upcoming else None

    def get_statistics(self) -> dict[str, Any]:
        """Counts by status and the success rate in percent (completed / (completed + failed))."""
        return schedule_statistics(self.get_schedule())

    def clear_completed(self) -> int:
        """Remove completed debates from the schedule; they stay in the store's history."""
        return self.archive(lambda d: d.status is DebateStatus.COMPLETED)

    def archive_finished(self, before: datetime) -> int:
        """Move finished debates scheduled before ``before`` out of the live schedule into history."""
        return self.archive(lambda d: d.status in FINISHED and d.scheduled_time < before)

    def archive(self, chosen: Callable[[ScheduledDebate], bool]) -> int:
        with self._lock:
            gone = [d for d in self._debates.values() if chosen(d)]
            self._store.archive_debates([d.to_doc() for d in gone])
            for debate in gone:
                del self._debates[debate.debate_id]
        return len(gone)

    # ---- files ----------------------------------------------------------------------------

    def save_schedule(self, path: Path | str) -> Path:
        """Write the config and the whole schedule as JSON (folders created)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        doc = {"config": self._config.to_doc(), "debates": [d.to_doc() for d in self.get_schedule()]}
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(doc, indent=2), encoding="utf-8")
        temporary.replace(target)
        return target

    def load_schedule(self, path: Path | str) -> int:
        """Read a file written by save_schedule; everything is validated before anything changes."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            config = ScheduleConfig.from_doc(doc["config"])
            debates = [ScheduledDebate.from_doc(item) for item in doc["debates"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{path} is not a schedule written by save_schedule: {exc}") from None
        with self._lock:
            if self.running_debate:
                raise ConfigError("cannot load a schedule while a debate is running")
            for debate in debates:
                if debate.status is DebateStatus.RUNNING:
                    debate.status = DebateStatus.INTERRUPTED
            self._store.settings.set(CONFIG_KEY, config.to_doc())
            self._config = config
            self._save(debates)
        self.wake.set()
        return len(debates)

    # ---- the loop -------------------------------------------------------------------------

    def recover(self) -> list[ScheduledDebate]:
        """After a restart: a debate that was running when the process died is interrupted."""
        now = self._clock()
        with self._lock:
            broken = [d for d in self._debates.values() if d.status is DebateStatus.RUNNING]
            for debate in broken:
                debate.status = DebateStatus.INTERRUPTED
                debate.actual_end_time = now
                debate.error_message = "the process stopped while this debate was running"
            self._save(broken)
        return broken

    def tick(self) -> float:
        """One loop step: mark misfires, keep the plan full, start what is due; returns the wait."""
        now = self._clock()
        with self._lock:
            self.top_up(now)
            self._mark_missed(now)
            if not self._busy():
                due = self._due(now)
                if due is not None:
                    self._launch(due)
        return self._seconds_until_next(now)

    def _mark_missed(self, now: datetime) -> None:
        grace = self._config.misfire_grace_seconds
        missed = [d for d in self._debates.values() if d.status is DebateStatus.PENDING
                  and misfire_action(d.due_time, now, grace) == "missed"]
        for debate in missed:
            debate.status = DebateStatus.MISSED
            debate.error_message = f"not started within {grace} s of {debate.due_time.isoformat()}"
        self._save(missed)

    def _due(self, now: datetime) -> ScheduledDebate | None:
        grace = self._config.misfire_grace_seconds
        due = [d for d in self._debates.values() if d.status is DebateStatus.PENDING
               and misfire_action(d.due_time, now, grace) == "run"]
        return min(due, key=lambda d: (d.urgency != "high", d.due_time), default=None)

    def _seconds_until_next(self, now: datetime) -> float:
        if self._busy():
            return MAX_WAIT_SECONDS  # the worker wakes the loop when it finishes
        upcoming = self.next_debate_time
        if upcoming is None:
            return MAX_WAIT_SECONDS
        return max(0.0, min(MAX_WAIT_SECONDS, (upcoming - now).total_seconds()))

    def _busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    async def start(self) -> None:
        """Run the scheduler until ``stop()``: for library users; the dashboard uses the Supervisor."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.recover()
        while not self._stopping:
            wait = self.tick()
            await self._loop.run_in_executor(None, self.wake.wait, wait)
            self.wake.clear()

    async def stop(self) -> None:
        """Stop the loop; a running debate is interrupted and its worker joined."""
        self._stopping = True
        self.wake.set()
        await asyncio.get_running_loop().run_in_executor(None, self.shutdown)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Interrupt a running debate and wait for its worker (thread callers)."""
        self._stopping = True
        self._cancel.set()
        self.wake.set()
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no debate is running (for tests and scripts); True when idle."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return not self._busy()

    # ---- running one debate ---------------------------------------------------------------

    def _launch(self, debate: ScheduledDebate) -> None:
        debate.status = DebateStatus.RUNNING
        debate.attempts += 1
        debate.actual_start_time = self._clock()
        debate.actual_end_time = None
        debate.turns = 0
        self._save([debate])
        self._cancel = threading.Event()
        self._worker = threading.Thread(
            target=self._execute, args=(debate, self._cancel), name=f"debate-{debate.debate_id}", daemon=True)
        self._worker.start()

    def _execute(self, debate: ScheduledDebate, cancel: threading.Event) -> None:
        try:
            self._notify("debate_started", debate)
            self._call("on_start", debate)
            turns = self._speak(debate, cancel)
            if cancel.is_set():
                self._finish_cancelled(debate)
            else:
                self._finish_completed(debate, turns)
        except Exception as exc:  # a runner's failure is the debate's, never the loop's
            self._finish_failed(debate, exc)
        finally:
            self._notify("debate_ended", debate)
            self.wake.set()

    def _notify(self, event: str, *args: Any) -> None:
        """Tell the observer (the broadcast); its failure is logged and never the debate's."""
        if self._observer is None:
            return
        try:
            getattr(self._observer, event)(*args)
        except Exception:  # the show goes on without pictures rather than not at all
            log.exception("observer failed on %s", event)

    def _speak(self, debate: ScheduledDebate, cancel: threading.Event) -> list[Turn]:
        spoken: list[Turn] = []
        for turn in self._runner.turns(debate.topic, debate_id=debate.debate_id, cancel=cancel):
            self._store.append_turn(debate.debate_id, turn.to_doc())
            spoken.append(turn)
            with self._lock:
                debate.turns = len(spoken)
                self._save([debate])
            self._notify("turn_spoken", debate, turn)
        return spoken

    def _finish_completed(self, debate: ScheduledDebate, turns: list[Turn]) -> None:
        outcome = summarize(turns)
        with self._lock:
            debate.status, debate.actual_end_time = DebateStatus.COMPLETED, self._clock()
            debate.outcome, debate.next_attempt_time, debate.error_message = outcome.to_doc(), None, None
            self._save([debate])
        log.info("debate %s completed: %d turns, verdict %s", debate.debate_id, len(turns), outcome.verdict)
        self._call("on_complete", debate)

    def _finish_cancelled(self, debate: ScheduledDebate) -> None:
        with self._lock:
            debate.status = DebateStatus.INTERRUPTED if self._stopping else DebateStatus.CANCELLED
            debate.actual_end_time = self._clock()
            debate.error_message = "stopped by shutdown" if self._stopping else "cancelled while running"
            self._save([debate])

    def _finish_failed(self, debate: ScheduledDebate, exc: Exception) -> None:
        reason = str(exc) if isinstance(exc, DebateFailed) else f"{type(exc).__name__}: {exc}"
        log.warning("debate %s failed (attempt %d): %s", debate.debate_id, debate.attempts, reason)
        now, config = self._clock(), self._config
        with self._lock:
            debate.actual_end_time, debate.error_message = now, reason
            debate.errors.append(f"attempt {debate.attempts}: {reason}")
            if config.retry_failed and debate.attempts <= config.max_retries and not self._stopping:
                delay = retry_delay(debate.attempts, config.retry_delay_seconds)
                debate.status, debate.next_attempt_time = DebateStatus.PENDING, now + timedelta(seconds=delay)
            else:
                debate.status, debate.next_attempt_time = DebateStatus.FAILED, None
            self._save([debate])
        if debate.status is DebateStatus.FAILED:
            self._call("on_error", debate)

    def _call(self, name: str, debate: ScheduledDebate) -> None:
        callback = self._callbacks.get(name)
        if callback is None:
            return
        try:
            result = callback(debate)
            if inspect.isawaitable(result):
                self._await(result)
        except Exception:  # a library user's callback must not break the schedule
            log.exception("%s callback failed for %s", name, debate.debate_id)

    def _await(self, awaitable: Any) -> None:
        loop = self._loop
        if loop is not None and loop.is_running():
            asyncio.run_coroutine_threadsafe(awaitable, loop).result(timeout=60)
        else:
            asyncio.run(awaitable)

    # ---- helpers --------------------------------------------------------------------------

    def _new(self, when: datetime, topic: str | None, source: str, reason: str,
             urgency: str = "normal") -> ScheduledDebate:
        return ScheduledDebate(
            debate_id=new_debate_id(when), scheduled_time=when,
            topic=topic or pick_topic(self._topics_by_time()[-len(DEMO_TOPICS):]), source=source, reason=reason,
            urgency=urgency, created_at=self._clock())

    def _topics_by_time(self) -> list[str]:
        return [d.topic for d in sorted(self._debates.values(), key=lambda d: d.scheduled_time)]

    def _occupied(self) -> list[datetime]:
        return [d.scheduled_time for d in self._debates.values() if d.status in OCCUPYING]

    def _get(self, debate_id: str) -> ScheduledDebate:
        try:
            return self._debates[debate_id]
        except KeyError:
            raise DebateNotFound(f"no debate with id {debate_id!r}") from None

    def _save(self, debates: Iterable[ScheduledDebate]) -> None:
        debates = list(debates)
        for debate in debates:
            self._debates[debate.debate_id] = debate
        if debates:
            self._store.debates.upsert_many([d.to_doc() for d in debates])


class EventTriggeredScheduler(DebateScheduler):
    """A scheduler that also takes debates requested by events (API, inbox files, the dashboard)."""

    def trigger_debate_from_event(self, event: dict[str, Any] | DebateEvent) -> ScheduledDebate | None:
        """Schedule a debate for an event; None when its topic ran or is planned recently.

        ``urgency: high`` takes the next free moment; otherwise the next good (adaptive) slot.
        """
        if not isinstance(event, DebateEvent):
            event = event_from_dict(event, source="api", received_at=self._clock())
        now = self._clock()
        with self._lock:
            if self._recent_topic(event.topic, now):
                log.info("event ignored: topic %r ran or is planned within %d h",
                         event.topic, self._config.duplicate_topic_hours)
                return None
            when, reason = self._event_time(event, now)
            debate = self._new(when, event.topic, "event", reason, event.urgency)
            self._save([debate])
        self.wake.set()
        return debate

    def _event_time(self, event: DebateEvent, now: datetime) -> tuple[datetime, str]:
        taken = self._occupied()
        if event.urgency != "high":
            slot = next_good_slot(self._config, taken, now, self._engagement())
            if slot is not None:
                return slot.time, f"event ({event.source}): next good slot, {slot.reason}"
        moment = next_free_time(self._config, taken, now)
        if moment is None:
            raise ConfigError("no free time for this event within 8 days (daily cap, quiet hours or gaps)")
        return moment, f"event ({event.source}, {event.urgency} urgency): next free moment"

    def _recent_topic(self, topic: str, now: datetime) -> bool:
        """Planned or on air now, or held within ``duplicate_topic_hours``: the topic is recent."""
        window = timedelta(hours=self._config.duplicate_topic_hours)
        wanted = topic.casefold()
        return any(
            d.topic.casefold() == wanted and (
                d.status in {DebateStatus.PENDING, DebateStatus.RUNNING}
                or (d.status not in {DebateStatus.CANCELLED, DebateStatus.MISSED}
                    and now - d.scheduled_time <= window))
            for d in self._debates.values())
