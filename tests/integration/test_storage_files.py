"""Store on a real data directory: files, corruption, atomicity, kill -9 and other processes."""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import backend.storage as storage
from backend.errors import StoreError
from backend.storage import Store
from backend.timeutil import UTC, to_iso, utc_now

NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
DAY = timedelta(days=1)
REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("store_child.py")


def debate(debate_id: str, when: datetime) -> dict[str, Any]:
    return {"debate_id": debate_id, "scheduled_time": to_iso(when), "topic": "t"}


def sample(when: datetime, **values: Any) -> dict[str, Any]:
    return {"ts": to_iso(when), **values}


def tree(root: Path) -> set[str]:
    """Every file under root, as '/'-separated relative paths (the lock file left out)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".lock"}


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


# --- layout ----------------------------------------------------------------------------------


def test_files_are_where_the_layout_says(data_dir: Path) -> None:
    store = Store(data_dir)
    store.debates.upsert(debate("d1", NOW))
    store.archive_debates([debate("d1", NOW)])
    store.append_turn("debate_20261203T160000_abcdef12", {"n": 1})
    store.append_turn("manual_1", {"n": 1})
    store.append_sample("cpu", sample(NOW - 10 * DAY, v=1))
    store.append_sample("cpu", sample(NOW + timedelta(minutes=5), v=1))
    store.roll_up(NOW)
    command_id = store.enqueue_command({"action": "pause"})
    assert store.commands_dir == data_dir / "commands"
    assert tree(data_dir) == {
        "state.json",
        "history/debates/2026-12-03.json",
        "transcripts/2026-12/debate_20261203T160000_abcdef12.jsonl",
        "transcripts/other/manual_1.jsonl",
        "series/cpu/rollup/2026-11.json",
        "series/cpu/2026-12-03/16.json",
        f"commands/{command_id}.json",
    }
    assert not (data_dir / "series/cpu/2026-11-23").exists()  # emptied day folder removed


def test_file_sizes_match_the_disk(data_dir: Path) -> None:
    store = Store(data_dir)
    store.debates.upsert(debate("d1", NOW))
    store.archive_debates([debate("d0", NOW - DAY)])
    sizes = store.file_sizes()
    assert sizes["state.json"] == (data_dir / "state.json").stat().st_size
    assert sizes["history"] == (data_dir / "history/debates/2026-12-02.json").stat().st_size
    assert sizes["series"] == sizes["transcripts"] == 0
    assert store.last_write_seconds > 0


def test_data_survives_reopening(data_dir: Path) -> None:
    store = Store(data_dir)
    store.settings.set("paused", True)
    store.debates.upsert(debate("d1", NOW))
    store.append_turn("d1", {"n": 1})
    store.append_sample("cpu", sample(NOW, v=1))
    store.close()
    again = Store(data_dir)
    assert again.settings.get("paused") is True
    assert again.debates.get("d1") == debate("d1", NOW)
    assert again.transcript("d1") == [{"n": 1}]
    assert again.samples("cpu", NOW, NOW + DAY) == [sample(NOW, v=1)]
    assert again.problems == []


def test_two_stores_on_one_directory_see_and_keep_each_others_writes(data_dir: Path) -> None:
    first, second = Store(data_dir), Store(data_dir)
    first.debates.upsert(debate("a", NOW))
    second.debates.upsert(debate("b", NOW))  # TinyDB ids must not collide between the two
    first.debates.upsert(debate("c", NOW))
    assert second.debates.get("c") == debate("c", NOW)
    assert sorted(doc["debate_id"] for doc in first.debates.all()) == ["a", "b", "c"]


def test_retention_removes_exactly_the_old_files(data_dir: Path) -> None:
    store = Store(data_dir, retention_days=30, raw_retention_days=30)
    store.archive_debates([debate("old", NOW - 31 * DAY), debate("new", NOW - 29 * DAY)])
    store.append_turn("debate_20261001T100000_abcdef12", {"n": 1})
    store.append_turn("debate_20261103T100000_abcdef12", {"n": 1})
    store.append_sample("cpu", sample(NOW - 31 * DAY, v=1))
    store.append_sample("cpu", sample(NOW - 29 * DAY, v=1))
    store.flush()
    before = tree(data_dir)
    assert store.apply_retention(NOW) == 3
    assert before - tree(data_dir) == {
        "history/debates/2026-11-02.json",
        "transcripts/2026-10/debate_20261001T100000_abcdef12.jsonl",
        "series/cpu/2026-11-02/16.json",
    }
    assert not (data_dir / "transcripts/2026-10").exists()
    assert not (data_dir / "series/cpu/2026-11-02").exists()


# --- corrupt files ---------------------------------------------------------------------------

CORRUPT_STATES = {
    "truncated": b'{"debates": {"1": {"debate_id": "a", "topic": "cut off he',
    "binary": bytes(range(256)) * 4,
    "zeros": b"\x00" * 512,
    "a list": b"[1, 2, 3]",
    "bad table": b'{"debates": [1, 2]}',
}


@pytest.mark.parametrize("garbage", CORRUPT_STATES.values(), ids=CORRUPT_STATES.keys())
def test_corrupt_state_json_is_moved_aside_and_named(data_dir: Path, garbage: bytes) -> None:
    data_dir.mkdir()
    (data_dir / "state.json").write_bytes(garbage)
    store = Store(data_dir)
    [aside] = data_dir.glob("state.json.corrupt-*")
    stamp = re.fullmatch(r"state\.json\.corrupt-(\d{8}T\d{6}Z)", aside.name).group(1)
    assert abs(datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) - utc_now()) < timedelta(minutes=1)
    assert aside.read_bytes() == garbage
    [problem] = store.problems
    assert problem.startswith("state.json was corrupt (")
    assert problem.endswith(f"was moved to {aside.name}; starting with empty state")
    store.debates.upsert(debate("d1", NOW))
    again = Store(data_dir)
    assert again.problems == []
    assert again.debates.all() == [debate("d1", NOW)]


def test_truncated_state_json_problem_says_where(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "state.json").write_bytes(b'{"a": ')
    assert "(Expecting value: line 1 column 7)" in Store(data_dir).problems[0]


def test_empty_state_json_is_an_empty_store(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "state.json").write_bytes(b"")
    store = Store(data_dir)
    assert store.problems == []
    assert store.debates.all() == []


def test_corrupt_history_partition_is_moved_aside_when_read(data_dir: Path) -> None:
    store = Store(data_dir)
    store.archive_debates([debate("kept", NOW)])
    bad = data_dir / "history/debates/2026-12-02.json"
    bad.write_bytes(b'{"debates": [{"debate_id": "lost"')
    assert store.debate_history(NOW - 5 * DAY, NOW + DAY) == [debate("kept", NOW)]
    [aside] = bad.parent.glob("2026-12-02.json.corrupt-*")
    assert aside.read_bytes() == b'{"debates": [{"debate_id": "lost"'
    assert store.problems == [
        f"history/debates/2026-12-02.json was corrupt (Expecting ',' delimiter: line 1 column 34) "
        f"and was moved to history/debates/{aside.name}; its contents are left out"
    ]
    store.archive_debates([debate("new", NOW - DAY)])
    assert store.debate_history(NOW - 5 * DAY, NOW + DAY) == [debate("new", NOW - DAY), debate("kept", NOW)]


def test_corrupt_hour_partition_is_moved_aside_before_a_flush_writes_it(data_dir: Path) -> None:
    store = Store(data_dir)
    hour_file = data_dir / "series/cpu/2026-12-03/16.json"
    hour_file.parent.mkdir(parents=True)
    hour_file.write_bytes(b'{"samples": "not a list"}')
    store.append_sample("cpu", sample(NOW, v=1))
    assert store.flush() == 1
    assert store.samples("cpu", NOW, NOW + DAY) == [sample(NOW, v=1)]
    [aside] = hour_file.parent.glob("16.json.corrupt-*")
    assert aside.read_bytes() == b'{"samples": "not a list"}'
    assert "series/cpu/2026-12-03/16.json was corrupt (not a JSON object with a 'samples' list" in store.problems[0]


def test_corrupt_rollup_file_is_moved_aside_by_roll_up(data_dir: Path) -> None:
    store = Store(data_dir)
    rollup = data_dir / "series/cpu/rollup/2026-11.json"
    rollup.parent.mkdir(parents=True)
    rollup.write_bytes(b"\xff\xfe garbage")
    store.append_sample("cpu", sample(NOW - 10 * DAY, v=1))
    assert store.roll_up(NOW) == 1
    assert [row["count"] for row in store.samples("cpu", NOW - 11 * DAY, NOW)] == [1]
    assert len(list(rollup.parent.glob("2026-11.json.corrupt-*"))) == 1
    assert "not UTF-8 text" in store.problems[0]


def test_unreadable_command_file_is_rejected_and_noted(data_dir: Path) -> None:
    store = Store(data_dir)
    first = store.enqueue_command({"action": "pause"})
    bad = data_dir / "commands" / f"{int(first[:20]) + 1:020d}-0badf00d.json"
    bad.write_bytes(b'{"action": ')
    last = store.enqueue_command({"action": "resume"})
    assert store.take_commands() == [{"action": "pause", "command_id": first},
                                     {"action": "resume", "command_id": last}]
    assert (data_dir / "commands/rejected" / bad.name).read_bytes() == b'{"action": '
    assert store.problems == [f"commands/{bad.name} could not be read (Expecting value: line 1 column 12) "
                              f"and was moved to commands/rejected/{bad.name}"]
    assert tree(data_dir / "commands") == {f"rejected/{bad.name}"}


def test_torn_transcript_line_is_skipped_and_later_turns_stay_whole(data_dir: Path) -> None:
    store = Store(data_dir)
    store.append_turn("d1", {"n": 1})
    path = data_dir / "transcripts/other/d1.jsonl"
    with open(path, "ab") as handle:
        handle.write(b'{"n": 2, "text": "cut of')  # a crash in the middle of an append
    assert store.transcript("d1") == [{"n": 1}]
    assert store.problems == []
    store.append_turn("d1", {"n": 3})
    assert store.transcript("d1") == [{"n": 1}, {"n": 3}]
    assert store.problems == ["transcripts/other/d1.jsonl line 2 is not a JSON object and was skipped"]


# --- atomicity -------------------------------------------------------------------------------


def test_writes_leave_no_temp_files(data_dir: Path) -> None:
    store = Store(data_dir)
    store.settings.set("a", 1)
    store.debates.upsert_many([debate(f"d{i}", NOW) for i in range(5)])
    store.archive_debates([debate("d0", NOW)])
    store.append_sample("cpu", sample(NOW - 10 * DAY, v=1))
    store.roll_up(NOW)
    store.enqueue_command({"action": "pause"})
    store.take_commands()
    assert temp_files(data_dir) == []


def test_stale_temp_files_are_removed_at_open(data_dir: Path) -> None:
    Store(data_dir).archive_debates([debate("d1", NOW)])
    stale = [data_dir / ".state.json.k1x9.tmp", data_dir / "history/debates/.2026-12-03.json.q2.tmp"]
    for path in stale:  # the store's own files, written under its lock: leftovers, however new
        path.write_bytes(b'{"half": ')
    old_key_write = data_dir / ".keys.json.c3d4.tmp"  # a key write killed two minutes ago
    old_key_write.write_bytes(b'{"dest": ')
    os.utime(old_key_write, (time.time() - 120, time.time() - 120))
    in_flight = data_dir / ".keys.json.a7b2.tmp"  # a dashboard beside the backend writing a key right now
    in_flight.write_bytes(b'{"dest": ')
    store = Store(data_dir)
    assert temp_files(data_dir) == [in_flight]
    assert store.problems == []


def test_a_failed_write_changes_nothing(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(data_dir)
    store.debates.upsert(debate("d1", NOW))
    before = (data_dir / "state.json").read_bytes()

    def broken_replace(source: str, target: str) -> None:
        raise OSError(28, "No space left on device", target)

    monkeypatch.setattr(storage.os, "replace", broken_replace)
    with pytest.raises(StoreError, match="No space left on device"):
        store.debates.upsert(debate("d2", NOW))
    monkeypatch.undo()
    assert (data_dir / "state.json").read_bytes() == before
    assert temp_files(data_dir) == []
    assert [doc["debate_id"] for doc in store.debates.all()] == ["d1"]
    store.debates.upsert(debate("d2", NOW))  # the store still works afterwards
    assert len(store.debates.all()) == 2


def test_one_atomic_write_per_batch_and_per_touched_file(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(data_dir)
    writes: Counter[str] = Counter()
    real = storage.atomic_replace

    def counting(path: Path, payload: bytes) -> None:
        writes[path.relative_to(data_dir).as_posix()] += 1
        real(path, payload)

    monkeypatch.setattr(storage, "atomic_replace", counting)
    store.debates.upsert_many([debate(f"d{i}", NOW - (i % 2) * DAY) for i in range(10)])
    store.settings.set_many({"a": 1, "b": 2})
    assert writes == {"state.json": 2}
    store.archive_debates(store.debates.all())
    assert writes == {"state.json": 3, "history/debates/2026-12-03.json": 1, "history/debates/2026-12-02.json": 1}
    for minute in range(0, 120, 10):
        store.append_sample("cpu", sample(NOW + timedelta(minutes=minute), v=minute))
    assert store.flush() == 12
    assert writes["series/cpu/2026-12-03/16.json"] == writes["series/cpu/2026-12-03/17.json"] == 1


# --- other processes -------------------------------------------------------------------------


def spawn(data_dir: Path, prefix: str, count: int, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(data_dir), prefix, str(count), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )


def kill_after(child: subprocess.Popen[bytes], delay: float) -> bytes:
    """SIGKILL the child after ``delay`` seconds; returns what it printed before it died."""
    try:
        child.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(child.pid, signal.SIGKILL)
    out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()
    return out


def complete_lines(output: bytes) -> set[str]:
    """Ids the child printed in full (a kill can cut the last line)."""
    lines = output.split(b"\n")
    return {line.decode() for line in lines[:-1] if line}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_kill_9_never_loses_a_printed_write_nor_corrupts_state(data_dir: Path) -> None:
    rng = random.Random(20261203)  # fixed seed: the same kill delays on every run
    printed: set[str] = set()
    for round_number in range(50):
        child = spawn(data_dir, f"r{round_number}", 0)
        first = child.stdout.readline()  # the store is open and one upsert is done
        assert first.endswith(b"\n"), child.communicate()[1].decode()
        printed |= complete_lines(first + kill_after(child, rng.uniform(0.0, 0.12)))
        store = Store(data_dir)
        assert store.problems == []
        assert printed <= {doc["debate_id"] for doc in store.debates.all()}
        assert temp_files(data_dir) == []
    assert len(printed) > 100


@pytest.mark.timeout(120)
def test_two_processes_upserting_concurrently_lose_nothing(data_dir: Path) -> None:
    Store(data_dir)
    children = [spawn(data_dir, f"p{number}", 50, "--wait") for number in range(2)]
    for child in children:
        assert child.stdout.readline() == b"ready\n", child.communicate()[1].decode()
    for child in children:
        child.stdin.write(b"go\n")
        child.stdin.flush()
    for child in children:
        out, err = child.communicate(timeout=100)
        assert child.returncode == 0, err.decode()
        assert len(complete_lines(out)) == 50
    store = Store(data_dir)
    assert len({doc["debate_id"] for doc in store.debates.all()}) == 100
    assert store.problems == []


def test_records_of_any_kind_are_kept_by_day_replaced_by_key_and_expire(tmp_path: Path) -> None:
    store = Store(tmp_path, retention_days=30)
    first = {"debate_id": "d1", "start_time": (NOW - DAY).isoformat(), "responses": 10}
    store.put_records("debate_metrics", [first, {"debate_id": "d2", "start_time": NOW.isoformat(), "responses": 3}],
                      "debate_id", "start_time")
    store.put_records("debate_metrics", [{**first, "responses": 12}], "debate_id", "start_time")
    found = Store(tmp_path).records("debate_metrics", "debate_id", "start_time", NOW - 2 * DAY, NOW + DAY)
    assert [(doc["debate_id"], doc["responses"]) for doc in found] == [("d1", 12), ("d2", 3)]
    assert (tmp_path / f"history/debate_metrics/{NOW - DAY:%Y-%m-%d}.json").exists()
    with pytest.raises(StoreError, match="need a text debate_id and an ISO start_time"):
        store.put_records("debate_metrics", [{"debate_id": "d3"}], "debate_id", "start_time")
    store.apply_retention(NOW + 30 * DAY)
    assert [doc["debate_id"] for doc in store.records("debate_metrics", "debate_id", "start_time",
                                                      NOW - 2 * DAY, NOW + DAY)] == ["d2"]
