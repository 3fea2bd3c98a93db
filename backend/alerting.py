"""Pure alert rules: when failing checks become an alert, what is said to people, and when it ends.

After Alertmanager and Uptime Kuma. One ``AlertState`` per (component, condition) moves through
``ok -> pending -> firing -> resolved``; ``alert_transition`` takes one check result and returns
the next state plus what should be said. Nothing here reads a clock: ``now`` is always passed in.

Notifications are derived from the difference between the state and what people were last told
(``notified_severity``, ``last_notified_at``). A notification held back by flapping, a silence or
a maintenance window is therefore not lost: it is said at the first result after the hold lifts,
if it is still true then (an alert that fired and resolved inside a silence is never mentioned).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, Sequence, get_args
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from .errors import ConfigError
from .health import SEVERITY_FOR_STATUS, AlertSeverity, CheckResult, HealthStatus
from .timeutil import UTC, ensure_utc, from_iso, resolve_zone, to_iso

Phase = Literal["ok", "pending", "firing", "resolved"]
NotificationKind = Literal["firing", "resolved", "reminder", "escalated"]
PHASES: tuple[str, ...] = get_args(Phase)
OPEN_PHASES = frozenset({"pending", "firing"})

MAX_COUNT = 1000
MAX_REMINDER_SECONDS = 30 * 24 * 3600.0
MAX_WINDOW_SECONDS = 366 * 24 * 3600.0
# Wall-clock order and real order of cron starts differ by at most the largest DST shift in the
# zone database (2 h, Antarctica/Troll); searching this far past ``now`` finds a start cronsim
# would otherwise order after it on the day clocks fall back.
DST_SLACK = timedelta(hours=2)

_RANK = {AlertSeverity.INFO: 0, AlertSeverity.WARNING: 1, AlertSeverity.ERROR: 2, AlertSeverity.CRITICAL: 3}


def _check_count(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number {low}-{high}, got {value!r}")


def _check_seconds(name: str, value: Any, low: float, high: float) -> None:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or not low <= value <= high):
        raise ConfigError(f"{name} must be a number of seconds {low:g}-{high:g}, got {value!r}")


def _check_target(name: str, value: Any) -> None:
    # None means "all"; an empty name would silently match nothing, so it is refused.
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{name} must be a name or None (all), got {value!r}")


@dataclass(frozen=True)
class AlertRule:
    """How many results it takes to fire and to resolve, what counts as flapping, when to remind."""

    fail_threshold: int = 3  # consecutive non-healthy results before firing (pending before that)
    recover_threshold: int = 1  # consecutive healthy results to resolve
    flap_window: int = 10  # the last N results...
    flap_changes: int = 4  # ...changing healthy <-> non-healthy this often: flapping
    reminder_seconds: float = 3600  # re-notify an open CRITICAL alert this often

    def __post_init__(self) -> None:
        _check_count("fail_threshold", self.fail_threshold, 1, MAX_COUNT)
        _check_count("recover_threshold", self.recover_threshold, 1, MAX_COUNT)
        _check_count("flap_window", self.flap_window, 2, MAX_COUNT)
        # N results hold at most N-1 changes: a larger flap_changes could never trigger.
        _check_count("flap_changes (below flap_window)", self.flap_changes, 1, self.flap_window - 1)
        _check_seconds("reminder_seconds", self.reminder_seconds, 1, MAX_REMINDER_SECONDS)


@dataclass(frozen=True)
class Silence:
    """One-off: hold notifications for matching alerts from ``start`` (inclusive) to ``end``."""

    component: str | None  # None: every component
    condition: str | None  # None: every condition
    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        _check_target("component", self.component)
        _check_target("condition", self.condition)
        object.__setattr__(self, "start", ensure_utc(self.start))
        object.__setattr__(self, "end", ensure_utc(self.end))
        if self.end <= self.start:
            raise ConfigError(f"end must be after start, got start {self.start.isoformat()} "
                              f"and end {self.end.isoformat()}")

    def matches(self, component: str, condition: str) -> bool:
        return self.component in (None, component) and self.condition in (None, condition)

    def active(self, now: datetime) -> bool:
        return self.start <= ensure_utc(now) < self.end


@dataclass(frozen=True)
class MaintenanceWindow:
    """Planned work on a component: a cron start plus a duration, or one-off ``start``/``end``.

    The cron runs on the wall clock of ``timezone`` with Debian cron's DST rule (a start in the
    skipped hour runs when the clock resumes). Naive one-off times are wall times in ``timezone``.
    """

    component: str | None = None  # None: every component
    cron: str | None = None
    duration_seconds: float = 0.0  # cron windows only
    start: datetime | None = None  # one-off windows only
    end: datetime | None = None
    timezone: str = "UTC"
    reason: str = ""

    def __post_init__(self) -> None:
        _check_target("component", self.component)
        zone = resolve_zone(self.timezone)
        if self.cron is not None:
            self._validate_cron()
        else:
            self._validate_one_off(zone)

    def _validate_cron(self) -> None:
        try:
            CronSim(str(self.cron), datetime(2000, 1, 1))
        except (CronSimError, ValueError) as exc:
            raise ConfigError(f"cron must be five fields such as '0 2 * * *', got {self.cron!r} ({exc})") from None
        _check_seconds("duration_seconds", self.duration_seconds, 1, MAX_WINDOW_SECONDS)
        if self.start is not None or self.end is not None:
            raise ConfigError("start and end are for a one-off window; a cron window has cron and "
                              "duration_seconds only")

    def _validate_one_off(self, zone: ZoneInfo) -> None:
        if self.start is None or self.end is None:
            raise ConfigError("a maintenance window needs cron and duration_seconds, or start and end; "
                              f"got start {self.start!r} and end {self.end!r}")
        if self.duration_seconds:
            raise ConfigError(f"duration_seconds is for a cron window; a one-off window uses start and end, "
                              f"got duration_seconds {self.duration_seconds!r}")
        start, end = (ensure_utc(t if t.tzinfo else t.replace(tzinfo=zone)) for t in (self.start, self.end))
        if end <= start:
            raise ConfigError(f"end must be after start, got start {start.isoformat()} and end {end.isoformat()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)

    def matches(self, component: str) -> bool:
        return self.component in (None, component)

    def active(self, now: datetime) -> bool:
        """Inside the window: the latest start at or before ``now`` is less than the duration ago."""
        now = ensure_utc(now)
        if self.cron is None:
            assert self.start is not None and self.end is not None
            return self.start <= now < self.end
        duration = timedelta(seconds=self.duration_seconds)
        start = latest_cron_start(self.cron, resolve_zone(self.timezone), now, duration)
        return start is not None and now < start + duration


def latest_cron_start(expr: str, zone: ZoneInfo, now: datetime, lookback: timedelta) -> datetime | None:
    """The latest real instant (UTC) at or before ``now`` matching ``expr`` on ``zone``'s wall clock.

    None when there is none within ``lookback``. cronsim walks the wall clock backwards; when
    clocks fall back, a wall-clock-later start can be really earlier, so the walk begins
    ``DST_SLACK`` after now and stops only once no remaining start can be later than the best.
    """
    now = ensure_utc(now)
    begin = (now.replace(microsecond=0) + DST_SLACK + timedelta(seconds=1)).astimezone(zone)
    best: datetime | None = None
    floor = now - lookback
    for start in CronSim(expr, begin, reverse=True):  # stops by itself 50 years back
        real = start.astimezone(UTC)
        if real <= now and (best is None or real > best):
            best = real
            floor = max(floor, best)
        if real + DST_SLACK <= floor:  # everything further back is earlier than the floor
            break
    return best if best is not None and best > now - lookback else None


def active_silence(silences: Sequence[Silence], component: str, condition: str, now: datetime) -> Silence | None:
    return next((s for s in silences if s.matches(component, condition) and s.active(now)), None)


def active_maintenance(windows: Sequence[MaintenanceWindow], component: str, now: datetime) -> MaintenanceWindow | None:
    return next((w for w in windows if w.matches(component) and w.active(now)), None)


def flap_count(history: Sequence[HealthStatus]) -> int:
    """How often the results switched between healthy and not healthy.

    Severity moves (degraded -> critical) are not counted: a disk filling up step by step and
    then cleaned would otherwise look like flapping and have its recovery held back.
    """
    healthy = [status is HealthStatus.HEALTHY for status in history]
    return sum(1 for before, after in zip(healthy, healthy[1:]) if before != after)


def is_flapping(history: Sequence[HealthStatus], rule: AlertRule) -> bool:
    return flap_count(history[-rule.flap_window:]) >= rule.flap_changes


@dataclass(frozen=True)
class AlertState:
    """One alert per (component, condition): never a new alert per failed run."""

    alert_id: str  # f"{component}:{condition}:{first_seen}"; empty while no episode is open
    component: str
    condition: str
    phase: str  # one of PHASES
    severity: AlertSeverity | None  # the worst seen in this episode
    message: str  # the last non-healthy check message (carries the measured figure)
    count: int  # non-healthy results in this episode
    consecutive_failures: int
    consecutive_successes: int
    first_seen: datetime | None
    last_seen: datetime | None  # the last non-healthy result
    fired_at: datetime | None
    resolved_at: datetime | None
    last_notified_at: datetime | None
    history: tuple[HealthStatus, ...]  # the last flap_window statuses
    acknowledged: bool = False
    # What people were last told: None before the firing notice and after the resolved notice.
    notified_severity: AlertSeverity | None = None
    recovery: str = ""  # the healthy message that resolved it (for the resolved notice)

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ConfigError(f"phase must be one of {', '.join(PHASES)}, got {self.phase!r}")

    @property
    def is_open(self) -> bool:
        return self.phase in OPEN_PHASES

    def to_doc(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "component": self.component, "condition": self.condition,
            "phase": self.phase, "severity": _value(self.severity), "message": self.message,
            "count": self.count, "consecutive_failures": self.consecutive_failures,
            "consecutive_successes": self.consecutive_successes, "first_seen": to_iso(self.first_seen),
            "last_seen": to_iso(self.last_seen), "fired_at": to_iso(self.fired_at),
            "resolved_at": to_iso(self.resolved_at), "last_notified_at": to_iso(self.last_notified_at),
            "history": [status.value for status in self.history], "acknowledged": self.acknowledged,
            "notified_severity": _value(self.notified_severity), "recovery": self.recovery,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "AlertState":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ConfigError(f"unknown alert fields {unknown}; valid: {sorted(known)}")
        values = dict(doc)
        for name in ("first_seen", "last_seen", "fired_at", "resolved_at", "last_notified_at"):
            values[name] = from_iso(values.get(name))
        for name in ("severity", "notified_severity"):
            values[name] = None if values.get(name) is None else AlertSeverity(values[name])
        values["history"] = tuple(HealthStatus(status) for status in values.get("history", ()))
        return cls(**values)


def _value(severity: AlertSeverity | None) -> str | None:
    return None if severity is None else severity.value


@dataclass(frozen=True)
class Notification:
    """What should be said to people; the notifier layer sends it."""

    kind: NotificationKind
    alert: AlertState  # the state after the transition
    text: str  # one plain sentence with the figure


def initial_state(component: str, condition: str) -> AlertState:
    """A (component, condition) with no results yet."""
    for name, value in (("component", component), ("condition", condition)):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{name} must be a non-empty name, got {value!r}")
    return AlertState(alert_id="", component=component, condition=condition, phase="ok", severity=None,
                      message="", count=0, consecutive_failures=0, consecutive_successes=0, first_seen=None,
                      last_seen=None, fired_at=None, resolved_at=None, last_notified_at=None, history=())


def alert_id_for(component: str, condition: str, first_seen: datetime) -> str:
    """Readable and unique per episode: two episodes cannot start at the same check."""
    moment = ensure_utc(first_seen)
    stamp = f"{moment:%Y%m%dT%H%M%S}" + (f".{moment:%f}" if moment.microsecond else "")
    return f"{component}:{condition}:{stamp}Z"


def alert_transition(
    state: AlertState, result: CheckResult, now: datetime, rule: AlertRule,
    silences: Sequence[Silence] = (), maintenance: Sequence[MaintenanceWindow] = (),
) -> tuple[AlertState, list[Notification]]:
    """The next state after one check result, and what to tell people now (usually nothing).

    Flapping, a matching silence or a matching maintenance window change nothing in the state;
    they only hold notifications, which are said once the hold lifts if still true.
    """
    now = ensure_utc(now)
    return owed_now(observe(state, result, now, rule), now, rule, silences, maintenance)


def owed_now(
    state: AlertState, now: datetime, rule: AlertRule,
    silences: Sequence[Silence] = (), maintenance: Sequence[MaintenanceWindow] = (),
) -> tuple[AlertState, list[Notification]]:
    """What to tell people now about a state, without a new result: a reminder come due, or a
    notice held back by a silence that has since lifted. Nothing while a hold is on."""
    now = ensure_utc(now)
    held = (is_flapping(state.history, rule)
            or active_silence(silences, state.component, state.condition, now) is not None
            or active_maintenance(maintenance, state.component, now) is not None)
    if held:
        return state, []
    return _tell(state, now, rule)


def observe(state: AlertState, result: CheckResult, now: datetime, rule: AlertRule) -> AlertState:
    """The state after one result, before deciding what to say."""
    if result.status is HealthStatus.UNKNOWN:
        return state  # "not checked": no evidence either way, so nothing moves
    history = (*state.history, result.status)[-rule.flap_window:]
    if result.status is HealthStatus.HEALTHY:
        return _on_healthy(state, result, now, rule, history)
    return _on_failure(state, result, now, rule, history)


def _on_healthy(state: AlertState, result: CheckResult, now: datetime, rule: AlertRule,
                history: tuple[HealthStatus, ...]) -> AlertState:
    successes = state.consecutive_successes + 1
    if state.phase == "pending":
        # As Prometheus drops a pending alert the moment its condition clears: nothing was said.
        return replace(initial_state(state.component, state.condition), history=history,
                       message=result.message, consecutive_successes=successes)
    settled = not is_flapping(history, rule)  # a flapping alert stays firing until it settles
    resolves = state.phase == "firing" and successes >= rule.recover_threshold and settled
    # The alert keeps saying what was wrong; the healthy figure is its recovery.
    return replace(state, history=history, recovery=result.message if resolves else state.recovery,
                   consecutive_failures=0, consecutive_successes=successes,
                   phase="resolved" if resolves else state.phase,
                   resolved_at=now if resolves else state.resolved_at)


def _on_failure(state: AlertState, result: CheckResult, now: datetime, rule: AlertRule,
                history: tuple[HealthStatus, ...]) -> AlertState:
    if not state.is_open:
        state = _new_episode(state, now)
    severity = SEVERITY_FOR_STATUS[result.status]
    worst = severity if state.severity is None or _RANK[severity] > _RANK[state.severity] else state.severity
    failures = state.consecutive_failures + 1
    fires = state.phase == "pending" and failures >= rule.fail_threshold
    return replace(
        state, history=history, message=result.message, count=state.count + 1,
        consecutive_failures=failures, consecutive_successes=0, last_seen=now, severity=worst,
        phase="firing" if fires else state.phase, fired_at=now if fires else state.fired_at,
        # What was acknowledged was a lesser problem: a worse one needs someone's attention again.
        acknowledged=state.acknowledged and worst == state.severity,
    )


def _new_episode(state: AlertState, now: datetime) -> AlertState:
    return replace(initial_state(state.component, state.condition), history=state.history,
                   alert_id=alert_id_for(state.component, state.condition, now), phase="pending",
                   first_seen=now)


def owed_notification(state: AlertState, now: datetime, rule: AlertRule) -> NotificationKind | None:
    """What people should be told now that they have not been, if anything."""
    if state.phase == "resolved":
        return "resolved" if state.notified_severity is not None else None
    if state.phase != "firing" or state.severity is None:
        return None
    if state.notified_severity is None:
        return "firing"
    if _RANK[state.severity] > _RANK[state.notified_severity]:
        return "escalated"
    reminder_due = (state.last_notified_at is not None
                    and now - state.last_notified_at >= timedelta(seconds=rule.reminder_seconds))
    if state.severity is AlertSeverity.CRITICAL and not state.acknowledged and reminder_due:
        return "reminder"
    return None


def _tell(state: AlertState, now: datetime, rule: AlertRule) -> tuple[AlertState, list[Notification]]:
    kind = owed_notification(state, now, rule)
    if kind is None:
        return state, []
    told = replace(state, last_notified_at=now,
                   notified_severity=None if kind == "resolved" else state.severity)
    return told, [Notification(kind, told, notification_text(kind, told, now, state.notified_severity))]


def acknowledge(state: AlertState) -> AlertState:
    """Someone is on it: no more reminders for this episode (a closed alert is left as it is)."""
    return replace(state, acknowledged=True) if state.is_open else state


def resolve_manually(state: AlertState, now: datetime) -> AlertState:
    """A person closes the alert; if the check still fails, a new episode starts from scratch.

    No "resolved" notice is owed: the person resolving it knows, and the caller may announce it.
    """
    if not state.is_open:
        return state
    return replace(state, phase="resolved", resolved_at=ensure_utc(now), consecutive_failures=0,
                   notified_severity=None)


def notification_text(kind: NotificationKind, alert: AlertState, now: datetime,
                      previous: AlertSeverity | None = None) -> str:
    """One plain sentence with the figure, e.g.
    "[ERROR] disk: 96.2 % used on /data (threshold 90 %) — failing 3 times since 14:02 UTC"."""
    severity = (alert.severity or AlertSeverity.WARNING).value.upper()
    said = alert.recovery if kind == "resolved" and alert.recovery else alert.message
    message = said.strip().rstrip(".") or alert.condition
    since = _clock(alert.first_seen, now)
    failing = f"failing {_times(alert.count)} since {since}"
    if kind == "firing":
        tail = failing
    elif kind == "escalated":
        was = f"was {previous.value.upper()}, " if previous else ""
        tail = f"worse: {was}{failing}"
    elif kind == "reminder":
        open_for = _span(now - (alert.fired_at or alert.first_seen or now))
        tail = f"still open after {open_for} and not acknowledged, {failing}"
    else:
        severity = "RESOLVED"
        lasted = _span(now - (alert.first_seen or now))
        tail = f"healthy again after {lasted} (was {(alert.severity or AlertSeverity.WARNING).value.upper()} since {since})"
    return f"[{severity}] {alert.component}: {message} — {tail}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _clock(moment: datetime | None, now: datetime) -> str:
    """"14:02 UTC" today, "2026-03-28 14:02 UTC" on another day."""
    if moment is None:
        return "now"
    moment, now = ensure_utc(moment), ensure_utc(now)
    return f"{moment:%H:%M} UTC" if moment.date() == now.date() else f"{moment:%Y-%m-%d %H:%M} UTC"


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min" if minutes else f"{secs} s"
