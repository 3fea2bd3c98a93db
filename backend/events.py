"""Debate requests from outside: JSON files dropped into ``<data>/events/inbox/``.

``parse_event`` and ``event_from_dict`` turn a file or an API body into a ``DebateEvent``;
``EventInbox`` collects the files and files them under ``processed/`` or ``rejected/``;
``DirectoryWatcher`` wakes the backend's loop as soon as a file arrives.

A writer should create ``name.json.tmp`` (or ``.part``) and rename it to ``name.json`` when done.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from .errors import ConfigError
from .models import validate_topic
from .timeutil import Clock, ensure_utc, utc_now

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 64 * 1024
URGENCIES = ("normal", "high")
SOURCES = ("api", "inbox", "dashboard")
MAX_DETAIL_FIELDS = 20
MAX_DETAIL_KEY_CHARS = 64
MAX_DETAIL_TEXT_CHARS = 500
MAX_DETAIL_INT = 2**53  # larger integers lose precision in JavaScript pages
DEFAULT_SETTLE_SECONDS = 2.0
STOP_TIMEOUT_SECONDS = 5.0
_IN_PROGRESS_SUFFIXES = (".tmp", ".part")
_RESERVED_FIELDS = frozenset({"topic", "urgency"})

DetailValue = str | int | float


@dataclass(frozen=True)
class DebateEvent:
    """A request for one debate; validates and normalises itself on construction."""

    topic: str
    urgency: str = "normal"
    source: str = "api"
    received_at: datetime | None = None  # aware UTC
    details: dict[str, DetailValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "topic", _checked_topic(self.topic))
        object.__setattr__(self, "urgency", _checked_urgency(self.urgency))
        if self.source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)}, got {_preview(self.source)}")
        if self.received_at is not None:
            object.__setattr__(self, "received_at", ensure_utc(self.received_at))
        object.__setattr__(self, "details", _small_details(self.details))


# -- parsing --------------------------------------------------------------------------------


def parse_event(raw: bytes, *, source: str = "inbox", received_at: datetime) -> DebateEvent:
    """Parse one event file's bytes; every problem is a ConfigError saying what is wrong."""
    _check_size(len(raw))
    data = _load_json(_decode(raw))
    return event_from_dict(data, source=source, received_at=received_at)


def event_from_dict(data: dict[str, Any], *, source: str, received_at: datetime) -> DebateEvent:
    """Build an event from a decoded JSON object (an inbox file or an API body)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f'an event must be a JSON object such as {{"topic": "..."}}, got a JSON {_json_kind(data)}'
        )
    if "topic" not in data:
        raise ConfigError('the event has no "topic" field; expected {"topic": "...", "urgency": "normal"}')
    urgency = data.get("urgency")
    details = {key: value for key, value in data.items() if key not in _RESERVED_FIELDS}
    return DebateEvent(
        topic=data["topic"],
        urgency="normal" if urgency is None else urgency,
        source=source,
        received_at=received_at,
        details=details,
    )


def _check_size(size: int) -> None:
    if size > MAX_EVENT_BYTES:
        raise ConfigError(f"event file is {size} bytes; the limit is {MAX_EVENT_BYTES}")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")  # tolerate the BOM some Windows tools write
    except UnicodeDecodeError as exc:
        raise ConfigError(f"event file is not UTF-8 text: {exc}") from None


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError("event file is not valid JSON: it is nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, and Python's limit on huge integer literals
        raise ConfigError(f"event file is not valid JSON: {exc}") from None


def _checked_topic(topic: Any) -> str:
    topic = validate_topic(topic)
    if not _is_encodable(topic):
        raise ConfigError("topic must be valid Unicode text, got a lone surrogate escape such as \\ud800")
    return topic


def _checked_urgency(urgency: Any) -> str:
    value = urgency.strip().lower() if isinstance(urgency, str) else urgency
    if value not in URGENCIES:
        raise ConfigError(f"urgency must be one of {', '.join(URGENCIES)}, got {_preview(urgency)}")
    return value


def _small_details(details: dict[str, Any]) -> dict[str, DetailValue]:
    """Keep a few short string and number fields; drop the rest rather than refuse the event."""
    kept: dict[str, DetailValue] = {}
    for key, value in details.items():
        small = _small_value(value)
        if small is None or not isinstance(key, str) or len(key) > MAX_DETAIL_KEY_CHARS:
            continue
        if not _is_encodable(key):
            continue
        kept[key] = small
        if len(kept) == MAX_DETAIL_FIELDS:
            break
    return kept


def _small_value(value: Any) -> DetailValue | None:
    if isinstance(value, str):
        return value[:MAX_DETAIL_TEXT_CHARS] if _is_encodable(value) else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if abs(value) <= MAX_DETAIL_INT else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _is_encodable(text: str) -> bool:
    """False for lone surrogates, which JSON escapes allow but UTF-8 files cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_kind(value: Any) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- the inbox folder -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    path: Path
    size: int
    mtime: float


class EventInbox:
    """``<root>/inbox`` holds new event files; drained ones go to ``processed/`` or ``rejected/``."""

    def __init__(
        self,
        root: Path,
        clock: Clock = utc_now,
        *,
        settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    ) -> None:
        self.root = Path(root)
        self.inbox = self.root / "inbox"
        self.processed = self.root / "processed"
        self.rejected = self.root / "rejected"
        self.settle_seconds = settle_seconds
        self.last_event_time: datetime | None = None
        self.accepted_count = 0
        self.rejected_count = 0
        self._clock = clock
        self._make_dirs()

    def drain(self) -> list[DebateEvent]:
        """Take every finished event file, oldest first; bad files are filed, never raised."""
        events = []
        for candidate in self._candidates():
            event = self._take(candidate)
            if event is not None:
                events.append(event)
        return events

    def _make_dirs(self) -> None:
        for directory in (self.inbox, self.processed, self.rejected):
            directory.mkdir(parents=True, exist_ok=True)

    def _candidates(self) -> list[_Candidate]:
        try:
            entries = list(os.scandir(self.inbox))
        except FileNotFoundError:  # someone removed the folder; recreate it for the next writer
            self._make_dirs()
            return []
        found = [c for c in map(self._candidate, entries) if c is not None]
        return sorted(found, key=lambda c: (c.mtime, c.path.name))

    def _candidate(self, entry: os.DirEntry[str]) -> _Candidate | None:
        name = entry.name
        if name.startswith(".") or name.endswith(_IN_PROGRESS_SUFFIXES) or not name.endswith(".json"):
            return None
        try:
            if not entry.is_file(follow_symlinks=False):
                return None
            stat = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            return None
        return _Candidate(Path(entry.path), stat.st_size, stat.st_mtime)

    def _take(self, candidate: _Candidate) -> DebateEvent | None:
        now = self._clock()
        try:
            _check_size(candidate.size)  # from stat: a huge file is never read
            event = parse_event(self._read(candidate.path), source="inbox", received_at=now)
        except FileNotFoundError:
            return None  # vanished between listing and reading
        except (ConfigError, OSError) as exc:
            self._refuse(candidate, str(exc))
            return None
        return self._accept(candidate.path, event, now)

    @staticmethod
    def _read(path: Path) -> bytes:
        with path.open("rb") as handle:
            return handle.read(MAX_EVENT_BYTES + 1)  # the file may have grown since stat

    def _refuse(self, candidate: _Candidate, reason: str) -> None:
        if candidate.size <= MAX_EVENT_BYTES and self._is_fresh(candidate):
            return  # a writer that does not rename may still be filling it; a later drain decides
        self._reject(candidate.path, reason)

    def _is_fresh(self, candidate: _Candidate) -> bool:
        # Compared with the file system's wall clock, not self._clock, which tests may freeze.
        return abs(time.time() - candidate.mtime) < self.settle_seconds

    def _accept(self, path: Path, event: DebateEvent, now: datetime) -> DebateEvent | None:
        folder = self.processed / f"{ensure_utc(now):%Y-%m-%d}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.rename(_free_name(folder, path.name))
        except OSError:
            # Not returned: the file stays in the inbox, and returning it would repeat the debate.
            logger.exception("could not move accepted event file %s", path)
            return None
        self.accepted_count += 1
        self.last_event_time = event.received_at
        logger.info("accepted event file %s: %r", path.name, event.topic)
        return event

    def _reject(self, path: Path, reason: str) -> None:
        try:
            target = _free_name(self.rejected, path.name, companion=".reason.txt")
            path.rename(target)
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        except OSError:
            logger.exception("could not move rejected event file %s (%s)", path, reason)
            return
        self.rejected_count += 1
        logger.warning("rejected event file %s: %s", path.name, reason)


def _free_name(folder: Path, name: str, companion: str = "") -> Path:
    """``folder/name``, or ``stem-1.json``, ``stem-2.json``… when taken (with its companion file)."""
    stem, suffix = os.path.splitext(name)
    candidate, number = folder / name, 0
    while _taken(candidate) or (companion and _taken(candidate.with_name(candidate.name + companion))):
        number += 1
        candidate = folder / f"{stem}-{number}{suffix}"
    return candidate


def _taken(path: Path) -> bool:
    return os.path.lexists(path)


# -- waking up on new files -----------------------------------------------------------------


class _ArrivalHandler(FileSystemEventHandler):
    """Forwards file arrivals to a callback that must not be able to kill the observer."""

    def __init__(self, directories: frozenset[str], on_change: Callable[[], None]) -> None:
        super().__init__()
        self._directories = directories
        self._on_change = on_change

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or not self._is_arrival(event):
            return
        try:
            self._on_change()
        except Exception:  # the observer thread would die and no later file would wake anyone
            logger.exception("on_change failed for %s", os.fsdecode(event.src_path))

    def _is_arrival(self, event: FileSystemEvent) -> bool:
        # "closed" (after writing) wakes the loop again once a non-renaming writer has finished.
        if event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_CLOSED):
            return True
        if event.event_type == EVENT_TYPE_MOVED:
            return os.path.dirname(os.fsdecode(event.dest_path)) in self._directories
        return False


class DirectoryWatcher:
    """Calls on_change() (with no args) whenever a file is created in or moved into one of the directories."""

    def __init__(self, directories: list[Path], on_change: Callable[[], None]) -> None:
        self.directories = [Path(d).resolve() for d in directories]
        self._on_change = on_change
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        """Watch in a watchdog daemon thread; a no-op while already running."""
        if self.alive:
            return
        for directory in self.directories:
            if not directory.is_dir():
                raise ConfigError(f"cannot watch {directory}: it is not an existing directory")
        handler = _ArrivalHandler(frozenset(map(str, self.directories)), self._on_change)
        observer = Observer()
        observer.daemon = True
        for directory in self.directories:
            observer.schedule(handler, str(directory), recursive=False)
        observer.start()
        self._observer = observer

    def stop(self) -> None:
        """Stop the observer and wait for its thread (up to 5 seconds)."""
        observer = self._observer
        if observer is None:
            return
        observer.stop()
        observer.join(timeout=STOP_TIMEOUT_SECONDS)
        if observer.is_alive():
            logger.warning("directory watcher did not stop within %s s", STOP_TIMEOUT_SECONDS)
            return
        self._observer = None

    @property
    def alive(self) -> bool:
        return self._observer is not None and self._observer.is_alive()
