"""Crash-safe, process-safe JSON storage; the project's only user of TinyDB.

Layout of a data directory::

    state.json                          small live state (TinyDB tables)
    state.json.lock                     cross-process write lock
    history/<kind>/YYYY-MM-DD.json      records by day: archived debates, debate and stream metrics
    series/<name>/YYYY-MM-DD/HH.json    raw samples, one file per hour
    series/<name>/rollup/YYYY-MM.json   one row per hour once raw data has aged
    transcripts/YYYY-MM/<id>.jsonl      one JSON line per turn
    commands/<time_ns>-<uuid8>.json     commands queued by a viewer process

Every write replaces a whole file atomically (temp file, fsync, rename, directory fsync) or appends
one fsynced line, always while holding a thread lock and the lock file. Reads take no lock: a file
is always either the old or the new version. ``Store(None)`` keeps the same layout in memory.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Callable, ContextManager, Iterable, Iterator, MutableMapping

import filelock
from tinydb import where
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Table

from .errors import ConfigError, StoreError
from .timeutil import UTC, ensure_utc, from_iso, to_iso, utc_now

STATE_FILE = "state.json"
LOCK_TIMEOUT_SECONDS = 30.0
TEMP_SUFFIX = ".tmp"
TEMP_FILE_AGE_SECONDS = 60  # a temp file older than this is a crashed write's leftover
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

_DEBATE_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DATED_DEBATE_ID = re.compile(r"debate_(\d{8}T\d{6})_[A-Za-z0-9]{8}")
_SERIES_NAME = re.compile(r"[a-z0-9_]{1,40}")
_COMMAND_FILE = re.compile(r"\d{20}-[0-9a-f]{8}\.json")
_ROLLUP_RESERVED = frozenset({"ts", "rollup", "count"})

Tables = dict[str, dict[str, Any]]


class _Corrupt(Exception):
    """A file that should hold JSON does not; the message says what is wrong with it."""


# --- bytes <-> JSON ---------------------------------------------------------------------------


def _encode(data: Any) -> bytes:
    """Compact UTF-8 JSON; a value JSON cannot hold is a StoreError before anything is written."""
    try:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise StoreError(f"values must be JSON-serializable (text, numbers, lists, dicts): {exc}") from None


def _decode(payload: bytes) -> Any:
    """Parse JSON bytes or raise _Corrupt with a short, human reason."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Corrupt(f"not UTF-8 text: byte {payload[exc.start]:#04x} at position {exc.start}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Corrupt(f"{exc.msg}: line {exc.lineno} column {exc.colno}") from None


def _decode_tables(payload: bytes) -> Tables:
    """state.json must be an object of TinyDB tables, each an object of documents."""
    data = _decode(payload)
    if not isinstance(data, dict):
        raise _Corrupt(f"not a JSON object but {type(data).__name__}")
    for name, table in data.items():
        if not isinstance(table, dict) or not all(isinstance(doc, dict) for doc in table.values()):
            raise _Corrupt(f"table {name!r} is not an object of documents")
    return data


def _decode_turn(line: bytes) -> dict[str, Any] | None:
    try:
        turn = _decode(line)
    except _Corrupt:
        return None
    return turn if isinstance(turn, dict) else None


def _decode_rows(payload: bytes, key: str) -> list[dict[str, Any]]:
    """A partition file is ``{key: [objects]}``."""
    data = _decode(payload)
    rows = data.get(key) if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise _Corrupt(f"not a JSON object with a {key!r} list of objects")
    return rows


# --- files on disk ----------------------------------------------------------------------------


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new file durable: the directory entry must reach the disk too."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open directories; its renames are journaled anyway
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(path: Path, payload: bytes) -> None:
    """Temp file beside ``path``, flush + fsync, rename over ``path``, fsync the directory.

    mkstemp creates the file readable by its owner only (0o600), so the result is too.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _ends_line(handle: BinaryIO) -> bool:
    """True for an empty file or one whose last byte ends a line (O_APPEND writes go to the end anyway)."""
    size = handle.seek(0, os.SEEK_END)
    if not size:
        return True
    handle.seek(size - 1)
    return handle.read(1) == b"\n"


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # removed by a roll-up or retention run while we were counting
        return 0


def _is_temp_name(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


class AtomicJSONStorage(Storage):
    """TinyDB storage that re-reads its file on every read and replaces it atomically on write."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)

    def read(self) -> Tables | None:
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if not payload:
            return None
        try:
            return _decode_tables(payload)
        except _Corrupt as exc:
            raise StoreError(f"{self.path.name} is corrupt ({exc}); reopen the store to move it aside") from None

    def write(self, data: Tables) -> None:
        atomic_replace(self.path, _encode(data))

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0


class _JSONMemoryStorage(MemoryStorage):
    """The twin of AtomicJSONStorage: keeps the JSON bytes, so values behave exactly as on disk."""

    def read(self) -> Tables | None:
        return None if self.memory is None else json.loads(self.memory)

    def write(self, data: Tables) -> None:
        self.memory = _encode(data)  # type: ignore[assignment]  # bytes, not the parsed dict

    def size(self) -> int:
        return 0 if self.memory is None else len(self.memory)  # type: ignore[arg-type]


class _TransactionalStorage(Storage):
    """Turns TinyDB's write-per-operation into one write per transaction.

    Inside a transaction the owning thread reads and writes a pending copy; every other thread
    keeps reading the committed file, so it never sees half a transaction.
    """

    def __init__(self, inner: AtomicJSONStorage | _JSONMemoryStorage, on_write: Callable[[float], None]) -> None:
        super().__init__()
        self.inner = inner
        self._on_write = on_write
        self._owner: int | None = None
        self._pending: Tables = {}
        self._dirty = False

    def _owned(self) -> bool:
        return self._owner == threading.get_ident()

    def read(self) -> Tables | None:
        return self._pending if self._owned() else self.inner.read()

    def write(self, data: Tables) -> None:
        if not self._owned():  # keeps every state write on the locked path
            raise StoreError("state.json can only be written inside a store transaction")
        self._pending, self._dirty = data, True

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """The caller holds the store's write locks; a nested transaction joins the outer one."""
        if self._owned():
            yield
            return
        self._pending, self._dirty = self.inner.read() or {}, False
        self._owner = threading.get_ident()
        try:
            yield
            if self._dirty:
                self._commit()
        finally:
            self._owner, self._pending = None, {}

    def _commit(self) -> None:
        started = time.perf_counter()
        self.inner.write(self._pending)
        self._on_write(time.perf_counter() - started)


class _DiskFiles:
    """Files under the data directory, named by '/'-separated paths relative to it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, rel: str) -> Path:
        return self.root.joinpath(*rel.split("/"))

    def read(self, rel: str) -> bytes | None:
        try:
            return self._path(rel).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None

    def write(self, rel: str, payload: bytes) -> None:
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_replace(path, payload)

    def append_line(self, rel: str, line: bytes) -> None:
        """Append one line, flush + fsync; a torn last line is closed first so this one stays whole."""
        path = self._path(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        created = not path.exists()
        with open(path, "ab+") as handle:
            if not _ends_line(handle):
                line = b"\n" + line
            handle.write(line + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            _fsync_dir(path.parent)

    def children(self, rel: str) -> list[str]:
        try:
            names = os.listdir(self._path(rel))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(name for name in names if not _is_temp_name(name))

    def exists(self, rel: str) -> bool:
        return self._path(rel).exists()

    def remove(self, rel: str) -> None:
        self._path(rel).unlink(missing_ok=True)

    def rename(self, rel: str, new_rel: str) -> None:
        target = self._path(new_rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self._path(rel), target)
        _fsync_dir(target.parent)

    def prune(self, rel: str) -> None:
        """Remove a folder if it is empty."""
        try:
            self._path(rel).rmdir()
        except OSError:  # not empty, or already gone
            pass

    def size(self, rel: str) -> int:
        path = self._path(rel)
        if path.is_file():
            return _file_size(path)
        return sum(_file_size(Path(folder) / name) for folder, _, names in os.walk(path) for name in names)

    def remove_temp_files(self) -> None:
        """Temp files left by a process killed mid-write; only safe while holding the lock file.

        The store writes its own files (state.json, the partitions in the folders) under that lock,
        so their temp files are leftovers. The other files at the top (the key file, the notifier
        URLs) are written under locks of their own, by a dashboard beside the backend too: a temp
        file of theirs may be a write in flight, so it goes only once it is old.
        """
        cutoff = time.time() - TEMP_FILE_AGE_SECONDS
        for folder, _, names in os.walk(self.root):
            for name in filter(_is_temp_name, names):
                path = Path(folder) / name
                try:
                    if (path.parent != self.root or name.startswith(f".{STATE_FILE}.")
                            or path.stat().st_mtime < cutoff):
                        path.unlink(missing_ok=True)
                except FileNotFoundError:  # its write has just finished
                    continue


class _MemoryFiles:
    """The in-memory twin of _DiskFiles: a dict of path -> bytes; folders exist while they hold files."""

    def __init__(self) -> None:
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()  # readers iterate the dict while a writer may change it

    def read(self, rel: str) -> bytes | None:
        return self._files.get(rel)

    def write(self, rel: str, payload: bytes) -> None:
        with self._lock:
            self._files[rel] = payload

    def append_line(self, rel: str, line: bytes) -> None:
        with self._lock:
            old = self._files.get(rel, b"")
            if old and not old.endswith(b"\n"):
                line = b"\n" + line
            self._files[rel] = old + line + b"\n"

    def children(self, rel: str) -> list[str]:
        prefix = rel + "/"
        with self._lock:
            paths = [path for path in self._files if path.startswith(prefix)]
        return sorted({path[len(prefix):].split("/", 1)[0] for path in paths})

    def exists(self, rel: str) -> bool:
        return rel in self._files or bool(self.children(rel))

    def remove(self, rel: str) -> None:
        with self._lock:
            self._files.pop(rel, None)

    def rename(self, rel: str, new_rel: str) -> None:
        with self._lock:
            self._files[new_rel] = self._files.pop(rel)

    def prune(self, rel: str) -> None:
        """Folders vanish with their last file."""

    def size(self, rel: str) -> int:
        prefix = rel + "/"
        with self._lock:
            return sum(len(data) for path, data in self._files.items() if path == rel or path.startswith(prefix))

    def remove_temp_files(self) -> None:
        """Memory has no temp files."""


# --- small pure helpers ------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    """An ISO string as an aware UTC datetime, or None when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return from_iso(value)
    except ValueError:
        return None


def _row_time(row: dict[str, Any], field: str = "ts") -> datetime | None:
    return _parse_time(row.get(field))


def _in_range(row: dict[str, Any], field: str, start: datetime, end: datetime) -> bool:
    when = _row_time(row, field)
    return when is not None and start <= when < end


def _sorted_by_time(rows: Iterable[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda row: _row_time(row, field) or datetime.min.replace(tzinfo=UTC))


def _merge_by(rows: list[dict[str, Any]], new: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Rows keyed by ``key``; a new row replaces an old one with the same key, order kept."""
    merged = {row.get(key): row for row in rows}
    merged.update((row.get(key), row) for row in new)
    return list(merged.values())


def _strptime_utc(text: str, fmt: str) -> datetime | None:
    try:
        return datetime.strptime(text, fmt).replace(tzinfo=UTC)
    except ValueError:
        return None


def _next_month(when: datetime) -> datetime:
    first = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


def _overlaps(begin: datetime, finish: datetime, start: datetime, end: datetime) -> bool:
    return begin < end and finish > start


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_fields(samples: list[dict[str, Any]]) -> list[str]:
    """Numeric field names in order of first appearance; names the rollup row itself uses are left out."""
    names: dict[str, None] = {}
    for sample in samples:
        names.update((name, None) for name, value in sample.items() if _is_number(value))
    return [name for name in names if name not in _ROLLUP_RESERVED]


def _rollup_row(hour: datetime, samples: list[dict[str, Any]]) -> dict[str, Any]:
    """One hour as count, and mean/min/max of every numeric field."""
    row: dict[str, Any] = {"ts": to_iso(hour), "rollup": True, "count": len(samples)}
    for name in _numeric_fields(samples):
        values = [sample[name] for sample in samples if _is_number(sample.get(name))]
        row[name] = math.fsum(values) / len(values)
        row[f"{name}_min"] = min(values)
        row[f"{name}_max"] = max(values)
    return row


def _replace_with(new: dict[str, Any]) -> Callable[[MutableMapping[Any, Any]], None]:
    """A TinyDB update that replaces the whole document (TinyDB's own update merges fields)."""

    def replace(doc: MutableMapping[Any, Any]) -> None:
        doc.clear()
        doc.update(new)

    return replace


def _check_days(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name} must be a whole number of days >= 1, got {value!r}")
    return value


# --- tables -----------------------------------------------------------------------------------


class Documents:
    """One table of state.json: JSON documents keyed by a text field. Returns copies."""

    def __init__(self, store: Store, table: str, key_field: str) -> None:
        self._store = store
        self._table = table
        self._key = key_field

    def upsert(self, doc: dict[str, Any]) -> None:
        self.upsert_many([doc])

    def upsert_many(self, docs: list[dict[str, Any]]) -> None:
        """Insert or replace each document by its key; one atomic write for all."""
        checked = [self._checked(doc) for doc in docs]
        if not checked:
            return
        with self._store._state_transaction():
            table = self._store._table(self._table)
            index = {str(doc.get(self._key)): doc.doc_id for doc in table.all()}
            for doc in checked:
                self._put(table, index, doc)

    def _put(self, table: Table, index: dict[str, int], doc: dict[str, Any]) -> None:
        doc_id = index.get(doc[self._key])
        if doc_id is None:
            index[doc[self._key]] = table.insert(doc)
        else:
            table.update(_replace_with(doc), doc_ids=[doc_id])

    def _checked(self, doc: Any) -> dict[str, Any]:
        key = doc.get(self._key) if isinstance(doc, dict) else None
        if not isinstance(key, str) or not key:
            raise StoreError(f"{self._table} documents need a non-empty text {self._key!r}, got {key!r}")
        return doc

    def get(self, key: str) -> dict[str, Any] | None:
        doc = self._store._table(self._table).get(where(self._key) == key)
        return None if doc is None else dict(doc)

    def all(self) -> list[dict[str, Any]]:
        return [dict(doc) for doc in self._store._table(self._table).all()]

    def delete(self, keys: list[str]) -> int:
        """Remove the documents with these keys; returns how many there were."""
        wanted = where(self._key).one_of(list(set(keys)))
        with self._store._state_transaction():
            table = self._store._table(self._table)
            if not table.contains(wanted):  # a TinyDB remove would rewrite the file regardless
                return 0
            return len(table.remove(wanted))


class KeyValue:
    """Settings as key -> JSON value, stored as {"key", "value"} documents of one table."""

    def __init__(self, store: Store, table: str) -> None:
        self._docs = Documents(store, table, "key")

    def get(self, key: str, default: Any = None) -> Any:
        doc = self._docs.get(key)
        return default if doc is None else doc["value"]

    def set(self, key: str, value: Any) -> None:
        self.set_many({key: value})

    def set_many(self, values: dict[str, Any]) -> None:
        """One atomic write for all values."""
        self._docs.upsert_many([{"key": key, "value": value} for key, value in values.items()])

    def all(self) -> dict[str, Any]:
        return {doc["key"]: doc["value"] for doc in self._docs.all()}


# --- the store --------------------------------------------------------------------------------


class Store:
    """The project's data: live state in state.json, everything that grows in partition files."""

    def __init__(self, data_dir: Path | None, *, retention_days: int = 365, raw_retention_days: int = 7) -> None:
        self.retention_days = _check_days("retention_days", retention_days)
        self.raw_retention_days = _check_days("raw_retention_days", raw_retention_days)
        self.data_dir = None if data_dir is None else Path(data_dir)
        self.problems: list[str] = []
        self.last_write_seconds = 0.0
        self._thread_lock = threading.RLock()
        self._buffer: dict[str, list[dict[str, Any]]] = {}  # raw partition path -> unflushed samples
        inner = self._open_memory() if self.data_dir is None else self._open_disk(self.data_dir)
        self._state = _TransactionalStorage(inner, self._record_write)
        with self._locked():
            self._files.remove_temp_files()
            self._check_state_file()
        self._open_tables()

    def _open_tables(self) -> None:
        self.settings = KeyValue(self, "settings")
        self.debates = Documents(self, "debates", "debate_id")
        self.destinations = Documents(self, "destinations", "destination_id")
        self.alerts = Documents(self, "alerts", "alert_id")  # alert history: one per alert that fired
        self.alert_states = Documents(self, "alert_states", "key")  # rule state per component:condition
        self.notices = Documents(self, "notices", "notice_id")  # the last notifications said
        self.silences = Documents(self, "silences", "silence_id")
        self.maintenance = Documents(self, "maintenance", "window_id")

    def _open_memory(self) -> _JSONMemoryStorage:
        self._files: _DiskFiles | _MemoryFiles = _MemoryFiles()
        self._file_lock: filelock.BaseFileLock | None = None
        self.commands_dir: Path | None = None
        return _JSONMemoryStorage()

    def _open_disk(self, data_dir: Path) -> AtomicJSONStorage:
        try:
            for folder in ("history/debates", "series", "transcripts", "commands/rejected"):
                (data_dir / folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data_dir}: {exc.strerror or exc}") from exc
        self._files = _DiskFiles(data_dir)
        self._file_lock = filelock.FileLock(data_dir / f"{STATE_FILE}.lock", timeout=LOCK_TIMEOUT_SECONDS)
        self.commands_dir = data_dir / "commands"
        return AtomicJSONStorage(data_dir / STATE_FILE)

    # -- the one write path --

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Threads queue on the RLock, processes on the lock file; both are reentrant."""
        with self._thread_lock, self._process_lock():
            try:
                yield
            except OSError as exc:
                raise StoreError(f"could not write {exc.filename or 'the store'}: {exc.strerror or exc}") from exc

    def _process_lock(self) -> ContextManager[Any]:
        if self._file_lock is None:
            return nullcontext()
        try:
            return self._file_lock.acquire()
        except filelock.Timeout:
            raise StoreError(
                f"another process held {self._file_lock.lock_file} for more than {LOCK_TIMEOUT_SECONDS:.0f} s"
            ) from None

    @contextmanager
    def _state_transaction(self) -> Iterator[None]:
        with self._locked(), self._state.transaction():
            yield

    def _table(self, name: str) -> Table:
        # A fresh Table per use: TinyDB caches the next document id per Table object, and another
        # process may already have used it.
        return Table(self._state, name, cache_size=0)

    def _record_write(self, seconds: float) -> None:
        self.last_write_seconds = seconds

    def _write_file(self, rel: str, data: Any) -> None:
        payload = _encode(data)
        with self._locked():
            started = time.perf_counter()
            self._files.write(rel, payload)
            self._record_write(time.perf_counter() - started)

    def _remove_files(self, rels: list[str]) -> int:
        with self._locked():
            for rel in rels:
                self._files.remove(rel)
        return len(rels)

    # -- corrupt files --

    def _note(self, problem: str) -> None:
        with self._thread_lock:
            if problem not in self.problems:
                self.problems.append(problem)

    def _check_state_file(self) -> None:
        payload = self._files.read(STATE_FILE)  # the memory twin keeps its state elsewhere: None
        if not payload:
            return
        try:
            _decode_tables(payload)
        except _Corrupt as exc:
            self._move_aside(STATE_FILE, payload, str(exc), "starting with empty state")

    def _move_aside(self, rel: str, payload: bytes, reason: str, consequence: str) -> None:
        """Keep a corrupt file's bytes for a person to look at, and say so in ``problems``."""
        with self._locked():
            if self._files.read(rel) != payload:  # another thread already moved or rewrote it
                return
            target = self._aside_name(rel)
            self._files.rename(rel, target)
        self._note(f"{rel} was corrupt ({reason}) and was moved to {target}; {consequence}")

    def _aside_name(self, rel: str) -> str:
        base = f"{rel}.corrupt-{utc_now():%Y%m%dT%H%M%SZ}"
        target, number = base, 1
        while self._files.exists(target):
            number += 1
            target = f"{base}-{number}"
        return target

    def _read_rows(self, rel: str, key: str) -> list[dict[str, Any]]:
        """The rows of a partition file; a corrupt one is moved aside and reads as empty."""
        payload = self._files.read(rel)
        if payload is None:
            return []
        try:
            return _decode_rows(payload, key)
        except _Corrupt as exc:
            self._move_aside(rel, payload, str(exc), "its contents are left out")
            return []

    # -- dated partitions --

    def _dated(self, rel: str, fmt: str) -> list[tuple[str, datetime]]:
        """Children of a folder whose names parse with ``fmt``, as (path, UTC start time)."""
        found = ((name, _strptime_utc(name, fmt)) for name in self._files.children(rel))
        return [(f"{rel}/{name}", when) for name, when in found if when is not None]

    def _raw_hours(self, series: str) -> list[tuple[str, datetime]]:
        hours = []
        for day_rel, day in self._dated(f"series/{series}", "%Y-%m-%d"):
            hours += [(rel, day + timedelta(hours=hour.hour)) for rel, hour in self._dated(day_rel, "%H.json")]
        return hours

    def _series_names(self) -> list[str]:
        return [name for name in self._files.children("series") if _SERIES_NAME.fullmatch(name)]

    # -- records: events kept by day (archived debates, debate and streaming metrics) --

    def put_records(self, kind: str, docs: list[dict[str, Any]], key: str, time_field: str) -> int:
        """Insert or replace records by ``key`` in day partitions ``history/<kind>/YYYY-MM-DD.json``
        chosen by ``time_field``; one atomic write per touched day."""
        by_day = self._group_by_day(kind, docs, key, time_field)
        with self._locked():
            for rel, batch in by_day.items():
                self._write_file(rel, {kind: _merge_by(self._read_rows(rel, kind), batch, key)})
        return len(docs)

    def _group_by_day(self, kind: str, docs: list[dict[str, Any]], key: str,
                      time_field: str) -> dict[str, list[dict[str, Any]]]:
        if not isinstance(kind, str) or not _SERIES_NAME.fullmatch(kind):
            raise StoreError(f"record kind must be 1-40 of a-z, 0-9 or '_', got {kind!r}")
        by_day: dict[str, list[dict[str, Any]]] = {}
        for doc in docs:
            when = _row_time(doc, time_field) if isinstance(doc, dict) else None
            if when is None or not isinstance(doc.get(key), str):
                raise StoreError(f"{kind} records need a text {key} and an ISO {time_field}, got {doc!r}")
            by_day.setdefault(f"history/{kind}/{when:%Y-%m-%d}.json", []).append(json.loads(_encode(doc)))
        return by_day

    def records(self, kind: str, key: str, time_field: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Records with ``time_field`` in [start, end), oldest first (one per key)."""
        start, end = ensure_utc(start), ensure_utc(end)
        found: dict[str, dict[str, Any]] = {}
        for rel, day in self._dated(f"history/{kind}", "%Y-%m-%d.json"):
            if _overlaps(day, day + DAY, start, end):
                found.update((str(doc.get(key)), doc) for doc in self._read_rows(rel, kind))
        return _sorted_by_time((doc for doc in found.values() if _in_range(doc, time_field, start, end)), time_field)

    def archive_debates(self, docs: list[dict[str, Any]]) -> int:
        """Move finished debates from the debates table into day partitions of history."""
        if not docs:
            return 0
        with self._locked():
            self.put_records("debates", docs, "debate_id", "scheduled_time")
            self.debates.delete([doc["debate_id"] for doc in docs])
        return len(docs)

    def debate_history(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Archived and live debates scheduled in [start, end), oldest first."""
        start, end = ensure_utc(start), ensure_utc(end)
        found = {doc["debate_id"]: doc for doc in self.records("debates", "debate_id", "scheduled_time", start, end)}
        found.update((doc["debate_id"], doc) for doc in self.debates.all())  # live copy wins
        return _sorted_by_time(
            (doc for doc in found.values() if _in_range(doc, "scheduled_time", start, end)), "scheduled_time"
        )

    # -- transcripts --

    def _transcript_path(self, debate_id: Any) -> str:
        if not isinstance(debate_id, str) or not _DEBATE_ID.fullmatch(debate_id):
            raise StoreError(f"debate_id must be 1-80 letters, digits, '_' or '-', got {debate_id!r}")
        dated = _DATED_DEBATE_ID.fullmatch(debate_id)
        when = _strptime_utc(dated.group(1), "%Y%m%dT%H%M%S") if dated else None
        folder = "other" if when is None else f"{when:%Y-%m}"
        return f"transcripts/{folder}/{debate_id}.jsonl"

    def append_turn(self, debate_id: str, turn: dict[str, Any]) -> None:
        """Append one turn as one fsynced JSON line."""
        rel = self._transcript_path(debate_id)
        if not isinstance(turn, dict):
            raise StoreError(f"a turn must be a JSON object, got {type(turn).__name__}")
        line = _encode(turn)
        with self._locked():
            started = time.perf_counter()
            self._files.append_line(rel, line)
            self._record_write(time.perf_counter() - started)

    def transcript(self, debate_id: str) -> list[dict[str, Any]]:
        """The turns in order; a line torn by a crash is skipped."""
        rel = self._transcript_path(debate_id)
        lines = [line for line in (self._files.read(rel) or b"").split(b"\n") if line.strip()]
        turns = []
        for number, line in enumerate(lines, start=1):
            turn = _decode_turn(line)
            if turn is not None:
                turns.append(turn)
            elif number < len(lines):  # a torn last line is the expected trace of a crash; others are news
                self._note(f"{rel} line {number} is not a JSON object and was skipped")
        return turns

    # -- time series --

    def _check_series(self, series: Any) -> None:
        if not isinstance(series, str) or not _SERIES_NAME.fullmatch(series):
            raise StoreError(f"series name must be 1-40 of a-z, 0-9 or '_', got {series!r}")

    def append_sample(self, series: str, sample: dict[str, Any]) -> None:
        """Buffer one sample in memory; ``flush`` writes it."""
        self._check_series(series)
        when = _row_time(sample) if isinstance(sample, dict) else None
        if when is None:
            raise StoreError(f"a sample needs 'ts' as an ISO UTC time, got {sample!r}")
        kept = json.loads(_encode(sample))  # a private copy, and proof it can be written later
        with self._thread_lock:
            self._buffer.setdefault(f"series/{series}/{when:%Y-%m-%d}/{when:%H}.json", []).append(kept)

    def flush(self) -> int:
        """Write buffered samples: one atomic write per touched hour partition."""
        with self._thread_lock:
            if not self._buffer:
                return 0
            with self._locked():
                return sum(self._flush_partition(rel) for rel in sorted(self._buffer))

    def _flush_partition(self, rel: str) -> int:
        batch = self._buffer[rel]
        self._write_file(rel, {"samples": self._read_rows(rel, "samples") + batch})
        del self._buffer[rel]  # only once written: a failed write keeps the samples for the next flush
        return len(batch)

    def samples(self, series: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Raw samples (flushed and buffered) and rollup rows with ts in [start, end), by ts."""
        self._check_series(series)
        start, end = ensure_utc(start), ensure_utc(end)
        with self._thread_lock:  # buffer and files as one snapshot, or a flush could hide or double rows
            rows = self._raw_samples(series, start, end) + self._rollup_rows(series, start, end)
            rows += copy.deepcopy(self._buffered(series))
        return _sorted_by_time((row for row in rows if _in_range(row, "ts", start, end)), "ts")

    def _raw_samples(self, series: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        hours = [rel for rel, hour in self._raw_hours(series) if _overlaps(hour, hour + HOUR, start, end)]
        return [row for rel in hours for row in self._read_rows(rel, "samples")]

    def _rollup_rows(self, series: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        months = self._dated(f"series/{series}/rollup", "%Y-%m.json")
        wanted = [rel for rel, month in months if _overlaps(month, _next_month(month), start, end)]
        return [row for rel in wanted for row in self._read_rows(rel, "rows")]

    def _buffered(self, series: str) -> list[dict[str, Any]]:
        prefix = f"series/{series}/"
        return [row for rel, batch in self._buffer.items() if rel.startswith(prefix) for row in batch]

    def roll_up(self, now: datetime) -> int:
        """Replace raw hours older than raw_retention_days by one rollup row each; returns hours."""
        cutoff = ensure_utc(now) - timedelta(days=self.raw_retention_days)
        with self._locked():
            self.flush()  # buffered samples of old hours belong in their rollup rows
            return sum(self._roll_up_series(series, cutoff) for series in self._series_names())

    def _roll_up_series(self, series: str, cutoff: datetime) -> int:
        old = [(rel, hour) for rel, hour in self._raw_hours(series) if hour + HOUR <= cutoff]
        by_month: dict[str, list[dict[str, Any]]] = {}
        for rel, hour in old:
            samples = self._read_rows(rel, "samples")
            if samples:
                by_month.setdefault(f"series/{series}/rollup/{hour:%Y-%m}.json", []).append(_rollup_row(hour, samples))
        for rel, rows in by_month.items():
            # Rows replace rows of the same hour, so a crash before the raw files are gone is harmless.
            self._write_file(rel, {"rows": _merge_by(self._read_rows(rel, "rows"), rows, "ts")})
        self._remove_raw([rel for rel, _ in old])
        return sum(len(rows) for rows in by_month.values())

    def _remove_raw(self, rels: list[str]) -> int:
        """Remove raw hour files and the day folders they leave empty."""
        removed = self._remove_files(rels)
        with self._locked():
            for day_rel in sorted({rel.rsplit("/", 1)[0] for rel in rels}):
                self._files.prune(day_rel)
        return removed

    # -- retention --

    def apply_retention(self, now: datetime) -> int:
        """Delete every partition that lies entirely before now - retention_days; returns files removed."""
        cutoff = ensure_utc(now) - timedelta(days=self.retention_days)
        with self._locked():
            removed = sum(self._expire_series(series, cutoff) for series in self._series_names())
            for kind in self._files.children("history"):
                history = self._dated(f"history/{kind}", "%Y-%m-%d.json")
                removed += self._remove_files([rel for rel, day in history if day + DAY <= cutoff])
            return removed + self._expire_transcripts(cutoff)

    def _expire_series(self, series: str, cutoff: datetime) -> int:
        removed = self._remove_raw([rel for rel, hour in self._raw_hours(series) if hour + HOUR <= cutoff])
        months = self._dated(f"series/{series}/rollup", "%Y-%m.json")
        return removed + self._remove_files([rel for rel, month in months if _next_month(month) <= cutoff])

    def _expire_transcripts(self, cutoff: datetime) -> int:
        removed = 0
        for folder, month in self._dated("transcripts", "%Y-%m"):
            if _next_month(month) <= cutoff:
                removed += self._remove_files([f"{folder}/{name}" for name in self._files.children(folder)])
                with self._locked():
                    self._files.prune(folder)
        return removed

    # -- commands from a viewer process --

    def enqueue_command(self, command: dict[str, Any]) -> str:
        """Queue a command file for the owner process; returns its id (also set as "command_id")."""
        if not isinstance(command, dict):
            raise StoreError(f"a command must be a JSON object, got {type(command).__name__}")
        command_id = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
        self._write_file(f"commands/{command_id}.json", {**command, "command_id": command_id})
        return command_id

    def take_commands(self) -> list[dict[str, Any]]:
        """Queued commands, oldest first; their files are removed, unreadable ones set aside."""
        taken = []
        with self._locked():
            for name in filter(_COMMAND_FILE.fullmatch, self._files.children("commands")):
                command = self._take_command(f"commands/{name}", name)
                if command is not None:
                    taken.append(command)
        return taken

    def _take_command(self, rel: str, name: str) -> dict[str, Any] | None:
        payload = self._files.read(rel)
        try:
            command = _decode(payload or b"")
            if not isinstance(command, dict):
                raise _Corrupt(f"not a JSON object but {type(command).__name__}")
        except _Corrupt as exc:
            self._files.rename(rel, f"commands/rejected/{name}")
            self._note(f"{rel} could not be read ({exc}) and was moved to commands/rejected/{name}")
            return None
        self._files.remove(rel)
        return command

    # -- health --

    def file_sizes(self) -> dict[str, int]:
        """Bytes used by state.json and by each partitioned folder."""
        sizes = {STATE_FILE: self._state.inner.size()}
        sizes.update((folder, self._files.size(folder)) for folder in ("history", "series", "transcripts"))
        return sizes

    def close(self) -> None:
        """Write buffered samples; the store holds no open files between calls."""
        self.flush()
