"""EventInbox and DirectoryWatcher against real files in a temporary folder."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from backend.errors import ConfigError
from backend.events import DirectoryWatcher, EventInbox

NOW = datetime(2024, 5, 1, 23, 59, tzinfo=timezone.utc)
WAKE_TIMEOUT = 5.0


@pytest.fixture
def inbox(tmp_path: Path) -> EventInbox:
    return EventInbox(tmp_path / "events", clock=lambda: NOW)


def drop(inbox: EventInbox, name: str, content: bytes | str, age: float = 60.0) -> Path:
    """Write an event file whose modification time is ``age`` seconds ago."""
    path = inbox.inbox / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_creates_its_folders(inbox: EventInbox) -> None:
    assert all(d.is_dir() for d in (inbox.inbox, inbox.processed, inbox.rejected))


def test_good_files_are_processed_and_bad_ones_rejected_with_a_reason(inbox: EventInbox) -> None:
    drop(inbox, "good.json", '{"topic": " Should cities ban cars? ", "urgency": "high"}')
    drop(inbox, "array.json", '["not", "an", "object"]')
    drop(inbox, "broken.json", '{"topic": ')

    events = inbox.drain()

    assert [(e.topic, e.urgency, e.source, e.received_at) for e in events] == [
        ("Should cities ban cars?", "high", "inbox", NOW)
    ]
    assert names(inbox.inbox) == []
    assert names(inbox.processed / "2024-05-01") == ["good.json"]
    assert names(inbox.rejected) == [
        "array.json", "array.json.reason.txt", "broken.json", "broken.json.reason.txt"
    ]
    array_reason = (inbox.rejected / "array.json.reason.txt").read_text(encoding="utf-8")
    assert "must be a JSON object" in array_reason and "array" in array_reason
    assert "not valid JSON" in (inbox.rejected / "broken.json.reason.txt").read_text(encoding="utf-8")
    assert (inbox.accepted_count, inbox.rejected_count, inbox.last_event_time) == (1, 2, NOW)


def test_oldest_first_then_by_name(inbox: EventInbox) -> None:
    drop(inbox, "a.json", '{"topic": "third"}', age=10)
    drop(inbox, "z.json", '{"topic": "first"}', age=300)
    drop(inbox, "c.json", '{"topic": "second b"}', age=200)
    path = drop(inbox, "b.json", '{"topic": "second a"}', age=200)
    os.utime(inbox.inbox / "c.json", ns=(path.stat().st_mtime_ns,) * 2)  # an exact tie

    assert [e.topic for e in inbox.drain()] == ["first", "second a", "second b", "third"]


def test_files_being_written_and_other_files_are_left_alone(inbox: EventInbox) -> None:
    for name in ("next.json.tmp", "next.json.part", ".hidden.json", "notes.txt"):
        drop(inbox, name, '{"topic": "T"}')
    (inbox.inbox / "folder.json").mkdir()
    (inbox.inbox / "link.json").symlink_to(inbox.inbox / "notes.txt")

    assert inbox.drain() == []
    assert names(inbox.inbox) == [
        ".hidden.json", "folder.json", "link.json", "next.json.part", "next.json.tmp", "notes.txt"
    ]
    assert inbox.rejected_count == 0


def test_huge_file_is_rejected_by_size_without_being_read(
    inbox: EventInbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop(inbox, "huge.json", b" " * (1024 * 1024), age=0)  # even while fresh
    reads: list[Path] = []
    monkeypatch.setattr(EventInbox, "_read", staticmethod(lambda path: reads.append(path) or b""))

    assert inbox.drain() == []
    assert reads == []
    reason = (inbox.rejected / "huge.json.reason.txt").read_text(encoding="utf-8")
    assert reason.strip() == "event file is 1048576 bytes; the limit is 65536"


def test_fresh_unparsable_file_waits_for_its_writer(inbox: EventInbox) -> None:
    path = drop(inbox, "slow.json", '{"topic": "Half wr', age=0)
    assert inbox.drain() == [] and path.exists()

    path.write_text('{"topic": "Half written"}', encoding="utf-8")
    assert [e.topic for e in inbox.drain()] == ["Half written"]


def test_fresh_bad_file_is_rejected_once_it_has_settled(inbox: EventInbox) -> None:
    path = drop(inbox, "empty.json", b"", age=0)
    assert inbox.drain() == [] and path.exists()

    os.utime(path, (time.time() - 60,) * 2)
    assert inbox.drain() == []
    assert "not valid JSON" in (inbox.rejected / "empty.json.reason.txt").read_text(encoding="utf-8")


def test_settle_time_can_be_turned_off(tmp_path: Path) -> None:
    inbox = EventInbox(tmp_path / "events", settle_seconds=0)
    drop(inbox, "empty.json", b"", age=0)
    inbox.drain()
    assert names(inbox.rejected) == ["empty.json", "empty.json.reason.txt"]


def test_name_clashes_get_a_numeric_suffix(inbox: EventInbox) -> None:
    for round_number in range(3):
        drop(inbox, "req.json", f'{{"topic": "T{round_number}"}}')
        drop(inbox, "bad.json", "nope")
        inbox.drain()

    assert names(inbox.processed / "2024-05-01") == ["req-1.json", "req-2.json", "req.json"]
    assert names(inbox.rejected) == [
        "bad-1.json", "bad-1.json.reason.txt", "bad-2.json", "bad-2.json.reason.txt",
        "bad.json", "bad.json.reason.txt",
    ]
    assert (inbox.processed / "2024-05-01" / "req-2.json").read_text() == '{"topic": "T2"}'


def test_drain_survives_a_missing_inbox_folder(inbox: EventInbox) -> None:
    inbox.inbox.rmdir()
    assert inbox.drain() == []
    assert inbox.inbox.is_dir()


# -- DirectoryWatcher -----------------------------------------------------------------------


@pytest.fixture
def woken() -> threading.Event:
    return threading.Event()


@pytest.fixture
def watcher(inbox: EventInbox, woken: threading.Event):
    watcher = DirectoryWatcher([inbox.inbox], woken.set)
    watcher.start()
    yield watcher
    watcher.stop()


@pytest.mark.timeout(30)
def test_writing_a_file_wakes_the_loop(inbox: EventInbox, watcher: DirectoryWatcher,
                                       woken: threading.Event) -> None:
    (inbox.inbox / "new.json").write_text('{"topic": "T"}', encoding="utf-8")
    assert woken.wait(WAKE_TIMEOUT)


@pytest.mark.timeout(30)
def test_atomic_rename_into_the_folder_wakes_the_loop(
    tmp_path: Path, inbox: EventInbox, watcher: DirectoryWatcher, woken: threading.Event
) -> None:
    staging = tmp_path / "staging"
    staging.mkdir()
    temporary = staging / "new.json.tmp"
    temporary.write_text('{"topic": "T"}', encoding="utf-8")
    assert not woken.is_set()  # nothing happened in the watched folder yet

    temporary.rename(inbox.inbox / "new.json")
    assert woken.wait(WAKE_TIMEOUT)


@pytest.mark.timeout(30)
def test_a_failing_callback_does_not_kill_the_observer(
    inbox: EventInbox, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    second = threading.Event()

    def on_change() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("callback bug")
        second.set()

    watcher = DirectoryWatcher([inbox.inbox], on_change)
    watcher.start()
    try:
        (inbox.inbox / "one.json").write_text("{}", encoding="utf-8")
        (inbox.inbox / "two.json").write_text("{}", encoding="utf-8")
        assert second.wait(WAKE_TIMEOUT)
        assert watcher.alive
        assert "on_change failed" in caplog.text and "callback bug" in caplog.text
    finally:
        watcher.stop()


@pytest.mark.timeout(30)
def test_stop_joins_the_thread(inbox: EventInbox, woken: threading.Event) -> None:
    watcher = DirectoryWatcher([inbox.inbox], woken.set)
    assert not watcher.alive
    watcher.start()
    assert watcher.alive
    watcher.stop()
    assert not watcher.alive
    watcher.stop()  # a second stop is harmless


@pytest.mark.timeout(30)
def test_watcher_can_restart_after_stop(inbox: EventInbox, woken: threading.Event) -> None:
    watcher = DirectoryWatcher([inbox.inbox], woken.set)
    watcher.start()
    watcher.stop()
    watcher.start()
    try:
        (inbox.inbox / "again.json").write_text("{}", encoding="utf-8")
        assert woken.wait(WAKE_TIMEOUT)
    finally:
        watcher.stop()


def test_watching_a_missing_folder_is_a_config_error(tmp_path: Path) -> None:
    watcher = DirectoryWatcher([tmp_path / "absent"], lambda: None)
    with pytest.raises(ConfigError, match="absent"):
        watcher.start()
    assert not watcher.alive
