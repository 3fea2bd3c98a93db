"""AlertBook: the alerts of one data directory, applied by the pure rules and kept in the Store.

``alerting.py`` decides; this module keeps what it decided:

- one rule state per (component, condition) in the table ``alert_states``, so that a restart
  remembers a pending or firing alert and does not announce it a second time;
- one document per alert that fired, in the table ``alerts`` (the alert history): its count,
  first and last seen, whether someone acknowledged it and how it ended. Resolved alerts are kept
  ``retention_days`` and at most ``MAX_HISTORY`` of them;
- silences and maintenance windows, in the tables ``silences`` and ``maintenance``;
- the last ``MAX_NOTICES`` notifications, in the table ``notices`` (the dashboard's toasts).

Two kinds of source feed it. Checks report every round, healthy or not (``observe``). Events
report only trouble, such as a failed job or a corrupt file (``raise_event``). An event alert
resolves when its source says so (``clear_event``), by hand, or once it has not been seen again
for ``quiet_resolve``, like Alertmanager's ``resolve_timeout``.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable

from .alerting import (AlertRule, AlertState, MaintenanceWindow, Notification, Silence, acknowledge,
                       alert_transition, initial_state, owed_now, resolve_manually)
from .errors import ConfigError
from .health import AlertSeverity, CheckResult, HealthStatus
from .storage import Store
from .timeutil import Clock, ensure_utc, from_iso, to_iso, utc_now

log = logging.getLogger(__name__)

MAX_HISTORY = 1000
MAX_NOTICES = 50
STATUS_FOR_EVENT = {AlertSeverity.INFO: HealthStatus.DEGRADED, AlertSeverity.WARNING: HealthStatus.DEGRADED,
                    AlertSeverity.ERROR: HealthStatus.UNHEALTHY, AlertSeverity.CRITICAL: HealthStatus.CRITICAL}
OnNotice = Callable[[Notification], None]


def state_key(component: str, condition: str) -> str:
    return f"{component}:{condition}"


def episode_doc(state: AlertState, source: str, resolved_by: str | None) -> dict[str, Any]:
    """What the alert history keeps of one alert (the Overview and Health pages read it)."""
    return {
        "alert_id": state.alert_id, "component": state.component, "condition": state.condition,
        "source": source, "severity": (state.severity or AlertSeverity.WARNING).value, "message": state.message,
        "count": state.count, "first_seen": to_iso(state.first_seen), "last_seen": to_iso(state.last_seen),
        "fired_at": to_iso(state.fired_at), "resolved_at": to_iso(state.resolved_at),
        "resolved": state.phase == "resolved", "resolved_by": resolved_by, "acknowledged": state.acknowledged,
        "recovery": state.recovery,
    }


def silence_to_doc(silence_id: str, silence: Silence) -> dict[str, Any]:
    return {"silence_id": silence_id, "component": silence.component, "condition": silence.condition,
            "start": to_iso(silence.start), "end": to_iso(silence.end), "reason": silence.reason}


def silence_from_doc(doc: dict[str, Any]) -> Silence:
    return Silence(doc.get("component"), doc.get("condition"), ensure_utc(datetime.fromisoformat(doc["start"])),
                   ensure_utc(datetime.fromisoformat(doc["end"])), doc.get("reason", ""))


def window_to_doc(window_id: str, window: MaintenanceWindow) -> dict[str, Any]:
    return {"window_id": window_id, "component": window.component, "cron": window.cron,
            "duration_seconds": window.duration_seconds, "start": to_iso(window.start),
            "end": to_iso(window.end), "timezone": window.timezone, "reason": window.reason}


def window_from_doc(doc: dict[str, Any]) -> MaintenanceWindow:
    return MaintenanceWindow(component=doc.get("component"), cron=doc.get("cron"),
                             duration_seconds=doc.get("duration_seconds") or 0.0, start=from_iso(doc.get("start")),
                             end=from_iso(doc.get("end")), timezone=doc.get("timezone") or "UTC",
                             reason=doc.get("reason", ""))


class AlertBook:
    """Applies the alert rules to results and events, keeps the outcome, says what to tell people."""

    def __init__(self, store: Store, *, clock: Clock = utc_now, rule: AlertRule | None = None,
                 quiet_resolve: timedelta = timedelta(minutes=30), retention_days: int = 90) -> None:
        if not isinstance(retention_days, int) or isinstance(retention_days, bool) or retention_days < 1:
            raise ConfigError(f"retention_days must be a whole number of days >= 1, got {retention_days!r}")
        self.store = store
        self.rule = rule or AlertRule()
        self.event_rule = replace(self.rule, fail_threshold=1)  # an event is already a confirmed problem
        self.quiet_resolve = quiet_resolve
        self.retention_days = retention_days
        self.on_notice: OnNotice | None = None
        self._clock = clock
        self._lock = threading.RLock()
        self._states: dict[str, AlertState] = {}
        self._sources: dict[str, str] = {}
        self._holds: tuple[list[Silence], list[MaintenanceWindow]] | None = None
        self._load()

    def _load(self) -> None:
        for doc in self.store.alert_states.all():
            key, source = doc.pop("key"), doc.pop("source", "check")
            try:
                self._states[key] = AlertState.from_doc(doc)
                self._sources[key] = source
            except (ConfigError, KeyError, TypeError, ValueError) as exc:
                log.warning("alert state %s is unreadable and starts afresh: %s", key, exc)

    # ---- results and events ---------------------------------------------------------------------

    def observe(self, component: str, condition: str, result: CheckResult) -> list[Notification]:
        """One check result; returns (and hands to ``on_notice``) what to tell people."""
        return self._apply(component, condition, "check", result, self.rule)

    def raise_event(self, component: str, condition: str, severity: AlertSeverity | str,
                    message: str) -> list[Notification]:
        """Trouble reported once: fires at once, or counts again on the alert already open."""
        level = AlertSeverity(severity)
        result = CheckResult(STATUS_FOR_EVENT[level], message)
        return self._apply(component, condition, "event", result, self.event_rule)

    def clear_event(self, component: str, condition: str, message: str) -> list[Notification]:
        """The event's source says it is fine again; cheap when nothing is open (called often)."""
        with self._lock:
            state = self._states.get(state_key(component, condition))
            if state is None or not state.is_open:
                return []
        return self._apply(component, condition, "event", CheckResult(HealthStatus.HEALTHY, message), self.event_rule)

    def _apply(self, component: str, condition: str, source: str, result: CheckResult,
               rule: AlertRule) -> list[Notification]:
        key = state_key(component, condition)
        with self._lock:
            before = self._states.get(key) or initial_state(component, condition)
            silences, windows = self.holds()
            after, notes = alert_transition(before, result, self._clock(), rule, silences, windows)
            self._keep(key, source, before, after, "auto")
        self._tell(notes)
        return notes

    def sweep(self) -> list[Notification]:
        """Resolve quiet events, say reminders come due and notices a lifted hold let through,
        and prune the history. The Supervisor calls this every minute."""
        now = self._clock()
        notes: list[Notification] = []
        for key, state in list(self._states.items()):
            source = self._sources.get(key, "check")
            if source == "event" and state.is_open and state.last_seen and now - state.last_seen >= self.quiet_resolve:
                notes += self._apply(state.component, state.condition, "event", CheckResult(
                    HealthStatus.HEALTHY, f"not seen again for {self.quiet_resolve.total_seconds() / 60:g} min"),
                    self.event_rule)
                continue
            with self._lock:
                state = self._states[key]
                rule = self.event_rule if source == "event" else self.rule
                after, said = owed_now(state, now, rule, *self.holds())
                self._keep(key, source, state, after, "auto")
            self._tell(said)
            notes += said
        self.prune(now)
        return notes

    def _keep(self, key: str, source: str, before: AlertState, after: AlertState, resolved_by: str) -> None:
        self._states[key], self._sources[key] = after, source
        if before == after or (before.phase == "ok" and after.phase == "ok"):
            return  # healthy and staying so: nothing worth a write
        self.store.alert_states.upsert({**after.to_doc(), "key": key, "source": source})
        if after.fired_at is not None and after.alert_id:
            ended = resolved_by if after.phase == "resolved" else None
            self.store.alerts.upsert(episode_doc(after, source, ended))

    def _tell(self, notes: list[Notification]) -> None:
        for note in notes:
            log.warning("alert %s", note.text)
            self._record_notice(note)
            if self.on_notice is not None:
                try:
                    self.on_notice(note)
                except Exception:
                    log.exception("delivering an alert notice failed")

    def _record_notice(self, note: Notification) -> None:
        now = self._clock()
        self.store.notices.upsert({
            "notice_id": f"{to_iso(now)}:{uuid.uuid4().hex[:6]}", "ts": to_iso(now), "kind": note.kind,
            "alert_id": note.alert.alert_id, "component": note.alert.component,
            "severity": (note.alert.severity or AlertSeverity.WARNING).value, "text": note.text})
        notices = sorted(self.store.notices.all(), key=lambda doc: doc["ts"])
        if len(notices) > MAX_NOTICES:
            self.store.notices.delete([doc["notice_id"] for doc in notices[:-MAX_NOTICES]])

    # ---- people's actions -----------------------------------------------------------------------

    def acknowledge(self, alert_id: str) -> bool:
        """Someone is on it: no more reminders. False when no open alert has that id."""
        return self._change(alert_id, acknowledge, None)

    def resolve(self, alert_id: str) -> bool:
        """Close an open alert by hand. False when no open alert has that id."""
        return self._change(alert_id, lambda state: resolve_manually(state, self._clock()), "hand")

    def _change(self, alert_id: str, change: Callable[[AlertState], AlertState], resolved_by: str | None) -> bool:
        with self._lock:
            for key, state in self._states.items():
                if state.alert_id == alert_id and state.is_open:
                    self._keep(key, self._sources.get(key, "check"), state, change(state), resolved_by or "auto")
                    return True
            doc = self.store.alerts.get(alert_id)  # an alert kept from before (no rule state behind it)
            if doc is None or doc.get("resolved"):
                return False
            if resolved_by:
                doc.update(resolved=True, resolved_by=resolved_by, resolved_at=to_iso(self._clock()))
            else:
                doc["acknowledged"] = True
            self.store.alerts.upsert(doc)
            return True

    # ---- silences and maintenance ---------------------------------------------------------------

    def holds(self) -> tuple[list[Silence], list[MaintenanceWindow]]:
        """The stored silences and maintenance windows (read once, then kept until one changes)."""
        with self._lock:
            if self._holds is None:
                self._holds = ([silence_from_doc(doc) for doc in self.store.silences.all()],
                               [window_from_doc(doc) for doc in self.store.maintenance.all()])
            return self._holds

    def add_silence(self, silence: Silence) -> str:
        silence_id = f"silence-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.store.silences.upsert(silence_to_doc(silence_id, silence))
            self._holds = None
        return silence_id

    def add_maintenance(self, window: MaintenanceWindow) -> str:
        window_id = f"window-{uuid.uuid4().hex[:8]}"
        with self._lock:
            self.store.maintenance.upsert(window_to_doc(window_id, window))
            self._holds = None
        return window_id

    def remove_hold(self, hold_id: str) -> bool:
        """Remove a silence or a maintenance window by its id."""
        with self._lock:
            removed = self.store.silences.delete([hold_id]) + self.store.maintenance.delete([hold_id])
            self._holds = None
        return removed > 0

    def silences(self) -> list[dict[str, Any]]:
        return sorted(self.store.silences.all(), key=lambda doc: doc["start"])

    def maintenance_windows(self) -> list[dict[str, Any]]:
        return sorted(self.store.maintenance.all(), key=lambda doc: doc["window_id"])

    def held(self, component: str, condition: str) -> str | None:
        """Why notices for this alert are held now (a silence or maintenance), or None."""
        silences, windows = self.holds()
        now = self._clock()
        for silence in silences:
            if silence.matches(component, condition) and silence.active(now):
                return f"silenced until {silence.end:%Y-%m-%d %H:%M} UTC"
        for window in windows:
            if window.matches(component) and window.active(now):
                return "in a maintenance window"
        return None

    # ---- reading --------------------------------------------------------------------------------

    def open_alerts(self) -> list[dict[str, Any]]:
        """Fired and not resolved, worst first, then most recent."""
        rank = {severity.value: index for index, severity in enumerate(AlertSeverity)}
        alerts = [doc for doc in self.store.alerts.all() if not doc.get("resolved")]
        alerts.sort(key=lambda doc: doc.get("last_seen") or "", reverse=True)
        return sorted(alerts, key=lambda doc: -rank.get(doc.get("severity", "warning"), 1))

    def history(self, limit: int = 200) -> list[dict[str, Any]]:
        """Every kept alert, most recent first."""
        alerts = sorted(self.store.alerts.all(), key=lambda doc: doc.get("first_seen") or "", reverse=True)
        return alerts[:limit]

    def notices(self, since: str | None = None) -> list[dict[str, Any]]:
        """The kept notifications after ``since`` (an ISO time), oldest first."""
        found = sorted(self.store.notices.all(), key=lambda doc: doc["ts"])
        return [doc for doc in found if since is None or doc["ts"] > since]

    def states(self) -> dict[str, AlertState]:
        with self._lock:
            return dict(self._states)

    def prune(self, now: datetime) -> int:
        """Forget resolved alerts older than the retention, and the oldest beyond MAX_HISTORY."""
        cutoff = to_iso(ensure_utc(now) - timedelta(days=self.retention_days)) or ""
        resolved = sorted((doc for doc in self.store.alerts.all() if doc.get("resolved")),
                          key=lambda doc: doc.get("resolved_at") or doc.get("last_seen") or "")
        old = [doc for doc in resolved if (doc.get("resolved_at") or doc.get("last_seen") or "") < cutoff]
        total = len(self.store.alerts.all())
        excess = resolved[:max(0, total - MAX_HISTORY)]
        doomed = {doc["alert_id"] for doc in old + excess}
        return self.store.alerts.delete(sorted(doomed)) if doomed else 0
