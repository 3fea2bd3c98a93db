"""The Supervisor: one backend thread per data directory, and the API the pages call.

The process that gets the data directory's owner lock runs the loop: the ``schedule`` library's
periodic jobs plus the scheduler's own step, then a wait on a ``threading.Event`` that a due
debate, a finished debate, a dropped event file or a queued command sets. Any other process on
the same directory is a viewer: it reads the same Store and queues its commands for the owner.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import schedule
from filelock import FileLock, Timeout

from .alertbook import AlertBook, silence_from_doc, silence_to_doc, window_from_doc, window_to_doc
from .alerting import AlertRule, MaintenanceWindow, Notification, Silence
from .analytics import AnalyticsDashboard, DebateMetrics, StreamingMetrics, sample_system
from .broadcast import Broadcast, Recording, RecordingShelf, check_viewer_source
from .checks import Thresholds, check_urls, predefined_checks
from .collect import debate_doc, stream_docs
from .config import Settings, load_settings
from .engagement import baseline, debate_engagement, learn
from .destinations import QUALITY_PRESETS, KeyStore, StreamConfig, is_key_reference
from .debates import DebateRunner, Turn, runner_from_settings
from .errors import ConfigError, CouncilError
from .events import DirectoryWatcher, EventInbox, event_from_dict
from .models import DebateStatus, ScheduleConfig, ScheduledDebate, validate_topic
from .exporter import MetricsServer
from .health import AlertSeverity
from .healthlog import round_sample
from .monitoring import HealthMonitor
from .notify import Delivery, NotifierConfig, Notifiers
from .planning import retry_delay
from .scheduler import CONFIG_KEY, EventTriggeredScheduler, schedule_statistics
from .storage import Store
from .telemetry import FinishedTally
from .timeutil import Clock, ensure_utc, real_seconds, resolve_zone, to_iso, utc_now

log = logging.getLogger(__name__)

ALERT_ACTIONS = ("acknowledge_alert", "resolve_alert", "silence", "maintenance", "remove_hold", "alert_rule",
                 "thresholds", "api_urls")
DESTINATION_ACTIONS = ("save_destination", "remove_destination", "destination_enabled", "viewer_source")
VIEWER_METRICS_AGE = timedelta(seconds=30)  # a viewer shows the owner's stream sample while this fresh
KEEP_FINISHED = timedelta(hours=48)  # finished debates stay in the live schedule this long
FIRST_RUN_KEY = "first_run_at"


def settings_of(kind: Any, values: Any) -> Any:
    """A rule or thresholds dataclass from a dict, unknown names refused with the valid ones."""
    if not isinstance(values, dict):
        raise ConfigError(f"{kind.__name__} settings must be a mapping, got {type(values).__name__}")
    known = {item.name for item in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown {kind.__name__} settings {unknown}; valid: {sorted(known)}")
    return kind(**values)


@dataclass
class JobHealth:
    """What the loop knows about one periodic job: for the health page and for back-off."""

    runs: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    paused_until: float = 0.0


class Supervisor:
    """Owns (or views) one data directory: the scheduler, the event inbox and periodic jobs."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        runner: DebateRunner | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings or load_settings()
        self.data_dir: Path = Path(self.settings.data_dir)
        self._clock = clock
        self._runner = runner
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = FileLock(self.data_dir / "owner.lock", timeout=0, thread_local=False)
        self.store: Store | None = None
        self.scheduler: EventTriggeredScheduler | None = None
        self.broadcast: Broadcast | None = None
        self._viewer_shelf: RecordingShelf | None = None  # a viewer's view of the recordings folder
        self.monitor: HealthMonitor | None = None
        self._thresholds = Thresholds()
        self._api_urls: tuple[str, ...] = ()
        self._book: AlertBook | None = None
        self.notifiers: Notifiers | None = None
        self._deliveries: deque[Delivery] = deque(maxlen=100)
        self.analytics: AnalyticsDashboard | None = None
        self._net: Any = None  # the last network counters, for rates
        self._recorded: set[str] = set()  # debates whose metrics are recorded (the last few days)
        self._learned: tuple[float, Any] | None = None  # (monotonic time, learned engagement)
        self.exporter: MetricsServer | None = None
        self._health_running = threading.Lock()
        self.inbox: EventInbox | None = None
        self._watcher: DirectoryWatcher | None = None
        self._jobs = schedule.Scheduler()
        self.jobs: dict[str, JobHealth] = {}
        self.role = "stopped"
        self.started_at: datetime | None = None
        self.last_tick: datetime | None = None

    # ---- life cycle -----------------------------------------------------------------------

    def start(self) -> "Supervisor":
        """Open the store; become the owner (start the thread) or, if another process owns it, a viewer."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.data_dir, retention_days=self.settings.retention_days,
                           raw_retention_days=self.settings.raw_retention_days)
        self.analytics = AnalyticsDashboard(store=self.store, clock=self._clock)
        self._book = AlertBook(self.store, clock=self._clock, rule=self.alert_rule(),
                              retention_days=self.settings.alert_retention_days)
        self.started_at = self._clock()
        self._tally = FinishedTally(self.started_at)
        try:
            self._lock.acquire()
        except Timeout:
            self.role = "viewer"
            log.info("%s is owned by another process: viewing and queueing commands", self.data_dir)
            return self
        self.role = "owner"
        self._start_owner()
        return self

    def _start_owner(self) -> None:
        assert self.store is not None
        self.book.on_notice = self._deliver
        self.notifiers = Notifiers(self.data_dir, self._clock, on_delivery=self._delivered)
        for problem in self.store.problems:
            self.raise_alert("store", "corrupt_file", "critical", problem)
        runner = self._runner or runner_from_settings(
            turn_seconds=self.settings.turn_seconds, llm_url=self.settings.llm_url,
            llm_model=self.settings.llm_model, llm_api_key=self.settings.llm_api_key,
            command=self.settings.debate_command)
        if self.settings.broadcast:
            self.broadcast = Broadcast(
                self.data_dir, self.store, os.environ, encode_preset=self.settings.encode_preset,
                min_free_mb=self.settings.recording_min_free_mb,
                on_problem=lambda condition, message: self.raise_alert(
                    "recording" if condition == "disk_full" else "streaming", condition, "error", message),
                between=self.settings.between_debates, next_up=self.next_up,
                on_recovered=lambda condition, message: self.clear_alert("recording", condition, message),
                clock_zone=self.clock_zone)
            for problem in self.broadcast.problems:
                self.raise_alert("streaming", "destinations", "error", problem)
        self.scheduler = EventTriggeredScheduler(
            self._first_config(), store=self.store, runner=runner, clock=self._clock, wake=self._wake,
            observer=self.broadcast, engagement=self.learned_engagement)
        for debate in self.scheduler.recover():
            log.warning("debate %s was running when the process stopped: marked interrupted", debate.debate_id)
        if self.broadcast is not None:
            self.broadcast.show_slate()
            self.broadcast.start()
        self._thresholds = self.thresholds()
        self._api_urls = self.api_urls()
        self.monitor = self._make_monitor()
        self.inbox = EventInbox(self.data_dir / "events", clock=self._clock)
        self._watcher = DirectoryWatcher([self.inbox.inbox, self._commands_dir()], self._wake.set)
        self._watcher.start()
        self._add_jobs()
        self._start_exporter()
        self._thread = threading.Thread(target=self._loop, name="ai-council-supervisor", daemon=True)
        self._thread.start()
        log.info("supervisor started as owner of %s", self.data_dir)

    def _first_config(self) -> ScheduleConfig | None:
        """A fresh data directory gets the default plan with its first debate a minute from now."""
        assert self.store is not None
        if self.store.settings.get(CONFIG_KEY) is not None:
            return None
        now = self._clock()
        self.store.settings.set(FIRST_RUN_KEY, to_iso(now))
        first = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
        return ScheduleConfig(start_date=first, timezone=self.settings.timezone)

    def _commands_dir(self) -> Path:
        assert self.store is not None and self.store.commands_dir is not None
        return self.store.commands_dir

    def _add_jobs(self) -> None:
        assert self.store is not None and self.scheduler is not None
        store, scheduler = self.store, self.scheduler
        self._every(10, "flush", store.flush)
        self._every(max(1, int(self.settings.monitoring_interval)), "health", self.run_health_checks)
        self._every(5, "stream_samples", self.sample_streams)
        if self.broadcast is not None:
            self._every(30, "viewer_counts", self.broadcast.refresh_viewers)
            self._every(60, "slate", self._refresh_slate)
            broadcast, keep = self.broadcast, self.settings.recording_retention_days
            self._every(3600, "recording_retention", lambda: broadcast.prune_recordings(self._clock(), keep))
        self._every(60, "alerts", self.book.sweep)
        self._every(60, "system_metrics", self.sample_system)
        self._every(30, "debate_metrics", self.collect_debates)
        self._every(300, "archive", lambda: scheduler.archive_finished(self._clock() - KEEP_FINISHED))
        self._every(3600, "rollup", lambda: store.roll_up(self._clock()))
        self._every(3600, "retention", lambda: store.apply_retention(self._clock()))

    def _every(self, seconds: int, name: str, work: Callable[[], Any]) -> None:
        """A periodic job every ``seconds`` of the clock (on a FastClock, at most once a real second)."""
        self.jobs[name] = JobHealth()
        self._jobs.every(max(1, round(real_seconds(self._clock, seconds)))).seconds.do(self._guarded, name, work)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loop, interrupt a running debate, flush, release the directory. Safe to call twice."""
        self._stop.set()
        self._wake.set()
        if self.scheduler is not None:
            self.scheduler.shutdown(timeout)
        if self.broadcast is not None:
            self.broadcast.stop()
        if self._health_running.acquire(timeout=12):  # let a running round of checks finish first
            self._health_running.release()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._watcher is not None:
            self._watcher.stop()
        if self.exporter is not None:
            self.exporter.stop()
        if self.notifiers is not None:
            self.notifiers.close(timeout=5)
        if self.store is not None:
            self.store.close()
        if self._lock.is_locked:
            self._lock.release()
        self.role = "stopped"

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ---- the loop -------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            wait = self._guarded("tick", self.tick, default=5.0)
            self._wake.wait(wait)
            self._wake.clear()

    def tick(self) -> float:
        """One step: take queued commands and events, run due jobs, start due debates; returns the wait."""
        assert self.scheduler is not None
        self.last_tick = self._clock()
        self._guarded("commands", self.process_commands)
        self._guarded("events", self.process_events)
        self._jobs.run_pending()
        wait = real_seconds(self._clock, self.scheduler.tick())
        idle = self._jobs.idle_seconds
        return max(0.0, min(wait, idle if idle is not None else wait))

    def _guarded(self, name: str, work: Callable[[], Any], default: Any = None) -> Any:
        """Run one job; an exception is logged, counted, alerted and backed off, never fatal."""
        health = self.jobs.setdefault(name, JobHealth())
        if time.monotonic() < health.paused_until:
            return default
        try:
            result = work()
        except Exception as exc:  # by design: nothing may kill the backend thread
            self._job_failed(name, health, exc)
            return default
        health.runs += 1
        if health.consecutive_failures:
            health.consecutive_failures = 0
            self.clear_alert("supervisor", f"job_{name}", f"job {name} runs again")
        return result

    def _job_failed(self, name: str, health: JobHealth, exc: Exception) -> None:
        health.failures += 1
        health.consecutive_failures += 1
        health.last_error = f"{type(exc).__name__}: {exc}"
        delay = retry_delay(health.consecutive_failures, 1.0, 300.0)
        health.paused_until = time.monotonic() + delay
        log.exception("job %s failed (%d in a row); next try in %.0f s", name, health.consecutive_failures, delay)
        try:
            self.raise_alert("supervisor", f"job_{name}", "error", f"job {name} failed: {health.last_error}")
        except Exception:  # the store itself may be what failed
            log.exception("could not record the alert for job %s", name)

    def process_commands(self) -> int:
        """Apply commands queued by viewer processes; a bad one is logged and dropped."""
        assert self.store is not None
        commands = self.store.take_commands()
        for command in commands:
            try:
                self.apply(command)
            except CouncilError as exc:
                log.warning("queued command %s refused: %s", command.get("action"), exc)
        return len(commands)

    def process_events(self) -> int:
        """Turn the inbox's event files into debates (ignored when their topic is recent)."""
        assert self.inbox is not None and self.scheduler is not None
        events = self.inbox.drain()
        for event in events:
            try:
                self.scheduler.trigger_debate_from_event(event)
            except CouncilError as exc:
                self.raise_alert("events", "unschedulable", "warning", f"event {event.topic!r}: {exc}")
        return len(events)

    # ---- commands: applied here by the owner, queued by a viewer ---------------------------

    def apply(self, command: dict[str, Any]) -> Any:
        """Carry out one command document (the owner's side of the queue)."""
        try:
            return self._apply(command)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"malformed {command.get('action')!r} command: {exc!r}") from None

    def _apply(self, command: dict[str, Any]) -> Any:
        scheduler = self._require_scheduler()
        action = command.get("action")
        if action == "run_now":
            return scheduler.run_now(command.get("topic"))
        if action == "schedule":
            return scheduler.schedule_debate(datetime.fromisoformat(command["when"]), command.get("topic"))
        if action == "cancel":
            return scheduler.cancel_debate(command["debate_id"])
        if action == "event":
            return scheduler.trigger_debate_from_event(
                event_from_dict(command["event"], source="dashboard", received_at=self._clock()))
        if action == "config":
            return scheduler.update_config(ScheduleConfig.from_doc(command["config"]))
        if action in ALERT_ACTIONS:
            return self._apply_alert_command(action, command)
        if action in DESTINATION_ACTIONS:
            return self._apply_destination_command(action, command)
        raise ConfigError(f"unknown command {action!r}; valid: run_now, schedule, cancel, event, config, "
                          f"{', '.join(ALERT_ACTIONS + DESTINATION_ACTIONS)}")

    def _apply_alert_command(self, action: str, command: dict[str, Any]) -> Any:
        book = self.book
        if action == "acknowledge_alert":
            return book.acknowledge(command["alert_id"])
        if action == "resolve_alert":
            return book.resolve(command["alert_id"])
        if action == "silence":
            return book.add_silence(silence_from_doc(command["silence"]))
        if action == "maintenance":
            return book.add_maintenance(window_from_doc(command["window"]))
        if action == "remove_hold":
            return book.remove_hold(command["hold_id"])
        if action == "api_urls":
            urls = check_urls(command["urls"])
            self._store().settings.set("api_urls", list(urls))
            self._api_urls = urls
            return list(urls)
        # alert_rule or thresholds: validated whole, stored, then used from the next round on
        kind = AlertRule if action == "alert_rule" else Thresholds
        values = settings_of(kind, command["values"])
        self._store().settings.set(action, asdict(values))
        if action == "alert_rule":
            book.rule, book.event_rule = values, replace(values, fail_threshold=1)
        else:
            self._thresholds = values  # the checks read it at their next run
        return values

    def _command(self, command: dict[str, Any]) -> Any:
        if self.role == "owner":
            return self.apply(command)
        if self.role == "viewer":
            assert self.store is not None
            self.store.enqueue_command(command)
            return None
        raise ConfigError("the backend is not running; start it first")

    def _require_scheduler(self) -> EventTriggeredScheduler:
        if self.scheduler is None:
            raise ConfigError("only the process that owns the data directory runs commands")
        return self.scheduler

    def run_now(self, topic: str | None = None) -> ScheduledDebate | None:
        """Run a debate now; a viewer queues the request and returns None."""
        return self._command({"action": "run_now", "topic": validate_topic(topic) if topic else None})

    def schedule_debate(self, when: datetime, topic: str | None = None) -> ScheduledDebate | None:
        return self._command({"action": "schedule", "when": to_iso(ensure_utc(when)),
                              "topic": validate_topic(topic) if topic else None})

    def cancel(self, debate_id: str) -> bool | None:
        return self._command({"action": "cancel", "debate_id": debate_id})

    def trigger_event(self, topic: str, urgency: str = "normal") -> ScheduledDebate | None:
        event = event_from_dict({"topic": topic, "urgency": urgency}, source="dashboard",
                                received_at=self._clock())
        return self._command({"action": "event", "event": {"topic": event.topic, "urgency": event.urgency}})

    def update_config(self, changes: dict[str, Any]) -> int | None:
        """Validate and apply schedule settings; raises ConfigError naming the field, changes nothing."""
        config = self.get_config().replace(**changes)
        return self._command({"action": "config", "config": config.to_doc()})

    # ---- reading (the same for owner and viewer: straight from the store) ------------------

    def acknowledge_alert(self, alert_id: str) -> bool | None:
        return self._command({"action": "acknowledge_alert", "alert_id": str(alert_id)})

    def resolve_alert(self, alert_id: str) -> bool | None:
        return self._command({"action": "resolve_alert", "alert_id": str(alert_id)})

    def add_silence(self, silence: Silence) -> str | None:
        """Hold notifications for matching alerts (the alerts still open and show)."""
        return self._command({"action": "silence", "silence": silence_to_doc("new", silence)})

    def add_maintenance(self, window: MaintenanceWindow) -> str | None:
        return self._command({"action": "maintenance", "window": window_to_doc("new", window)})

    def remove_hold(self, hold_id: str) -> bool | None:
        return self._command({"action": "remove_hold", "hold_id": str(hold_id)})

    def set_alert_rule(self, values: dict[str, Any]) -> AlertRule | None:
        settings_of(AlertRule, values)  # a bad value is refused here, before anything is queued
        return self._command({"action": "alert_rule", "values": values})

    def set_thresholds(self, values: dict[str, Any]) -> Thresholds | None:
        settings_of(Thresholds, values)
        return self._command({"action": "thresholds", "values": values})

    def api_urls(self) -> tuple[str, ...]:
        """The endpoints the API check probes (Settings page)."""
        try:
            return check_urls(self._store().settings.get("api_urls") or [])
        except ConfigError as exc:
            log.warning("stored api_urls ignored: %s", exc)
            return ()

    def set_api_urls(self, urls: list[str]) -> list[str] | None:
        check_urls(urls)
        return self._command({"action": "api_urls", "urls": list(urls)})

    def health_samples(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """The health series in [start, end): raw rounds and hourly rollups."""
        return self._store().samples("health", start, end)

    def latest_messages(self) -> dict[str, str]:
        """Each check's last message with its figure (the owner's process; empty in a viewer)."""
        if self.monitor is None:
            return {}
        return {name: history[-1].message for name, history in self.monitor.history.items() if history}

    def get_config(self) -> ScheduleConfig:
        doc = self._store().settings.get(CONFIG_KEY)
        return ScheduleConfig.from_doc(doc) if doc else ScheduleConfig(timezone=self.settings.timezone)

    def debates(self) -> list[ScheduledDebate]:
        docs = self._store().debates.all()
        return sorted((ScheduledDebate.from_doc(doc) for doc in docs), key=lambda d: d.scheduled_time)

    def history(self, start: datetime, end: datetime) -> list[ScheduledDebate]:
        docs = self._store().debate_history(ensure_utc(start), ensure_utc(end))
        return [ScheduledDebate.from_doc(doc) for doc in docs]

    def transcript(self, debate_id: str) -> list[Turn]:
        return [Turn.from_doc(doc) for doc in self._store().transcript(debate_id)]

    def alerts(self) -> list[dict[str, Any]]:
        """The open alerts, worst first (owner and viewer alike: read from the store)."""
        return self.book.open_alerts()

    def statistics(self) -> dict[str, Any]:
        """The scheduler's statistics computed from the stored schedule (owner and viewer alike)."""
        return schedule_statistics(self.debates())

    def _store(self) -> Store:
        if self.store is None:
            raise ConfigError("the backend is not started")
        return self.store

    # ---- health (the checks run in a thread of their own: a slow one must not hold the loop) ----

    def _make_monitor(self) -> HealthMonitor:
        monitor = HealthMonitor(self.settings.monitoring_interval, timeout_seconds=10, clock=self._clock,
                                book=self.book)
        skip = set() if self.settings.broadcast else {"ffmpeg", "tts", "streaming"}
        for name, check in predefined_checks(self, lambda: self._thresholds, lambda: self._api_urls).items():
            if name not in skip:
                monitor.register_check(name, check)
        return monitor

    def run_health_checks(self) -> bool:
        """Start one round of every check in the background; False when the last round still runs."""
        if self.monitor is None or not self._health_running.acquire(blocking=False):
            return False
        threading.Thread(target=self._health_round, name="health-checks", daemon=True).start()
        return True

    def _health_round(self) -> None:
        assert self.monitor is not None
        try:
            started = self._clock()
            results = self.monitor.run_all_checks_blocking()
            self._store().append_sample("health", round_sample(results, started))
        except Exception:  # a round that fails is logged; the next one tries again
            log.exception("health round failed")
        finally:
            self._health_running.release()

    def health(self) -> dict[str, Any]:
        """The monitor's statistics and each check's latest result (the owner's process)."""
        if self.monitor is None:
            raise ConfigError("health checks run in the process that owns the data directory")
        latest = {name: history[-1].to_doc() for name, history in self.monitor.history.items() if history}
        return {**self.monitor.get_statistics(), "latest": latest}

    # ---- streaming (the owner's process only: ffmpeg runs there) ---------------------------------

    def _broadcast(self) -> Broadcast:
        if self.broadcast is None:
            raise ConfigError("streaming runs in the process that owns the data directory, with "
                              "AI_COUNCIL_BROADCAST=on; this one cannot change destinations")
        return self.broadcast

    def stream_destinations(self) -> list[dict[str, Any]]:
        """Every destination as a page may show it (key masked), with live metrics in the owner;
        a viewer shows the stored settings and the owner's latest sample of each (every 5 s)."""
        if self.broadcast is not None:
            readings = self.broadcast.viewer_readings
            return [{**d.public_doc(), "viewer_detail": getattr(readings.get(d.destination_id), "detail", None)}
                    for d in self.broadcast.streamer.destinations.values()]
        now = self._clock()
        latest = {sample.get("destination_id"): sample
                  for sample in self._store().samples("streams", now - VIEWER_METRICS_AGE, now + VIEWER_METRICS_AGE)}
        shown = []  # a viewer: the stored settings (never a key) and the owner's last sample
        for doc in self._store().destinations.all():
            key = doc.get("stream_key") or ""
            config = {k: v for k, v in doc.items() if k not in {"key_in_keystore", "viewer_source", "stream_key"}}
            public = dict(config)
            for stand_in in ("", "stand-in"):  # the key is not the viewer's to read; some platforms need one
                try:
                    public = StreamConfig.from_doc({**config, "stream_key": stand_in}).public_doc()
                    break
                except ConfigError:
                    continue
            sample = latest.get(doc.get("destination_id"))
            metrics = {k: v for k, v in sample.items() if k not in {"ts", "destination_id", "platform"}} \
                if sample else None
            shown.append({**public, "stream_key": "**** (in the key file)" if doc.get("key_in_keystore") else
                          (key if is_key_reference(key) else "****"), "metrics": metrics})
        return shown

    # A viewer's destination changes go to the owner as commands; a literal key goes straight to
    # the key file (0600, locked across processes), never into a command file.

    @property
    def beside_owner(self) -> bool:
        """A dashboard beside the backend's process: destination changes are sent to it."""
        return self.broadcast is None and self.role == "viewer"

    def save_destination(self, config: StreamConfig) -> StreamConfig:
        if not self.beside_owner:
            return self._broadcast().save_destination(config)
        doc = config.to_doc()
        if config.stream_key and not is_key_reference(config.stream_key):
            KeyStore(self.data_dir).set(config.destination_id, config.stream_key)
            doc = {**doc, "stream_key": "", "key_in_keystore": True}
        self._command({"action": "save_destination", "destination": doc})
        return config

    def remove_destination(self, destination_id: str) -> None:
        if not self.beside_owner:
            return self._broadcast().remove_destination(destination_id)
        self._stored_destination(destination_id)
        self._command({"action": "remove_destination", "destination_id": destination_id})

    def set_destination_enabled(self, destination_id: str, enabled: bool) -> StreamConfig | None:
        if not self.beside_owner:
            return self._broadcast().set_enabled(destination_id, enabled)
        self._stored_destination(destination_id)
        self._command({"action": "destination_enabled", "destination_id": destination_id, "enabled": bool(enabled)})
        return None

    def set_viewer_source(self, destination_id: str, doc: dict[str, Any] | None) -> None:
        if not self.beside_owner:
            return self._broadcast().set_viewer_source(destination_id, doc)
        self._stored_destination(destination_id)
        if doc is not None:
            check_viewer_source(doc)  # the references are resolved by the owner, in its environment
        self._command({"action": "viewer_source", "destination_id": destination_id, "source": doc})

    def viewer_source(self, destination_id: str) -> dict[str, Any] | None:
        return (self._store().destinations.get(destination_id) or {}).get("viewer_source")

    def _stored_destination(self, destination_id: str) -> dict[str, Any]:
        doc = self._store().destinations.get(destination_id)
        if doc is None:
            raise ConfigError(f"no destination with id {destination_id!r}")
        return doc

    def _apply_destination_command(self, action: str, command: dict[str, Any]) -> Any:
        broadcast = self._broadcast()
        if action == "save_destination":
            return broadcast.save_destination(broadcast.config_of(command["destination"]))
        if action == "remove_destination":
            return broadcast.remove_destination(command["destination_id"])
        if action == "destination_enabled":
            return broadcast.set_enabled(command["destination_id"], bool(command["enabled"]))
        return broadcast.set_viewer_source(command["destination_id"], command["source"])

    def test_destination(self, destination_id: str) -> tuple[bool, str]:
        return self._broadcast().test_destination(destination_id)

    def stream_statistics(self) -> dict[str, Any]:
        return self._broadcast().streamer.get_statistics()

    def _shelf(self) -> RecordingShelf:
        """The recordings: the broadcast's own, or (a dashboard beside the backend) the same folder."""
        if self.broadcast is not None:
            return self.broadcast.shelf
        if self._viewer_shelf is None:
            self._viewer_shelf = RecordingShelf(self.data_dir / "recordings", os.environ)
        return self._viewer_shelf

    def recordings(self) -> list[Recording]:
        return self._shelf().list()

    def recording_path(self, name: str) -> Path:
        """The file of one recording by name (no path tricks: a ConfigError for any other name)."""
        return self._shelf().path(name)

    def recording_bytes(self, name: str) -> bytes:
        return self.recording_path(name).read_bytes()

    def preview_jpeg(self) -> bytes | None:
        return self.broadcast.preview_jpeg() if self.broadcast is not None else None

    def clock_zone(self) -> str | None:
        """The IANA zone of the on-screen clock: the schedule's (None: the machine's)."""
        try:
            return resolve_zone(self.get_config().timezone).key
        except ConfigError:
            return None

    def next_up(self) -> str:
        """The slate's words: the next debate and its local time."""
        upcoming = self.scheduler.next_debate if self.scheduler is not None else None
        if upcoming is None:
            return ""
        zone = resolve_zone(self.get_config().timezone)
        return f"Next debate at {upcoming.due_time.astimezone(zone):%H:%M} ({zone.key}): {upcoming.topic}"

    def _refresh_slate(self) -> None:
        if self.broadcast is not None and self.scheduler is not None and self.scheduler.running_debate is None:
            self.broadcast.show_slate()

    def sample_streams(self) -> int:
        """One time-series sample per destination while streaming (for analytics and viewers)."""
        if self.broadcast is None or not self.broadcast.streamer.streaming:
            return 0
        self.broadcast.watch_recording()
        for change in self.broadcast.adapt(self._clock()):
            words = f"{change.destination_id}: {change.old.value} -> {change.new.value} ({change.reason})"
            configured = self.broadcast.streamer.destinations[change.destination_id].config.quality
            if change.new is configured:
                self.clear_alert("streaming", f"tier_{change.destination_id}", words)
            else:
                self.raise_alert("streaming", f"tier_{change.destination_id}", "warning", words)
        now = to_iso(self._clock())
        destinations = list(self.broadcast.streamer.destinations.values())
        for destination in destinations:
            metrics = destination.metrics.to_doc()
            metrics.pop("last_error", None)  # words, possibly long: kept live, not sampled
            self._store().append_sample("streams", {"ts": now, "destination_id": destination.destination_id,
                                                    "platform": destination.config.platform.value, **metrics})
        return len(destinations)

    # ---- alert rules and check thresholds (stored settings, edited on the Settings page) --------

    def alert_rule(self) -> AlertRule:
        return self._stored_settings("alert_rule", AlertRule)

    def thresholds(self) -> Thresholds:
        return self._stored_settings("thresholds", Thresholds)

    def _stored_settings(self, key: str, kind: Any) -> Any:
        doc = self._store().settings.get(key) or {}
        try:
            return settings_of(kind, doc)
        except ConfigError as exc:  # written by an older version, or by hand
            log.warning("stored %s ignored, defaults used: %s", key, exc)
            return kind()

    @property
    def book(self) -> AlertBook:
        if self._book is None:
            raise ConfigError("the backend is not started")
        return self._book

    # ---- analytics: what ran and what was measured becomes records; engagement feeds ADAPTIVE ----

    def _analytics(self) -> AnalyticsDashboard:
        if self.analytics is None:
            raise ConfigError("the backend is not started")
        return self.analytics

    def sample_system(self) -> None:
        """One SystemMetrics sample (CPU, memory, disk, network rates, what is on air)."""
        debates = self.debates()
        streams = self.broadcast.streamer.destinations.values() if self.broadcast is not None else []
        metrics, self._net = sample_system(
            self.data_dir, self._net, now=self._clock(),
            active_debates=sum(1 for d in debates if d.status is DebateStatus.RUNNING),
            active_streams=sum(1 for d in streams if d.metrics.status.value == "live"))
        self._analytics().record_system(metrics)

    def collect_debates(self) -> int:
        """Record the metrics of every debate that ended since the last look (and after a restart)."""
        store, analytics = self._store(), self._analytics()
        now = self._clock()
        if not self._recorded:
            self._recorded = {doc["debate_id"] for doc in store.records(
                "debate_metrics", "debate_id", "start_time", now - KEEP_FINISHED - timedelta(days=1), now)}
        done = 0
        for debate in self.debates():
            if (debate.debate_id in self._recorded or debate.actual_start_time is None
                    or debate.actual_end_time is None
                    or debate.status not in (DebateStatus.COMPLETED, DebateStatus.FAILED, DebateStatus.INTERRUPTED)):
                continue
            start, end = debate.actual_start_time, debate.actual_end_time
            samples = store.samples("streams", start, end + timedelta(seconds=10))
            doc = debate_doc(debate.to_doc(), samples, None)
            if doc is None:
                continue
            previous = [r["viewer_count_avg"] for r in store.records(
                "debate_metrics", "debate_id", "start_time", start - timedelta(days=30), start)
                if r.get("viewer_count_avg") is not None]
            doc["engagement_score"] = debate_engagement(doc["viewer_count_avg"], doc["viewer_count_peak"],
                                                        baseline(previous))
            analytics.record_debate(DebateMetrics.from_doc(doc))
            for stream in stream_docs(debate.debate_id, samples, start, end):
                analytics.record_streaming(StreamingMetrics.from_doc(stream))
            self._recorded.add(debate.debate_id)
            done += 1
        return done

    def learned_engagement(self) -> Any:
        """What the ADAPTIVE strategy learns from: eight weeks of debate metrics, re-read every 10 min."""
        if self._learned is not None and time.monotonic() - self._learned[0] < 600:
            return self._learned[1]
        now = self._clock()
        records = self._store().records("debate_metrics", "debate_id", "start_time", now - timedelta(weeks=8), now)
        stats = learn(records, resolve_zone(self.get_config().timezone), now)
        self._learned = (time.monotonic(), stats)
        return stats

    # ---- Prometheus /metrics (the owner's process; AI_COUNCIL_METRICS_PORT, 0 = off) ------------

    def _start_exporter(self) -> None:
        if not self.settings.metrics_port:
            return
        try:
            self.exporter = MetricsServer(self.metrics_snapshot, self.settings.metrics_port,
                                          self.settings.metrics_address)
            self.exporter.start()
        except ConfigError as exc:  # the dashboard and debates go on without it
            self.exporter = None
            self.raise_alert("supervisor", "metrics_port", "warning", f"/metrics not served: {exc}")

    def metrics_snapshot(self) -> dict[str, Any]:
        """What the exporter turns into metrics: debate counters since start, streams, health, alerts."""
        debates = self.debates()
        self._tally.update(debates)
        running = sum(1 for debate in debates if debate.status is DebateStatus.RUNNING)
        snapshot: dict[str, Any] = {"debates": self._tally.doc(running)}
        if self.broadcast is not None:
            shown = []
            for destination in self.broadcast.streamer.destinations.values():
                metrics = destination.metrics
                shown.append({"destination_id": destination.destination_id, "name": destination.config.name,
                              "platform": destination.config.platform.value, "state": metrics.status.value,
                              "bitrate_kbps": metrics.bitrate_kbps,
                              "target_kbps": QUALITY_PRESETS[destination.tier or destination.config.quality].video_kbps,
                              "bytes_sent": metrics.bytes_sent, "reconnects": metrics.reconnects})
            snapshot["streams"] = {"live": sum(1 for d in shown if d["state"] == "live"), "destinations": shown}
        if self.monitor is not None:
            snapshot["health"] = {name: history[-1].status.value
                                  for name, history in self.monitor.history.items() if history}
        counts = {severity.value: 0 for severity in AlertSeverity}
        for alert in self.book.open_alerts():
            counts[alert.get("severity", "warning")] = counts.get(alert.get("severity", "warning"), 0) + 1
        snapshot["alerts_open"] = counts
        return snapshot

    # ---- alerts: kept by the AlertBook, told through the notifiers ------------------------------

    def raise_alert(self, component: str, condition: str, severity: str, message: str) -> None:
        """Trouble an event reported (a job failed, a file was corrupt): one open alert per
        component and condition, counted again while open; resolves by clear_alert, by hand or
        when quiet."""
        self.book.raise_event(component, condition, severity, message)

    def clear_alert(self, component: str, condition: str, message: str) -> None:
        self.book.clear_event(component, condition, message)

    def _deliver(self, note: Notification) -> None:
        """A notice the rules said to give: to every notifier (the book already kept it)."""
        if self.notifiers is not None:
            self.notifiers.send(note)

    def _delivered(self, delivery: Delivery) -> None:
        """A notifier's own failure is an alert of its own (shown, and told to the other notifiers)."""
        self._deliveries.append(delivery)
        if delivery.kind == "test":
            return
        condition = f"notifier_{delivery.notifier_id}"
        if delivery.ok:
            self.clear_alert("notify", condition, f"{delivery.name} delivers again")
        else:
            self.raise_alert("notify", condition, "warning", f"notifier {delivery.name} failed: {delivery.detail}")

    # ---- notifiers (the owner's process: the URLs are secrets in its data directory) -------------

    def _notifiers(self) -> Notifiers:
        if self.notifiers is None:
            raise ConfigError("notifiers are set up in the process that owns the data directory")
        return self.notifiers

    def notifier_rows(self) -> list[dict[str, Any]]:
        """Each notifier as the Settings page shows it: URL masked, last delivery in words."""
        notifiers = self._notifiers()
        last = {delivery.notifier_id: delivery for delivery in self._deliveries}
        rows = []
        for config in notifiers.configs():
            delivery = last.get(config.notifier_id)
            said = ("no message sent yet" if delivery is None else
                    f"last {delivery.kind} {'sent' if delivery.ok else 'FAILED'} at {delivery.when:%H:%M:%S} UTC: "
                    f"{delivery.detail}")
            held = notifiers.held(config.notifier_id)
            rows.append({**config.to_doc(), "min_severity": config.min_severity.value,
                         "url": notifiers.masked_url(config.notifier_id) or "(no URL)",
                         "last": said + (f" · {held} held back by the rate limit" if held else "")})
        return rows

    def save_notifier(self, config: NotifierConfig, url: str | None = None) -> None:
        self._notifiers().save(config, url)

    def set_notifier_enabled(self, notifier_id: str, enabled: bool) -> bool:
        notifiers = self._notifiers()
        notifiers.save(replace(notifiers.config(notifier_id), enabled=bool(enabled)))
        return True

    def remove_notifier(self, notifier_id: str) -> bool:
        return self._notifiers().remove(notifier_id)

    def test_notifier(self, notifier_id: str) -> Delivery:
        return self._notifiers().send_test(notifier_id)

    def deliveries(self) -> list[Delivery]:
        """The last hundred messages sent (or not), newest first."""
        return list(reversed(self._deliveries))
