"""Time helpers: aware UTC datetimes inside, ISO 8601 strings in storage, IANA zones for people."""

from __future__ import annotations

import importlib.resources
import time
import zoneinfo
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError

Clock = Callable[[], datetime]
UTC = timezone.utc


def utc_now() -> datetime:
    """The real clock; everything that decides takes ``now`` as an argument instead."""
    return datetime.now(UTC)


class FastClock:
    """A clock that runs ``rate`` times faster than real time from ``start``: a day in minutes.

    For soak tests and rehearsals. The Supervisor divides its waits by ``rate`` (see
    ``real_seconds``), so debates start on time on the fast clock.
    """

    def __init__(self, start: datetime, rate: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0:
            raise ConfigError(f"rate must be a positive number, got {rate!r}")
        self.start = ensure_utc(start)
        self.rate = float(rate)
        self._monotonic = monotonic
        self._origin = monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.rate)

    def __repr__(self) -> str:
        return f"FastClock(start={self.start.isoformat()}, rate={self.rate:g})"


def real_seconds(clock: Clock, seconds: float) -> float:
    """How long ``seconds`` on ``clock`` last in real time (the same, unless it is a FastClock)."""
    return seconds / getattr(clock, "rate", 1.0)


def ensure_utc(value: datetime) -> datetime:
    """Naive datetimes are taken as machine-local time (as the seed README's ``datetime.now()``)."""
    if value.tzinfo is None:
        value = value.astimezone()
    return value.astimezone(UTC)


def to_iso(value: datetime | None) -> str | None:
    return None if value is None else ensure_utc(value).isoformat()


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else ensure_utc(datetime.fromisoformat(value))


def machine_zone_name() -> str:
    """The machine's IANA zone name (``TZ`` or /etc/localtime), UTC when it cannot be told."""
    try:
        import tzlocal

        return tzlocal.get_localzone_name() or "UTC"
    except Exception:  # tzlocal raises a variety of errors on odd systems; UTC is a safe answer
        return "UTC"


def posix_tz(zone_name: str) -> str | None:
    """The POSIX ``TZ`` rule of an IANA zone, e.g. ``EST5EDT,M3.2.0,M11.1.0`` for America/New_York:
    the footer of its TZif file, from the system's zone files or else the tzdata package (where
    zoneinfo looks too). A child process given it as ``TZ`` (ffmpeg's on-screen clock) shows that
    zone's time without needing zone files of its own; None when the zone has no such rule."""
    data = None
    parts = zone_name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    for folder in zoneinfo.TZPATH:
        candidate = Path(folder, *parts)
        if candidate.is_file():
            data = candidate.read_bytes()
            break
    if data is None:
        try:
            data = importlib.resources.files("tzdata.zoneinfo").joinpath(*parts).read_bytes()
        except (ModuleNotFoundError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
    if not data.startswith(b"TZif") or data[4:5] < b"2":  # version 1 files have no footer
        return None
    footer = data.rstrip(b"\n").rpartition(b"\n")[2]
    try:
        rule = footer.decode("ascii")
    except UnicodeDecodeError:
        return None
    return rule if rule and rule.isprintable() else None


def resolve_zone(name: str | None) -> ZoneInfo:
    """``None`` means the machine's zone; an unknown name is a ConfigError naming the valid form."""
    zone_name = name or machine_zone_name()
    try:
        return ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"timezone must be an IANA zone name such as 'Europe/Berlin' or 'UTC', got {zone_name!r}"
        ) from exc
