"""The scheduler's document shapes: its configuration and one scheduled debate.

Both validate on construction and raise ``ConfigError`` (a ``ValueError``) naming the field and
its valid range, so a bad form or a bad file never reaches the store.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from cronsim import CronSim, CronSimError

from .errors import ConfigError
from .timeutil import ensure_utc, from_iso, resolve_zone, to_iso

MAX_TOPIC_CHARS = 300
DEFAULT_ADAPTIVE_HOURS = (9, 12, 15, 18, 21)


class ScheduleType(str, Enum):
    INTERVAL = "interval"
    CRON = "cron"
    ADAPTIVE = "adaptive"
    EVENT_DRIVEN = "event_driven"


class DebateStatus(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # was running when the process stopped
    MISSED = "missed"  # its time passed while the process was down, beyond the grace window


FINISHED = frozenset(
    {DebateStatus.COMPLETED, DebateStatus.FAILED, DebateStatus.CANCELLED,
     DebateStatus.INTERRUPTED, DebateStatus.MISSED}
)
# Debates that took (or will take) a place in a day: they count against the daily cap.
OCCUPYING = frozenset(
    {DebateStatus.PENDING, DebateStatus.RUNNING, DebateStatus.COMPLETED,
     DebateStatus.FAILED, DebateStatus.INTERRUPTED}
)


def _check_range(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number {low}-{high}, got {value!r}")


def validate_topic(topic: Any) -> str:
    """A topic is 1-300 characters of text after trimming; returns it trimmed."""
    if not isinstance(topic, str) or not topic.strip():
        raise ConfigError("topic must be non-empty text, got an empty topic")
    topic = " ".join(topic.split())
    if len(topic) > MAX_TOPIC_CHARS:
        raise ConfigError(f"topic must be at most {MAX_TOPIC_CHARS} characters, got {len(topic)}")
    return topic


@dataclass(frozen=True)
class ScheduleConfig:
    """When debates run. Field names and defaults follow the seed README."""

    schedule_type: ScheduleType = ScheduleType.INTERVAL
    interval_minutes: int = 60
    max_debates_per_day: int = 24
    quiet_hours_start: int | None = None  # local hour 0-23; equal start and end: no quiet hours
    quiet_hours_end: int | None = None
    min_interval_minutes: int = 15
    cron_expression: str | None = None
    timezone: str | None = None  # IANA name; None: the machine's zone
    start_date: datetime | None = None  # INTERVAL anchor (as APScheduler); None: local midnight
    adaptive_hours: tuple[int, ...] = DEFAULT_ADAPTIVE_HOURS  # prior until analytics learns
    retry_failed: bool = True
    max_retries: int = 2
    retry_delay_seconds: int = 30  # first retry; doubles each time
    misfire_grace_seconds: int = 300
    duplicate_topic_hours: int = 24  # an event repeating a topic this recent is ignored

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "schedule_type", ScheduleType(self.schedule_type))
        except ValueError:
            valid = ", ".join(t.value for t in ScheduleType)
            raise ConfigError(f"schedule_type must be one of {valid}, got {self.schedule_type!r}") from None
        _check_range("interval_minutes", self.interval_minutes, 1, 7 * 24 * 60)
        _check_range("max_debates_per_day", self.max_debates_per_day, 1, 24 * 60)
        _check_range("min_interval_minutes", self.min_interval_minutes, 0, 24 * 60)
        self._validate_quiet_hours()
        self._validate_cron()
        resolve_zone(self.timezone)
        hours = tuple(self.adaptive_hours)
        if not hours:
            raise ConfigError("adaptive_hours must name at least one hour 0-23, got none")
        for hour in hours:
            _check_range("adaptive_hours entries", hour, 0, 23)
        object.__setattr__(self, "adaptive_hours", tuple(sorted(set(hours))))
        if self.start_date is not None:
            object.__setattr__(self, "start_date", ensure_utc(self.start_date))
        _check_range("max_retries", self.max_retries, 0, 20)
        _check_range("retry_delay_seconds", self.retry_delay_seconds, 1, 24 * 3600)
        _check_range("misfire_grace_seconds", self.misfire_grace_seconds, 0, 7 * 24 * 3600)
        _check_range("duplicate_topic_hours", self.duplicate_topic_hours, 0, 24 * 30)

    def _validate_quiet_hours(self) -> None:
        start, end = self.quiet_hours_start, self.quiet_hours_end
        if (start is None) != (end is None):
            raise ConfigError("quiet_hours_start and quiet_hours_end must both be set or both be empty")
        if start is not None:
            _check_range("quiet_hours_start", start, 0, 23)
            _check_range("quiet_hours_end", end, 0, 23)

    def _validate_cron(self) -> None:
        if self.schedule_type is ScheduleType.CRON and not self.cron_expression:
            raise ConfigError("cron_expression is required for a cron schedule, e.g. '0 */2 * * *'")
        if self.cron_expression:
            try:
                CronSim(self.cron_expression, datetime(2000, 1, 1))
            except (CronSimError, ValueError) as exc:
                raise ConfigError(
                    f"cron_expression must be five fields such as '0 9-21/3 * * *', "
                    f"got {self.cron_expression!r} ({exc})"
                ) from None

    @property
    def has_quiet_hours(self) -> bool:
        return self.quiet_hours_start is not None and self.quiet_hours_start != self.quiet_hours_end

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["schedule_type"] = self.schedule_type.value
        doc["start_date"] = to_iso(self.start_date)
        doc["adaptive_hours"] = list(self.adaptive_hours)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "ScheduleConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ConfigError(f"unknown schedule settings {unknown}; valid: {sorted(known)}")
        values = dict(doc)
        if isinstance(values.get("start_date"), str):
            values["start_date"] = from_iso(values["start_date"])
        if "adaptive_hours" in values:
            values["adaptive_hours"] = tuple(values["adaptive_hours"])
        return cls(**values)

    def replace(self, **changes: Any) -> "ScheduleConfig":
        return ScheduleConfig.from_doc({**self.to_doc(), **changes})


def new_debate_id(when: datetime) -> str:
    """Unique even for two debates in the same second: time for reading, random part for safety."""
    return f"debate_{ensure_utc(when):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"


@dataclass
class ScheduledDebate:
    """One debate in the schedule, from planning to its outcome."""

    debate_id: str
    scheduled_time: datetime
    topic: str
    status: DebateStatus = DebateStatus.PENDING
    source: str = "manual"  # interval | cron | adaptive | event | manual
    reason: str = ""  # why it was planned at this time, in words
    urgency: str = "normal"
    created_at: datetime | None = None
    actual_start_time: datetime | None = None
    actual_end_time: datetime | None = None
    attempts: int = 0
    next_attempt_time: datetime | None = None  # set while a failed debate waits for its retry
    error_message: str | None = None
    errors: list[str] = field(default_factory=list)
    outcome: dict[str, Any] | None = None
    turns: int = 0  # turns spoken so far (live progress)

    def __post_init__(self) -> None:
        self.status = DebateStatus(self.status)
        self.scheduled_time = ensure_utc(self.scheduled_time)
        self.topic = validate_topic(self.topic)

    @property
    def due_time(self) -> datetime:
        return self.next_attempt_time or self.scheduled_time

    @property
    def retry_count(self) -> int:
        return max(0, self.attempts - 1)

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["status"] = self.status.value
        for key in ("scheduled_time", "created_at", "actual_start_time", "actual_end_time",
                    "next_attempt_time"):
            doc[key] = to_iso(getattr(self, key))
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "ScheduledDebate":
        values = {f.name: doc[f.name] for f in fields(cls) if f.name in doc}
        for key in ("scheduled_time", "created_at", "actual_start_time", "actual_end_time",
                    "next_attempt_time"):
            if isinstance(values.get(key), str):
                values[key] = from_iso(values[key])
        return cls(**values)
