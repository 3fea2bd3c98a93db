"""Analytics: what debates, streams and the machine did, kept in the Store and read back as figures.

Three kinds of measurement, each a frozen dataclass validated on construction:

- ``DebateMetrics``: one per debate, in ``history/debate_metrics/`` by start day (key ``debate_id``);
- ``StreamingMetrics``: one per destination per broadcast, in ``history/streaming_metrics/`` by start
  day (key ``stream_id`` = ``"<broadcast_id>:<destination_id>"``);
- ``SystemMetrics``: one sample a minute in the series ``system`` (raw for ``raw_retention_days``,
  then one rollup row an hour; a rollup row stands for ``count`` samples).

``AnalyticsDashboard`` writes them and computes every figure from the store with pandas, so a new
instance on the same data directory sees everything that was flushed. Unknown stays unknown: a
figure nobody measured (viewers, engagement) is ``None``, never 0 and never invented; an empty or
stale period gives zeros and ``None`` rather than an error.

Periods. Debate, stream, topic and engagement figures cover whole calendar days in ``zone``: the
last ``days`` days up to ``end`` (default now), today included, so ``days=7`` is today and the six
days before it and ``debates_per_day`` has exactly ``days`` rows. System figures cover the rolling
``days * 24`` hours before ``end``, by UTC hour (the unit of the rollups).
"""

from __future__ import annotations

import html
import json
import math
import numbers
import time as monotime
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from .errors import ConfigError, StoreError
from .storage import Store, atomic_replace
from .timeutil import UTC, Clock, ensure_utc, from_iso, resolve_zone, to_iso, utc_now

DEBATE_KIND = "debate_metrics"
STREAM_KIND = "streaming_metrics"
SYSTEM_SERIES = "system"
MAX_DAYS = 3650
DEBATE_STATUSES = ("completed", "failed", "interrupted")
SYSTEM_FIELDS = ("cpu_percent", "memory_percent", "disk_percent", "net_sent_bps", "net_recv_bps",
                 "active_debates", "active_streams")
FIRST_CPU_INTERVAL = 0.1  # seconds: psutil's first non-blocking reading in a thread is meaningless
EXPORT_FORMATS = (".json", ".csv", ".html")
PLATFORM_LABELS = {"youtube": "YouTube", "twitch": "Twitch", "facebook": "Facebook", "kick": "Kick", "x": "X",
                   "linkedin": "LinkedIn", "custom_rtmp": "custom RTMP", "custom_rtmps": "custom RTMPS",
                   "srt": "SRT", "local_preview": "the local preview"}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Thresholds of the insights: (fair from, poor from).
COMPLETION_RATE = (0.95, 0.80)  # below
CPU_PERCENT = (80.0, 90.0)  # 24 h average, at or above
MEMORY_PERCENT = (85.0, 95.0)
DISK_PERCENT = (85.0, 95.0)  # maximum
UPTIME_PERCENT = (98.0, 90.0)  # below
FRAME_DROP_RATE = (0.01, 0.05)
HIGH_ENGAGEMENT, LOW_ENGAGEMENT = 0.7, 0.4


# ---- validation helpers ------------------------------------------------------------------------


def _range_words(low: float, high: float | None) -> str:
    return f">= {low:g}" if high is None else f"{low:g}-{high:g}"


def _number(name: str, value: Any, low: float = 0.0, high: float | None = None, *,
            optional: bool = False) -> float | None:
    """A finite real number in [low, high]; None passes only when ``optional`` (unknown)."""
    words = f"a number {_range_words(low, high)}" + (" (or None when unknown)" if optional else "")
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be {words}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ConfigError(f"{name} must be a finite number {_range_words(low, high)}, got {value!r}")
    if number < low or (high is not None and number > high):
        raise ConfigError(f"{name} must be {words}, got {value!r}")
    return number


def _whole(name: str, value: Any, low: int = 0, *, optional: bool = False) -> int | None:
    """A whole number >= low (3.0 from a JSON file counts as 3)."""
    words = f"a whole number >= {low}" + (" (or None when unknown)" if optional else "")
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be {words}, got {value!r}")
    return int(value)


def _text(name: str, value: Any, *, empty_ok: bool = False) -> str:
    value = getattr(value, "value", value)  # a str Enum such as StreamPlatform.YOUTUBE
    if not isinstance(value, str) or (not empty_ok and not value.strip()):
        raise ConfigError(f"{name} must be {'' if empty_ok else 'non-empty '}text, got {value!r}")
    return " ".join(value.split())


def _moment(name: str, value: Any, *, optional: bool = False) -> datetime | None:
    """An aware UTC datetime; naive ones are local time (as ``ensure_utc``); ISO text is parsed."""
    if value is None and optional:
        return None
    if isinstance(value, str):
        try:
            return from_iso(value)
        except ValueError:
            pass
    elif isinstance(value, datetime):
        return ensure_utc(value)
    raise ConfigError(f"{name} must be a datetime or ISO 8601 text{' (or None)' if optional else ''}, got {value!r}")


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


def _checked_fields(cls: type, doc: Any, derived: Sequence[str] = ()) -> dict[str, Any]:
    """The document as constructor arguments; unknown fields are refused with the valid ones listed."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"a {cls.__name__} document must be a JSON object, got {type(doc).__name__}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(doc) - set(known) - set(derived))
    if unknown:
        raise ConfigError(f"unknown {cls.__name__} fields {unknown}; valid: {known}")
    return {name: value for name, value in doc.items() if name in known}


def check_days(days: Any, name: str = "days") -> int:
    """Periods are whole numbers of days 1-3650."""
    if isinstance(days, bool) or not isinstance(days, numbers.Integral) or not 1 <= int(days) <= MAX_DAYS:
        raise ConfigError(f"{name} must be a whole number 1-{MAX_DAYS}, got {days!r}")
    return int(days)


# ---- the measurements --------------------------------------------------------------------------


@dataclass(frozen=True)
class DebateMetrics:
    """One debate as analytics remembers it. None means unknown (never measured), not zero."""

    debate_id: str
    start_time: datetime
    end_time: datetime | None = None
    duration_seconds: float | None = None  # derived from end_time - start_time when None
    topic: str = ""
    status: str = "completed"  # completed | failed | interrupted
    participants: int = 0
    responses: int = 0
    avg_response_length: float | None = None  # characters
    avg_confidence: float | None = None  # 0-1
    consensus: float | None = None  # 0-1
    controversy: float | None = None  # 0-1
    verdict: str | None = None
    viewer_count_peak: int | None = None  # summed over destinations at the busiest moment
    viewer_count_avg: float | None = None
    engagement_score: float | None = None  # 0-1
    platforms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _set(self, "debate_id", _text("debate_id", self.debate_id))
        start = _moment("start_time", self.start_time)
        end = _moment("end_time", self.end_time, optional=True)
        assert start is not None
        if end is not None and end < start:
            raise ConfigError(f"end_time must not be before start_time ({to_iso(start)}), got {to_iso(end)}")
        duration = _number("duration_seconds", self.duration_seconds, optional=True)
        if duration is None and end is not None:
            duration = (end - start).total_seconds()
        _set(self, "start_time", start)
        _set(self, "end_time", end)
        _set(self, "duration_seconds", duration)
        _set(self, "topic", _text("topic", self.topic, empty_ok=True))
        _set(self, "status", getattr(self.status, "value", self.status))  # a DebateStatus works too
        if self.status not in DEBATE_STATUSES:
            raise ConfigError(f"status must be one of {', '.join(DEBATE_STATUSES)}, got {self.status!r}")
        _set(self, "participants", _whole("participants", self.participants))
        _set(self, "responses", _whole("responses", self.responses))
        _set(self, "avg_response_length", _number("avg_response_length", self.avg_response_length, optional=True))
        for name in ("avg_confidence", "consensus", "controversy", "engagement_score"):
            _set(self, name, _number(name, getattr(self, name), 0.0, 1.0, optional=True))
        if self.verdict is not None:
            _set(self, "verdict", _text("verdict", self.verdict))
        _set(self, "viewer_count_peak", _whole("viewer_count_peak", self.viewer_count_peak, optional=True))
        _set(self, "viewer_count_avg", _number("viewer_count_avg", self.viewer_count_avg, optional=True))
        _set(self, "platforms", _platforms(self.platforms))

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(start_time=to_iso(self.start_time), end_time=to_iso(self.end_time), platforms=list(self.platforms))
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "DebateMetrics":
        return cls(**_checked_fields(cls, doc))

    @classmethod
    def from_outcome(cls, debate_id: str, start_time: datetime, end_time: datetime | None, outcome: Any, *,
                     topic: str = "", status: str = "completed", **figures: Any) -> "DebateMetrics":
        """From a ``debates.DebateOutcome`` (or its document); viewer figures go in ``figures``."""
        values = outcome.to_doc() if hasattr(outcome, "to_doc") else dict(outcome or {})
        return cls(debate_id=debate_id, start_time=start_time, end_time=end_time, topic=topic, status=status,
                   participants=values.get("participants", 0), responses=values.get("responses", 0),
                   avg_response_length=values.get("avg_response_length"),
                   avg_confidence=values.get("avg_confidence"), consensus=values.get("consensus_level"),
                   controversy=values.get("controversy_score"), verdict=values.get("verdict"), **figures)


def _platforms(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise ConfigError(f"platforms must be a list of platform names such as ['youtube'], got {value!r}")
    names = [_text("platforms entries", item) for item in value]
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class StreamingMetrics:
    """One destination of one broadcast; ``stream_id`` is its record key."""

    broadcast_id: str
    destination_id: str
    platform: str
    start_time: datetime
    end_time: datetime
    peak_viewers: int | None = None
    avg_viewers: float | None = None
    avg_bitrate_kbps: float | None = None
    bytes_sent: int = 0
    uptime_percentage: float = 0.0  # 0-100
    frame_drop_rate: float = 0.0  # 0-1
    reconnects: int = 0

    def __post_init__(self) -> None:
        for name in ("broadcast_id", "destination_id", "platform"):
            _set(self, name, _text(name, getattr(self, name)))
        start = _moment("start_time", self.start_time)
        end = _moment("end_time", self.end_time)
        assert start is not None and end is not None
        if end < start:
            raise ConfigError(f"end_time must not be before start_time ({to_iso(start)}), got {to_iso(end)}")
        _set(self, "start_time", start)
        _set(self, "end_time", end)
        _set(self, "peak_viewers", _whole("peak_viewers", self.peak_viewers, optional=True))
        _set(self, "avg_viewers", _number("avg_viewers", self.avg_viewers, optional=True))
        _set(self, "avg_bitrate_kbps", _number("avg_bitrate_kbps", self.avg_bitrate_kbps, optional=True))
        _set(self, "bytes_sent", _whole("bytes_sent", self.bytes_sent))
        _set(self, "uptime_percentage", _number("uptime_percentage", self.uptime_percentage, 0.0, 100.0))
        _set(self, "frame_drop_rate", _number("frame_drop_rate", self.frame_drop_rate, 0.0, 1.0))
        _set(self, "reconnects", _whole("reconnects", self.reconnects))

    @property
    def stream_id(self) -> str:
        return f"{self.broadcast_id}:{self.destination_id}"

    @property
    def duration_seconds(self) -> float:
        return (self.end_time - self.start_time).total_seconds()

    def to_doc(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.update(stream_id=self.stream_id, start_time=to_iso(self.start_time), end_time=to_iso(self.end_time))
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "StreamingMetrics":
        metrics = cls(**_checked_fields(cls, doc, derived=("stream_id",)))
        if "stream_id" in doc and doc["stream_id"] != metrics.stream_id:
            raise ConfigError(f"stream_id must be broadcast_id:destination_id ({metrics.stream_id!r}), "
                              f"got {doc['stream_id']!r}")
        return metrics


@dataclass(frozen=True)
class SystemMetrics:
    """One sample of the machine. Network rates are bits per second; None: no rate yet."""

    timestamp: datetime
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    net_sent_bps: float | None = None
    net_recv_bps: float | None = None
    active_debates: int = 0
    active_streams: int = 0

    def __post_init__(self) -> None:
        _set(self, "timestamp", _moment("timestamp", self.timestamp))
        for name in ("cpu_percent", "memory_percent", "disk_percent"):
            _set(self, name, _number(name, getattr(self, name), 0.0, 100.0))
        for name in ("net_sent_bps", "net_recv_bps"):
            _set(self, name, _number(name, getattr(self, name), optional=True))
        _set(self, "active_debates", _whole("active_debates", self.active_debates))
        _set(self, "active_streams", _whole("active_streams", self.active_streams))

    def to_doc(self) -> dict[str, Any]:
        return {**asdict(self), "timestamp": to_iso(self.timestamp)}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "SystemMetrics":
        return cls(**_checked_fields(cls, doc))

    def to_sample(self) -> dict[str, Any]:
        """The series row: ``ts`` and the numeric fields; unknown rates are left out."""
        sample: dict[str, Any] = {"ts": to_iso(self.timestamp)}
        sample.update((name, getattr(self, name)) for name in SYSTEM_FIELDS if getattr(self, name) is not None)
        return sample


NetState = tuple[float, int, int]  # (time.monotonic(), bytes_sent, bytes_recv)


def _existing_folder(path: Path) -> Path:
    """The folder itself or its nearest existing parent (a data dir may not exist yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _clamp_percent(value: float) -> float:
    return min(100.0, max(0.0, float(value)))


def sample_system(data_dir: Path | str | None, previous: NetState | None, *, active_debates: int = 0,
                  active_streams: int = 0, now: datetime | None = None) -> tuple[SystemMetrics, NetState]:
    """Measure the machine with psutil; pass the returned state back in as ``previous`` next time.

    - network: bits per second between ``previous`` and now. The first sample (``previous`` None),
      a counter that went backwards (reset) or no time elapsed give None, "no rate yet", never 0;
    - CPU: ``psutil.cpu_percent(interval=None)``, the average since this thread's last call; the
      first sample (no ``previous``) blocks 0.1 s instead, as psutil's first reading is meaningless;
    - disk: the filesystem holding ``data_dir`` (its nearest existing parent; the working
      directory when None).
    """
    import psutil

    counters = psutil.net_io_counters()
    clock = monotime.monotonic()
    sent, recv = (int(counters.bytes_sent), int(counters.bytes_recv)) if counters is not None else (0, 0)
    sent_bps = recv_bps = None
    if previous is not None and counters is not None:
        elapsed = clock - previous[0]
        if elapsed > 0 and sent >= previous[1] and recv >= previous[2]:
            sent_bps, recv_bps = (sent - previous[1]) * 8 / elapsed, (recv - previous[2]) * 8 / elapsed
    cpu = psutil.cpu_percent(interval=None if previous is not None else FIRST_CPU_INTERVAL)
    folder = _existing_folder(Path.cwd() if data_dir is None else Path(data_dir))
    metrics = SystemMetrics(
        timestamp=now or utc_now(), cpu_percent=_clamp_percent(cpu),
        memory_percent=_clamp_percent(psutil.virtual_memory().percent),
        disk_percent=_clamp_percent(psutil.disk_usage(str(folder)).percent),
        net_sent_bps=sent_bps, net_recv_bps=recv_bps, active_debates=active_debates, active_streams=active_streams)
    return metrics, (clock, sent, recv)


# ---- periods -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; ``zone`` names the days (day periods) the figures are grouped by."""

    start: datetime
    end: datetime
    days: int
    zone: ZoneInfo
    first_day: date | None = None  # day periods only

    @property
    def dates(self) -> list[str]:
        """Every calendar day of a day period, ISO text, oldest first."""
        if self.first_day is None:
            return []
        return [(self.first_day + timedelta(days=offset)).isoformat() for offset in range(self.days)]

    def hours(self) -> pd.DatetimeIndex:
        """Every UTC hour that [start, end) touches."""
        last = pd.Timestamp(self.end - timedelta(microseconds=1)).floor("h")
        return pd.date_range(pd.Timestamp(self.start).floor("h"), last, freq="h")

    def to_doc(self) -> dict[str, Any]:
        return {"start": to_iso(self.start), "end": to_iso(self.end), "days": self.days, "zone": self.zone.key}


def _zone(zone: Any) -> ZoneInfo:
    if not isinstance(zone, str) or not zone:
        raise ConfigError(f"zone must be an IANA zone name such as 'Europe/Berlin' or 'UTC', got {zone!r}")
    return resolve_zone(zone)


def day_period(days: int, end: datetime, zone: str = "UTC") -> Period:
    """The last ``days`` calendar days in ``zone`` up to ``end``: the day holding the instant before
    ``end`` and the ``days - 1`` before it (so ``end`` at a local midnight closes the previous day)."""
    days, tz, end = check_days(days), _zone(zone), ensure_utc(end)
    last_day = (end - timedelta(microseconds=1)).astimezone(tz).date()
    first_day = last_day - timedelta(days=days - 1)
    start = datetime.combine(first_day, time(0), tzinfo=tz).astimezone(UTC)
    return Period(start, end, days, tz, first_day)


def hour_period(days: int, end: datetime) -> Period:
    """The rolling ``days * 24`` hours before ``end``."""
    days, end = check_days(days), ensure_utc(end)
    return Period(end - timedelta(days=days), end, days, ZoneInfo("UTC"))


# ---- frames: stored documents as typed tables ---------------------------------------------------

DEBATE_COLUMNS = [f.name for f in fields(DebateMetrics)]
DEBATE_NUMBERS = ("duration_seconds", "participants", "responses", "avg_response_length", "avg_confidence",
                  "consensus", "controversy", "viewer_count_peak", "viewer_count_avg", "engagement_score")
STREAM_COLUMNS = ["stream_id", *(f.name for f in fields(StreamingMetrics))]
STREAM_NUMBERS = ("peak_viewers", "avg_viewers", "avg_bitrate_kbps", "bytes_sent", "uptime_percentage",
                  "frame_drop_rate", "reconnects")
SYSTEM_COLUMNS = ["ts", "rollup", "count", *SYSTEM_FIELDS, *(f"{name}_min" for name in SYSTEM_FIELDS),
                  *(f"{name}_max" for name in SYSTEM_FIELDS)]


def _times(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True, format="ISO8601", errors="coerce")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Numbers as float64; anything else (text, a list, true/false in a hand-edited file) as NaN."""
    for column in columns:
        if pd.api.types.is_numeric_dtype(frame[column]) and not pd.api.types.is_bool_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")  # already numbers and NaN: the common case
        else:
            frame[column] = frame[column].map(lambda value: value if _is_real(value) else math.nan).astype("float64")


def debate_frame(docs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """DebateMetrics documents as a table; a value of the wrong type reads as unknown (NaN)."""
    frame = pd.DataFrame.from_records(list(docs), columns=DEBATE_COLUMNS)
    frame["start_time"] = _times(frame["start_time"])
    frame = frame[frame["start_time"].notna()].copy()
    _numeric(frame, DEBATE_NUMBERS)
    frame["status"] = frame["status"].where(frame["status"].isin(DEBATE_STATUSES), "unknown").astype(str)
    frame["topic"] = frame["topic"].where(frame["topic"].map(lambda value: isinstance(value, str)), "").astype(str)
    frame["platforms"] = frame["platforms"].map(
        lambda value: tuple(str(name) for name in value) if isinstance(value, list) else ())
    return frame.sort_values("start_time", kind="stable").reset_index(drop=True)


def stream_frame(docs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """StreamingMetrics documents as a table, with their ``duration_seconds``."""
    frame = pd.DataFrame.from_records(list(docs), columns=STREAM_COLUMNS)
    frame["start_time"], frame["end_time"] = _times(frame["start_time"]), _times(frame["end_time"])
    frame = frame[frame["start_time"].notna()].copy()
    _numeric(frame, STREAM_NUMBERS)
    frame["platform"] = frame["platform"].where(frame["platform"].map(lambda value: isinstance(value, str)),
                                                "unknown").astype(str)
    frame["broadcast_id"] = frame["broadcast_id"].astype(str)
    frame["duration_seconds"] = (frame["end_time"] - frame["start_time"]).dt.total_seconds()
    return frame.sort_values("start_time", kind="stable").reset_index(drop=True)


def system_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Raw samples and rollup rows as one table: a raw sample is a row of count 1 whose min and max
    are its value. A rollup row of an hour that also has raw samples (a roll-up interrupted before
    it removed the raw files) is left out, so no sample counts twice."""
    frame = pd.DataFrame.from_records(list(rows), columns=SYSTEM_COLUMNS)
    frame["ts"] = _times(frame["ts"])
    frame = frame[frame["ts"].notna()].copy()
    rollup = frame["rollup"].map(lambda value: value is True).astype(bool)
    _numeric(frame, SYSTEM_COLUMNS[2:])
    frame["count"] = frame["count"].where(rollup, 1.0).fillna(0.0)
    for name in SYSTEM_FIELDS:
        frame[f"{name}_min"] = frame[f"{name}_min"].where(rollup, frame[name])
        frame[f"{name}_max"] = frame[f"{name}_max"].where(rollup, frame[name])
    frame["rollup"] = rollup
    frame["hour"] = frame["ts"].dt.floor("h")
    raw_hours = set(frame.loc[~rollup, "hour"])
    frame = frame[~(rollup & frame["hour"].isin(raw_hours))]
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


# ---- small conversions to JSON-ready values -----------------------------------------------------


def _float(value: Any) -> float | None:
    """A plain float, or None for NaN/None (pandas' "unknown")."""
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else round(number)


def _mean(series: pd.Series) -> float | None:
    return _float(series.mean()) if len(series) else None


def _max_int(series: pd.Series) -> int | None:
    return _int(series.max()) if len(series) else None


def _in_period(frame: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    return frame[(frame[column] >= start) & (frame[column] < end)]


def _local_days(times: pd.Series, zone: ZoneInfo) -> pd.Series:
    return times.dt.tz_convert(zone).dt.strftime("%Y-%m-%d")


def platform_label(platform: str) -> str:
    return PLATFORM_LABELS.get(platform, platform)


# ---- figures: pure functions of frames -----------------------------------------------------------


def debate_statistics(frame: pd.DataFrame, period: Period) -> dict[str, Any]:
    """Counts, completion rate and averages over the debates of ``frame`` that started in ``period``.

    Averages are over the debates where the figure is known; ``None`` when none is.
    """
    frame = _in_period(frame, "start_time", period)
    total = len(frame)
    counts = {status: int((frame["status"] == status).sum()) for status in DEBATE_STATUSES}
    peak_row = frame.loc[frame["viewer_count_peak"].idxmax()] if frame["viewer_count_peak"].notna().any() else None
    verdicts = frame["verdict"].dropna().map(str).value_counts()
    return {
        "period": period.to_doc(),
        "total_debates": total,
        **counts,
        "completion_rate": counts["completed"] / total if total else None,
        "avg_engagement": _mean(frame["engagement_score"]),
        "debates_with_engagement": int(frame["engagement_score"].notna().sum()),
        "peak_viewers": _max_int(frame["viewer_count_peak"]),
        "peak_viewers_debate_id": None if peak_row is None else str(peak_row["debate_id"]),
        "avg_viewers": _mean(frame["viewer_count_avg"]),
        "debates_with_viewers": int((frame["viewer_count_peak"].notna() | frame["viewer_count_avg"].notna()).sum()),
        "avg_duration_seconds": _mean(frame["duration_seconds"]),
        "total_duration_seconds": float(frame["duration_seconds"].sum()),
        "avg_participants": _mean(frame["participants"]),
        "avg_responses": _mean(frame["responses"]),
        "avg_response_length": _mean(frame["avg_response_length"]),
        "avg_confidence": _mean(frame["avg_confidence"]),
        "avg_consensus": _mean(frame["consensus"]),
        "avg_controversy": _mean(frame["controversy"]),
        "verdicts": {str(name): int(count) for name, count in verdicts.items()},
        "debates_per_day": _debates_per_day(frame, period),
    }


def _debates_per_day(frame: pd.DataFrame, period: Period) -> list[dict[str, Any]]:
    """One row per day of the period, days without debates included (zeros)."""
    columns = ["debates", *DEBATE_STATUSES]
    flags = pd.DataFrame({"day": _local_days(frame["start_time"], period.zone), "debates": 1,
                          **{status: (frame["status"] == status).astype(int) for status in DEBATE_STATUSES}})
    table = flags.groupby("day")[columns].sum().reindex(period.dates, fill_value=0)
    return [{"date": day, **{column: int(row[column]) for column in columns}} for day, row in table.iterrows()]


def _stream_figures(frame: pd.DataFrame) -> dict[str, Any]:
    """The figures of a set of streams (one row per destination per broadcast); means are per stream."""
    peak = frame.loc[frame["peak_viewers"].idxmax()] if frame["peak_viewers"].notna().any() else None
    return {
        "streams": len(frame),
        "broadcasts": int(frame["broadcast_id"].nunique()),
        "total_bytes_sent": int(frame["bytes_sent"].fillna(0).sum()),
        "streamed_seconds": float(frame["duration_seconds"].fillna(0).sum()),
        "avg_uptime_percentage": _mean(frame["uptime_percentage"]),
        "avg_frame_drop_rate": _mean(frame["frame_drop_rate"]),
        "avg_bitrate_kbps": _mean(frame["avg_bitrate_kbps"]),
        "reconnects": int(frame["reconnects"].fillna(0).sum()),
        "peak_viewers": None if peak is None else _int(peak["peak_viewers"]),
        "peak_viewers_platform": None if peak is None else str(peak["platform"]),
        "avg_viewers": _mean(frame["avg_viewers"]),
    }


def streaming_statistics(frame: pd.DataFrame, period: Period, platform: str | None = None) -> dict[str, Any]:
    """Stream figures overall, per platform and per day (streams by start time); ``platform``
    (case ignored) keeps that platform's streams only.

    ``peak_viewers`` is the largest single-destination peak; a debate's audience summed over its
    destinations is ``DebateMetrics.viewer_count_peak``.
    """
    frame = _in_period(frame, "start_time", period)
    if platform is not None:
        frame = frame[frame["platform"].str.casefold() == platform.casefold()]
    days = frame.assign(day=_local_days(frame["start_time"], period.zone)).groupby("day")
    table = pd.DataFrame({
        "broadcasts": days["broadcast_id"].nunique(), "streams": days.size(),
        "total_bytes_sent": days["bytes_sent"].sum(), "peak_viewers": days["peak_viewers"].max(),
        "avg_viewers": days["avg_viewers"].mean(), "avg_uptime_percentage": days["uptime_percentage"].mean(),
    }).reindex(period.dates)
    per_day = [{"date": day, "broadcasts": _int(row.broadcasts) or 0, "streams": _int(row.streams) or 0,
                "total_bytes_sent": _int(row.total_bytes_sent) or 0, "peak_viewers": _int(row.peak_viewers),
                "avg_viewers": _float(row.avg_viewers), "avg_uptime_percentage": _float(row.avg_uptime_percentage)}
               for day, row in zip(period.dates, table.itertuples(), strict=True)]
    platforms = {str(name): _stream_figures(rows) for name, rows in frame.groupby("platform")} if len(frame) else {}
    return {"period": period.to_doc(), "platform": platform, **_stream_figures(frame),
            "platforms": platforms, "per_day": per_day}


def _weighted(frame: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series]:
    """(sum of value x count, sum of count) per row where the value is known."""
    known = frame[name].notna()
    weight = frame["count"].where(known, 0.0)
    return (frame[name].fillna(0.0) * weight), weight


def system_statistics(frame: pd.DataFrame, period: Period) -> dict[str, Any]:
    """Latest raw sample, averages weighted by each row's sample count, maxima, and every UTC hour."""
    frame = _in_period(frame, "ts", period)
    stats: dict[str, Any] = {"period": period.to_doc(), "samples": int(frame["count"].sum())}
    raw = frame[~frame["rollup"]]
    if len(raw):
        last = raw.iloc[-1]
        stats["latest"] = {"ts": to_iso(last["ts"].to_pydatetime()),
                           **{name: _float(last[name]) for name in SYSTEM_FIELDS}}
    else:
        stats["latest"] = None
    sums = pd.DataFrame({"hour": frame["hour"], "samples": frame["count"]})
    for name in SYSTEM_FIELDS:
        total, weight = _weighted(frame, name)
        stats[f"avg_{name}"] = _float(total.sum() / weight.sum()) if weight.sum() > 0 else None
        stats[f"max_{name}"] = _float(frame[f"{name}_max"].max()) if len(frame) else None
        sums[f"{name}__total"], sums[f"{name}__weight"] = total, weight
        sums[f"{name}__max"] = frame[f"{name}_max"]
    stats["hourly"] = _hourly(sums, period)
    return stats


def _hourly(sums: pd.DataFrame, period: Period) -> list[dict[str, Any]]:
    """Every UTC hour of the period; an hour without samples has ``samples`` 0 and None figures."""
    hours = period.hours()
    grouped = sums.groupby("hour")
    totals, maxima = grouped.sum(min_count=1).reindex(hours), grouped.max().reindex(hours)
    table = pd.DataFrame(index=hours)
    for name in SYSTEM_FIELDS:
        weight = totals[f"{name}__weight"]
        table[name] = (totals[f"{name}__total"] / weight).where(weight > 0)
        table[f"{name}_max"] = maxima[f"{name}__max"]
    samples = totals["samples"].fillna(0).astype(int).tolist()
    stamps = hours.strftime("%Y-%m-%dT%H:%M:%S+00:00").tolist()
    columns = list(table.columns)
    return [{"ts": stamp, "samples": count, **{column: None if math.isnan(value) else float(value)
                                                for column, value in zip(columns, values, strict=True)}}
            for stamp, count, values in zip(stamps, samples, table.itertuples(index=False, name=None), strict=True)]


def _topic_key(topics: pd.Series) -> pd.Series:
    return topics.map(lambda topic: " ".join(topic.split()).casefold())


def topic_trends(frame: pd.DataFrame, period: Period, limit: int | None = None) -> list[dict[str, Any]]:
    """Per topic (case and spacing ignored; shown as last spelled): debates, completed, averages,
    last seen; most debated first, then most engaging. Debates without a topic are left out."""
    frame = _in_period(frame, "start_time", period)
    frame = frame[frame["topic"] != ""]
    if not len(frame):
        return []
    grouped = frame.assign(key=_topic_key(frame["topic"]), done=frame["status"] == "completed").groupby("key")
    table = pd.DataFrame({
        "topic": grouped["topic"].last(), "debates": grouped.size(), "completed": grouped["done"].sum(),
        "avg_engagement": grouped["engagement_score"].mean(), "avg_controversy": grouped["controversy"].mean(),
        "avg_consensus": grouped["consensus"].mean(), "peak_viewers": grouped["viewer_count_peak"].max(),
        "last_seen": grouped["start_time"].max(),
    })
    table = table.sort_values(["debates", "avg_engagement", "topic"], ascending=[False, False, True],
                              na_position="last", kind="stable")
    if limit is not None:
        table = table.head(limit)
    return [{"topic": row.topic, "debates": int(row.debates), "completed": int(row.completed),
             "avg_engagement": _float(row.avg_engagement), "avg_controversy": _float(row.avg_controversy),
             "avg_consensus": _float(row.avg_consensus), "peak_viewers": _int(row.peak_viewers),
             "last_seen": to_iso(row.last_seen.to_pydatetime())} for row in table.itertuples()]


def engagement_trends(frame: pd.DataFrame, period: Period, platform: str | None = None) -> dict[str, Any]:
    """Per day (every day of the period) and per local (weekday, hour) slot that had debates.

    ``platform`` keeps the debates streamed to it (``DebateMetrics.platforms``).
    """
    frame = _in_period(frame, "start_time", period)
    if platform is not None:
        wanted = platform.casefold()
        frame = frame[frame["platforms"].map(lambda names: any(name.casefold() == wanted for name in names))
                      .astype(bool)]
    local = frame["start_time"].dt.tz_convert(period.zone)
    table = frame.assign(day=local.dt.strftime("%Y-%m-%d"), weekday=local.dt.day_of_week, hour=local.dt.hour)
    aggregations = {"debates": ("debate_id", "size"), "avg_engagement": ("engagement_score", "mean"),
                    "avg_viewers": ("viewer_count_avg", "mean"), "peak_viewers": ("viewer_count_peak", "max")}
    days = table.groupby("day").agg(**aggregations).reindex(period.dates)
    slots = table.groupby(["weekday", "hour"]).agg(**aggregations)
    return {
        "period": period.to_doc(), "platform": platform,
        "avg_engagement": _mean(frame["engagement_score"]),
        "debates_with_engagement": int(frame["engagement_score"].notna().sum()),
        "per_day": [{"date": day, "debates": _int(row.debates) or 0, "avg_engagement": _float(row.avg_engagement),
                     "avg_viewers": _float(row.avg_viewers), "peak_viewers": _int(row.peak_viewers)}
                    for day, row in zip(period.dates, days.itertuples(), strict=True)],
        "by_hour_of_week": [{"weekday": int(weekday), "hour": int(hour), "debates": int(row.debates),
                             "avg_engagement": _float(row.avg_engagement), "avg_viewers": _float(row.avg_viewers)}
                            for (weekday, hour), row in zip(slots.index, slots.itertuples(), strict=True)],
    }


# ---- insights ----------------------------------------------------------------------------------


def _span(days: int) -> str:
    return "24 h" if days == 1 else f"{days} days"


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(count) < 1000 or unit == "TB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} TB"  # pragma: no cover - the loop always returns


def _worse(level: str, candidate: str) -> str:
    order = ("good", "fair", "poor")
    return candidate if order.index(candidate) > order.index(level) else level


def _level(value: float, fair: float, poor: float, *, below: bool = False) -> str:
    if below:
        return "poor" if value < poor else "fair" if value < fair else "good"
    return "poor" if value >= poor else "fair" if value >= fair else "good"


def performance_insights(debates: Mapping[str, Any], streaming: Mapping[str, Any], system: Mapping[str, Any],
                         topics: Sequence[Mapping[str, Any]], engagement: Mapping[str, Any]) -> dict[str, Any]:
    """Health, highlights and recommendations from computed figures, each sentence with its numbers.

    Health is the worst level among completion rate, CPU, memory, disk, stream uptime and frame
    drops, over the figures that exist; "unknown" when there is no data at all.
    """
    health, highlights, advice = "good", [], []
    days = debates["period"]["days"]
    total = debates["total_debates"]
    if total:
        rate = debates["completion_rate"]
        health = _worse(health, _level(rate, *COMPLETION_RATE, below=True))
        highlights.append(f"Completion rate {rate * 100:.0f} % over {_span(days)} "
                          f"({debates['completed']} of {total} debates)")
        if debates["failed"]:
            advice.append(f"{debates['failed']} of {total} debates failed in the last {_span(days)}: "
                          "see the Health page")
        if debates["interrupted"]:
            advice.append(f"{debates['interrupted']} of {total} debates were interrupted in the last {_span(days)} "
                          "(the process stopped mid-debate): check restarts on the Health page")
        _engagement_sentences(debates, highlights, advice)
    _viewer_sentences(debates, streaming, highlights, advice)
    if streaming["streams"]:
        health = _worse(health, _stream_sentences(streaming, highlights, advice))
    if system["samples"]:
        health = _worse(health, _system_sentences(system, highlights, advice))
    _trend_sentences(topics, engagement, highlights)
    if not total and not streaming["streams"] and not system["samples"]:
        return {"health": "unknown", "highlights": [],
                "recommendations": [(f"No debates, streams or system samples recorded in the last {_span(days)}: "
                                     "check the Schedule page")]}
    if not total:
        advice.append(f"No debates recorded in the last {_span(days)}: check the Schedule page")
    return {"health": health, "highlights": highlights, "recommendations": advice}


def _engagement_sentences(debates: Mapping[str, Any], highlights: list[str], advice: list[str]) -> None:
    score, known = debates["avg_engagement"], debates["debates_with_engagement"]
    if score is None:
        return
    words = "High engagement" if score >= HIGH_ENGAGEMENT else "Engagement"
    highlights.append(f"{words}: {score:.2f} average over {known} debates with viewer data")
    if score < LOW_ENGAGEMENT:
        advice.append(f"Engagement averaged {score:.2f} over {known} debates: "
                      "schedule at the best-scoring hours (adaptive schedule on the Schedule page)")


def _viewer_sentences(debates: Mapping[str, Any], streaming: Mapping[str, Any], highlights: list[str],
                      advice: list[str]) -> None:
    stream_peak, debate_peak = streaming["peak_viewers"], debates["peak_viewers"]
    if stream_peak is not None and (debate_peak is None or stream_peak >= debate_peak):
        highlights.append(f"Peak viewership: {stream_peak} viewers on "
                          f"{platform_label(streaming['peak_viewers_platform'])}")
    elif debate_peak is not None:
        highlights.append(f"Peak viewership: {debate_peak} viewers across platforms in one debate")
    measured = debates["debates_with_viewers"] or debates["debates_with_engagement"] or stream_peak is not None \
        or streaming["avg_viewers"] is not None
    if (debates["total_debates"] or streaming["streams"]) and not measured:
        advice.append("No viewer counts: add a viewer source on the Streams page to measure engagement")


def _stream_sentences(streaming: Mapping[str, Any], highlights: list[str], advice: list[str]) -> str:
    level = "good"
    uptime, drops = streaming["avg_uptime_percentage"], streaming["avg_frame_drop_rate"]
    count, platforms = streaming["streams"], len(streaming["platforms"])
    summary = f"{count} streams to {platforms} platform{'s' if platforms != 1 else ''}, " \
              f"{_size(streaming['total_bytes_sent'])} sent"
    if uptime is not None:
        summary += f", uptime {uptime:.1f} %"
        level = _worse(level, _level(uptime, *UPTIME_PERCENT, below=True))
        if uptime < UPTIME_PERCENT[0]:
            advice.append(f"Stream uptime averaged {uptime:.1f} % with {streaming['reconnects']} reconnects: "
                          "check the network and the destinations on the Streams page")
    highlights.append(summary)
    if drops is not None:
        level = _worse(level, _level(drops, *FRAME_DROP_RATE))
        if drops >= FRAME_DROP_RATE[0]:
            advice.append(f"Frames dropped {drops * 100:.1f} % on average over {count} streams: "
                          "lower the quality tier or bitrate on the Streams page")
    return level


def _system_sentences(system: Mapping[str, Any], highlights: list[str], advice: list[str]) -> str:
    level, span = "good", _span(system["period"]["days"])
    cpu, memory, disk = system["avg_cpu_percent"], system["avg_memory_percent"], system["max_disk_percent"]
    if cpu is not None:
        level = _worse(level, _level(cpu, *CPU_PERCENT))
        if cpu >= CPU_PERCENT[0]:
            advice.append(f"CPU averaged {cpu:.0f} % over {span}: use a faster x264 preset or a lower quality tier")
    if memory is not None:
        level = _worse(level, _level(memory, *MEMORY_PERCENT))
        if memory >= MEMORY_PERCENT[0]:
            advice.append(f"Memory averaged {memory:.0f} % over {span}: stop other programs or add memory")
    if disk is not None:
        level = _worse(level, _level(disk, *DISK_PERCENT))
        if disk >= DISK_PERCENT[0]:
            advice.append(f"The data directory's disk reached {disk:.0f} % full over {span}: "
                          "free space or keep less history")
    if cpu is not None and memory is not None and level == "good":
        highlights.append(f"System resources fine: CPU {cpu:.0f} %, memory {memory:.0f} % on average over {span}")
    return level


def _trend_sentences(topics: Sequence[Mapping[str, Any]], engagement: Mapping[str, Any],
                     highlights: list[str]) -> None:
    span = _span(engagement["period"]["days"])
    if topics:
        top = topics[0]
        words = f"Top topic over {span}: '{top['topic']}' ({top['debates']} debates"
        words += ")" if top["avg_engagement"] is None else f", engagement {top['avg_engagement']:.2f})"
        highlights.append(words)
    slots = [slot for slot in engagement["by_hour_of_week"] if slot["avg_engagement"] is not None]
    if slots:
        best = max(slots, key=lambda slot: (slot["avg_engagement"], slot["debates"]))
        highlights.append(f"Best slot over {span}: {WEEKDAYS[best['weekday']]} {best['hour']:02d}:00 "
                          f"{engagement['period']['zone']} (engagement {best['avg_engagement']:.2f} "
                          f"over {best['debates']} debates)")


# ---- the dashboard -----------------------------------------------------------------------------


class AnalyticsDashboard:
    """Records measurements in a Store and computes the dashboard's figures from it.

    ``AnalyticsDashboard(data_dir=Path("analytics"))`` opens (or creates) a data directory;
    ``store=`` shares the backend's Store; neither keeps everything in memory. System samples are
    buffered by the Store until its ``flush`` (the backend's periodic job, or ``flush``/``close``
    here); this instance reads its own buffered samples, another process sees them once flushed.
    """

    def __init__(self, data_dir: Path | str | None = None, *, store: Store | None = None,
                 clock: Clock = utc_now) -> None:
        if store is not None and data_dir is not None:
            raise ConfigError("pass data_dir or store, not both")
        self.store = store if store is not None else Store(None if data_dir is None else Path(data_dir))
        self._clock = clock

    # -- writing --

    def record_debate(self, metrics: DebateMetrics | Mapping[str, Any]) -> None:
        """Insert or replace one debate's metrics (by debate_id)."""
        self.record_debates([metrics])

    def record_debates(self, metrics: Iterable[DebateMetrics | Mapping[str, Any]]) -> int:
        """Many debates, one write per touched day; returns how many."""
        docs = [_as(DebateMetrics, item).to_doc() for item in metrics]
        return self.store.put_records(DEBATE_KIND, docs, "debate_id", "start_time") if docs else 0

    def record_streaming(self, metrics: StreamingMetrics | Mapping[str, Any]) -> None:
        """Insert or replace one destination's figures for one broadcast (by stream_id)."""
        self.record_streams([metrics])

    def record_streams(self, metrics: Iterable[StreamingMetrics | Mapping[str, Any]]) -> int:
        docs = [_as(StreamingMetrics, item).to_doc() for item in metrics]
        return self.store.put_records(STREAM_KIND, docs, "stream_id", "start_time") if docs else 0

    def record_system(self, metrics: SystemMetrics | Mapping[str, Any]) -> None:
        """Buffer one system sample; the Store's flush writes it."""
        self.store.append_sample(SYSTEM_SERIES, _as(SystemMetrics, metrics).to_sample())

    def flush(self) -> int:
        return self.store.flush()

    def close(self) -> None:
        self.store.close()

    # -- reading --

    def _end(self, end: datetime | None) -> datetime:
        return ensure_utc(self._clock() if end is None else _moment("end", end))  # type: ignore[arg-type]

    def _debate_docs(self, period: Period) -> list[dict[str, Any]]:
        return self.store.records(DEBATE_KIND, "debate_id", "start_time", period.start, period.end)

    def _stream_docs(self, period: Period) -> list[dict[str, Any]]:
        return self.store.records(STREAM_KIND, "stream_id", "start_time", period.start, period.end)

    def _debates(self, period: Period) -> pd.DataFrame:
        return debate_frame(self._debate_docs(period))

    def _streams(self, period: Period) -> pd.DataFrame:
        return stream_frame(self._stream_docs(period))

    def _system(self, period: Period) -> pd.DataFrame:
        return system_frame(self.store.samples(SYSTEM_SERIES, period.start, period.end))

    def debate_rows(self, days: int = 7, *, end: datetime | None = None, zone: str = "UTC") -> list[dict[str, Any]]:
        """The stored DebateMetrics documents of the period, oldest first (the report's raw rows)."""
        return self._debate_docs(day_period(days, self._end(end), zone))

    def stream_rows(self, days: int = 7, *, end: datetime | None = None, zone: str = "UTC") -> list[dict[str, Any]]:
        """The stored StreamingMetrics documents (with ``stream_id``) of the period, oldest first."""
        return self._stream_docs(day_period(days, self._end(end), zone))

    def get_debate_statistics(self, days: int = 7, *, end: datetime | None = None,
                              zone: str = "UTC") -> dict[str, Any]:
        """Debates that started in the last ``days`` calendar days (see the module docstring)."""
        period = day_period(days, self._end(end), zone)
        return debate_statistics(self._debates(period), period)

    def get_streaming_statistics(self, days: int = 7, *, platform: str | None = None, end: datetime | None = None,
                                 zone: str = "UTC") -> dict[str, Any]:
        period = day_period(days, self._end(end), zone)
        return streaming_statistics(self._streams(period), period, _platform_filter(platform))

    def get_system_statistics(self, days: int = 1, *, end: datetime | None = None) -> dict[str, Any]:
        """The last ``days * 24`` hours: latest raw sample, averages, maxima and ``hourly``."""
        period = hour_period(days, self._end(end))
        return system_statistics(self._system(period), period)

    def get_topic_trends(self, days: int = 30, *, end: datetime | None = None, zone: str = "UTC",
                         limit: int | None = None) -> list[dict[str, Any]]:
        period = day_period(days, self._end(end), zone)
        return topic_trends(self._debates(period), period, limit)

    def get_engagement_trends(self, days: int = 30, *, platform: str | None = None, zone: str = "UTC",
                              end: datetime | None = None) -> dict[str, Any]:
        period = day_period(days, self._end(end), zone)
        return engagement_trends(self._debates(period), period, _platform_filter(platform))

    def engagement_by_slot(self, days: int = 30, *, zone: str = "UTC",
                           end: datetime | None = None) -> dict[tuple[int, int], float]:
        """(weekday 0=Monday, local hour) -> average engagement, where known: planning's ``Engagement``."""
        trends = self.get_engagement_trends(days, zone=zone, end=end)
        return {(slot["weekday"], slot["hour"]): slot["avg_engagement"]
                for slot in trends["by_hour_of_week"] if slot["avg_engagement"] is not None}

    def get_performance_insights(self, days: int = 7, *, end: datetime | None = None,
                                 zone: str = "UTC") -> dict[str, Any]:
        """{"health", "highlights", "recommendations"} as in ``get_dashboard_data``."""
        return self._sections(days, max(days, 30), 1, self._end(end), zone)["insights"]

    def get_period_data(self, days: int = 7, *, platform: str | None = None, end: datetime | None = None,
                        zone: str = "UTC") -> dict[str, Any]:
        """Every section for one period in one pass, each kind of record read once (the Analytics
        page): debates, streaming (``platform``-filtered, and ``streaming_all``), system over the
        last ``min(days, 30)`` days, topics, engagement over at least 28 days, insights."""
        days = check_days(days)
        end = self._end(end)
        period, trends = day_period(days, end, zone), day_period(max(days, 28), end, zone)
        hours = hour_period(min(days, 30), end)
        debate_table = debate_frame(self._debate_docs(trends if trends.start <= period.start else period))
        streams = stream_frame(self._stream_docs(period))
        debates = debate_statistics(debate_table, period)
        streaming_all = streaming_statistics(streams, period)
        chosen = _platform_filter(platform)
        streaming = streaming_all if chosen is None else streaming_statistics(streams, period, chosen)
        system = system_statistics(self._system(hours), hours)
        topics = topic_trends(debate_table, period)
        engagement = engagement_trends(debate_table, trends, chosen)
        return {"generated_at": to_iso(self._clock()), "debates": debates, "streaming": streaming,
                "streaming_all": streaming_all, "system": system, "topics": topics, "engagement": engagement,
                "insights": performance_insights(debates, streaming_all, system, topics, engagement)}

    def get_dashboard_data(self, *, end: datetime | None = None, zone: str = "UTC") -> dict[str, Any]:
        """Debates and streaming over 7 days, system over 24 h, topics and engagement over 30 days,
        and the insights drawn from them; the debate history is read once."""
        return self._sections(7, 30, 1, self._end(end), zone)

    def _sections(self, days: int, trend_days: int, system_days: int, end: datetime, zone: str,
                  *, rows: bool = False) -> dict[str, Any]:
        """Every section, reading each kind of record once; ``rows`` adds the raw documents."""
        period, trends, hours = day_period(days, end, zone), day_period(trend_days, end, zone), \
            hour_period(system_days, end)
        wide = trends if trends.start <= period.start else period
        debate_docs, stream_docs = self._debate_docs(wide), self._stream_docs(period)
        debate_table = debate_frame(debate_docs)
        debates = debate_statistics(debate_table, period)
        streaming = streaming_statistics(stream_frame(stream_docs), period)
        system = system_statistics(self._system(hours), hours)
        topics = topic_trends(debate_table, trends)
        engagement = engagement_trends(debate_table, trends)
        sections = {"generated_at": to_iso(self._clock()), "debates": debates, "streaming": streaming,
                    "system": system, "topics": topics, "engagement": engagement,
                    "insights": performance_insights(debates, streaming, system, topics, engagement)}
        if rows:
            sections["debate_rows"] = debate_docs if wide is period else self._debate_docs(period)
            sections["stream_rows"] = stream_docs
        return sections

    # -- reports --

    def export_report(self, output_path: Path | str, days: int = 30, *, end: datetime | None = None,
                      zone: str = "UTC") -> Path | list[Path]:
        """Write a report of the last ``days`` days; the format follows the suffix.

        - ``.json``: the dashboard figures over ``days`` plus ``debate_rows`` and ``stream_rows``;
        - ``.csv``: ``<stem>_debates.csv``, ``<stem>_streams.csv`` and ``<stem>_system.csv`` (hourly)
          beside ``output_path``; returns the three paths;
        - ``.html``: one self-contained page (inline SVG charts and CSS, no scripts, works offline).

        Parent folders are created; each file is replaced atomically. On an unwritable path this
        raises StoreError and leaves no new file behind.
        """
        path = Path(output_path)
        if path.suffix.lower() not in EXPORT_FORMATS:
            raise ConfigError(f"report format must be one of {', '.join(EXPORT_FORMATS)} (the file's suffix), "
                              f"got {path.name!r}")
        days = check_days(days)
        report = self._report(days, self._end(end), zone)
        suffix = path.suffix.lower()
        if suffix == ".json":
            _write_files([(path, json.dumps(report, ensure_ascii=False, indent=2, allow_nan=False).encode())])
            return path
        if suffix == ".html":
            _write_files([(path, render_html(report).encode())])
            return path
        files = _csv_files(path, report)
        _write_files(files)
        return [target for target, _ in files]

    def _report(self, days: int, end: datetime, zone: str) -> dict[str, Any]:
        return {"days": days, **self._sections(days, days, days, end, zone, rows=True)}


def _as(cls: Any, item: Any) -> Any:
    if isinstance(item, cls):
        return item
    if isinstance(item, Mapping):
        return cls.from_doc(item)
    raise ConfigError(f"expected a {cls.__name__} or its document, got {type(item).__name__}")


def _platform_filter(platform: Any) -> str | None:
    return None if platform is None else _text("platform", platform)


# ---- files -------------------------------------------------------------------------------------


def _write_files(files: Sequence[tuple[Path, bytes]]) -> None:
    """Each file atomically; if one fails, those this call already wrote are removed again."""
    written: list[Path] = []
    try:
        for path, payload in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_replace(path, payload)
            written.append(path)
    except OSError as exc:
        for path in written:
            path.unlink(missing_ok=True)
        raise StoreError(f"could not write the report {exc.filename or files[0][0]}: {exc.strerror or exc}") from exc


def _csv_bytes(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> bytes:
    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for column in frame.columns:
        frame[column] = frame[column].map(lambda value: ";".join(map(str, value)) if isinstance(value, list)
                                          else value)
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _csv_files(path: Path, report: Mapping[str, Any]) -> list[tuple[Path, bytes]]:
    hourly_columns = ["ts", "samples", *(name for field in SYSTEM_FIELDS for name in (field, f"{field}_max"))]
    return [
        (path.with_name(f"{path.stem}_debates.csv"), _csv_bytes(report["debate_rows"], DEBATE_COLUMNS)),
        (path.with_name(f"{path.stem}_streams.csv"), _csv_bytes(report["stream_rows"], STREAM_COLUMNS)),
        (path.with_name(f"{path.stem}_system.csv"), _csv_bytes(report["system"]["hourly"], hourly_columns)),
    ]


def _escape(value: Any) -> str:
    return html.escape("" if value is None else str(value))


# ---- the HTML report ---------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:.2rem} .muted{color:#666} table{border-collapse:collapse;margin:.5rem 0 1.5rem}
td,th{border:1px solid #ddd;padding:.25rem .6rem;text-align:right} th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left} .figures{display:flex;flex-wrap:wrap;gap:.8rem}
.figure{border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:9rem}
.figure b{display:block;font-size:1.4rem} .health{font-weight:bold;padding:.1rem .5rem;border-radius:4px}
.good{background:#d9f2d9} .fair{background:#fff1c2} .poor{background:#f9d0d0} .unknown{background:#e6e6e6}
.chart{margin:1rem 0}
"""


def _fmt(value: Any, spec: str = "", unit: str = "") -> str:
    """A figure as text; unknown is "unknown"."""
    if value is None:
        return "unknown"
    return f"{value:{spec}}{unit}" if spec else f"{value}{unit}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_escape(name)}</th>" for name in headers)
    body = "".join("<tr>" + "".join(f"<td>{_escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _local_text(iso: str, zone: ZoneInfo) -> str:
    """A UTC instant as naive local ISO text: charted on a UTC scale, it reads as local wall time."""
    moment = from_iso(iso)
    assert moment is not None
    return moment.astimezone(zone).replace(tzinfo=None).isoformat()


def _charts(report: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(title, Altair chart) for every chart that has data."""
    import altair as alt

    zone = ZoneInfo(report["debates"]["period"]["zone"])
    width, height = 900, 220
    charts: list[tuple[str, Any]] = []
    day_axis = alt.X("utcyearmonthdate(date):T", title="Day", axis=alt.Axis(format="%b %d"))
    per_day = [{"date": row["date"], "status": status, "debates": row[status]}
               for row in report["debates"]["debates_per_day"] for status in DEBATE_STATUSES if row[status]]
    if per_day:
        charts.append(("Debates per day", alt.Chart(alt.Data(values=per_day)).mark_bar().encode(
            x=day_axis, y=alt.Y("sum(debates):Q", title="Debates"),
            color=alt.Color("status:N", scale=alt.Scale(domain=list(DEBATE_STATUSES),
                                                        range=["#4c9a2a", "#d62728", "#ff9f1c"]))
        ).properties(width=width, height=height)))
    engaged = [row for row in report["engagement"]["per_day"] if row["avg_engagement"] is not None]
    if engaged:
        charts.append(("Average engagement per day", alt.Chart(alt.Data(values=engaged)).mark_line(point=True).encode(
            x=day_axis, y=alt.Y("avg_engagement:Q", title="Engagement (0-1)", scale=alt.Scale(domain=[0, 1]))
        ).properties(width=width, height=height)))
    viewers = [{"date": row["date"], "peak_viewers": row["peak_viewers"]}
               for row in report["streaming"]["per_day"] if row["peak_viewers"] is not None]
    if viewers:
        charts.append(("Peak viewers per day (one destination)", alt.Chart(alt.Data(values=viewers)).mark_bar().encode(
            x=day_axis, y=alt.Y("peak_viewers:Q", title="Viewers")).properties(width=width, height=height)))
    system = _system_chart_rows(report["system"]["hourly"], zone, report["system"]["period"]["days"])
    if system:
        charts.append(("CPU and memory", alt.Chart(alt.Data(values=system)).mark_line().encode(
            x=alt.X("ts:T", title="Time", scale=alt.Scale(type="utc")),
            y=alt.Y("percent:Q", title="%", scale=alt.Scale(domain=[0, 100])), color=alt.Color("measure:N")
        ).properties(width=width, height=height)))
    topics = [{"topic": row["topic"][:60], "debates": row["debates"]} for row in report["topics"][:15]]
    if topics:
        charts.append(("Most debated topics", alt.Chart(alt.Data(values=topics)).mark_bar().encode(
            x=alt.X("debates:Q", title="Debates"), y=alt.Y("topic:N", sort="-x", title=None)
        ).properties(width=width - 300, height=18 * len(topics))))
    slots = [{"day": WEEKDAYS[slot["weekday"]], "hour": slot["hour"], "engagement": slot["avg_engagement"]}
             for slot in report["engagement"]["by_hour_of_week"] if slot["avg_engagement"] is not None]
    if slots:
        charts.append((f"Engagement by weekday and hour ({zone.key})", alt.Chart(alt.Data(values=slots)).mark_rect(
        ).encode(x=alt.X("hour:O", title="Hour"), y=alt.Y("day:O", sort=list(WEEKDAYS), title=None),
                 color=alt.Color("engagement:Q", scale=alt.Scale(domain=[0, 1], scheme="viridis"))
                 ).properties(width=width - 200, height=180)))
    return charts


def _system_chart_rows(hourly: Sequence[Mapping[str, Any]], zone: ZoneInfo, days: int) -> list[dict[str, Any]]:
    """Long-form CPU/memory points; daily means beyond two weeks, so the page stays small."""
    known = [row for row in hourly if row["samples"]]
    if not known:
        return []
    frame = pd.DataFrame({"ts": [_local_text(row["ts"], zone) for row in known],
                          "CPU": [row["cpu_percent"] for row in known],
                          "memory": [row["memory_percent"] for row in known]})
    if days > 14:
        frame = frame.assign(ts=frame["ts"].str.slice(0, 10)).groupby("ts", as_index=False)[["CPU", "memory"]].mean()
    long = frame.melt(id_vars="ts", var_name="measure", value_name="percent").dropna()
    return [{"ts": row.ts, "measure": row.measure, "percent": float(row.percent)} for row in long.itertuples()]


def _svg(chart: Any) -> str:
    import vl_convert

    return str(vl_convert.vegalite_to_svg(chart.to_json()))


def render_html(report: Mapping[str, Any]) -> str:
    """A self-contained page: figures, insights, inline SVG charts and tables; no scripts, no links."""
    debates, streaming, system, insights = report["debates"], report["streaming"], report["system"], report["insights"]
    period = debates["period"]
    rate = debates["completion_rate"]
    figures = [
        ("Debates", debates["total_debates"]),
        ("Completion rate", _fmt(None if rate is None else rate * 100, ".0f", " %")),
        ("Avg engagement", _fmt(debates["avg_engagement"], ".2f")),
        ("Peak viewers", _fmt(debates["peak_viewers"] if streaming["peak_viewers"] is None
                              else max(streaming["peak_viewers"], debates["peak_viewers"] or 0))),
        ("Streams", streaming["streams"]),
        ("Data sent", _size(streaming["total_bytes_sent"])),
        ("Avg stream uptime", _fmt(streaming["avg_uptime_percentage"], ".1f", " %")),
        ("Avg CPU", _fmt(system["avg_cpu_percent"], ".0f", " %")),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>AI Council analytics: {_escape(period['start'][:10])} to {_escape(period['end'][:10])}</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>AI Council analytics</h1>",
        (f"<p class='muted'>{report['days']} days ({_escape(period['zone'])}), {_escape(period['start'])} to "
         f"{_escape(period['end'])}; generated {_escape(report['generated_at'])}</p>"),
        "<div class='figures'>" + "".join(f"<div class='figure'>{_escape(name)}<b>{_escape(value)}</b></div>"
                                          for name, value in figures) + "</div>",
        f"<h2>Insights <span class='health {_escape(insights['health'])}'>{_escape(insights['health'])}</span></h2>",
        "<h3>Highlights</h3><ul>" + "".join(f"<li>{_escape(line)}</li>" for line in insights["highlights"])
        + ("" if insights["highlights"] else "<li>None yet.</li>") + "</ul>",
        "<h3>Recommendations</h3><ul>" + "".join(f"<li>{_escape(line)}</li>" for line in insights["recommendations"])
        + ("" if insights["recommendations"] else "<li>Nothing to change.</li>") + "</ul>",
        "<h2>Charts</h2>",
    ]
    charts = _charts(report)
    parts += [f"<div class='chart'><h3>{_escape(title)}</h3>{_svg(chart)}</div>" for title, chart in charts]
    if not charts:
        parts.append("<p>No data to chart in this period.</p>")
    parts += ["<h2>Streaming by platform</h2>", _table(
        ["Platform", "Streams", "Broadcasts", "Sent", "Uptime %", "Frame drops %", "Peak viewers", "Avg viewers"],
        [(platform_label(name), row["streams"], row["broadcasts"], _size(row["total_bytes_sent"]),
          _fmt(row["avg_uptime_percentage"], ".1f"),
          _fmt(None if row["avg_frame_drop_rate"] is None else row["avg_frame_drop_rate"] * 100, ".2f"),
          _fmt(row["peak_viewers"]), _fmt(row["avg_viewers"], ".1f"))
         for name, row in sorted(streaming["platforms"].items())])]
    parts += ["<h2>Topics</h2>", _table(
        ["Topic", "Debates", "Completed", "Engagement", "Controversy", "Consensus", "Last seen"],
        [(row["topic"], row["debates"], row["completed"], _fmt(row["avg_engagement"], ".2f"),
          _fmt(row["avg_controversy"], ".2f"), _fmt(row["avg_consensus"], ".2f"), row["last_seen"][:16])
         for row in report["topics"][:50]])]
    parts += ["<h2>Debates per day</h2>", _table(
        ["Date", "Debates", "Completed", "Failed", "Interrupted"],
        [(row["date"], row["debates"], row["completed"], row["failed"], row["interrupted"])
         for row in reversed(debates["debates_per_day"])])]
    parts.append("</body></html>")
    return "\n".join(parts)
