"""Behaviour of Store, run against both the data directory and the in-memory twin."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator

import pytest

from backend.errors import ConfigError, StoreError
from backend.storage import Store
from backend.timeutil import UTC, to_iso

NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture(params=["disk", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "data" if request.param == "disk" else None)
    yield opened
    opened.close()


def debate(debate_id: str, when: datetime, **extra: Any) -> dict[str, Any]:
    return {"debate_id": debate_id, "scheduled_time": to_iso(when), "topic": "t", **extra}


def dated_id(when: datetime, suffix: str = "abcdef12") -> str:
    return f"debate_{when:%Y%m%dT%H%M%S}_{suffix}"


def sample(when: datetime, **values: Any) -> dict[str, Any]:
    return {"ts": to_iso(when), **values}


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"retention_days": 0}, {"raw_retention_days": -1}, {"retention_days": 1.5}])
def test_bad_retention_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        Store(None, **kwargs)


def test_fresh_store_has_no_problems_and_reports_sizes(store: Store) -> None:
    assert store.problems == []
    assert set(store.file_sizes()) == {"state.json", "history", "series", "transcripts"}


# --- settings --------------------------------------------------------------------------------


def test_settings_round_trip(store: Store) -> None:
    assert store.settings.get("missing") is None
    assert store.settings.get("missing", 7) == 7
    store.settings.set("paused", True)
    store.settings.set_many({"paused": False, "schedule": {"interval_minutes": 30}, "zone": "UTC"})
    assert store.settings.get("paused") is False
    assert store.settings.all() == {"paused": False, "schedule": {"interval_minutes": 30}, "zone": "UTC"}


def test_settings_are_copies(store: Store) -> None:
    value = {"hours": [9, 12]}
    store.settings.set("adaptive", value)
    value["hours"].append(15)
    store.settings.get("adaptive")["hours"].append(18)
    store.settings.all()["adaptive"]["hours"].append(21)
    assert store.settings.get("adaptive") == {"hours": [9, 12]}


def test_unserializable_setting_is_rejected_and_nothing_written(store: Store) -> None:
    store.settings.set("kept", 1)
    with pytest.raises(StoreError, match="JSON-serializable"):
        store.settings.set_many({"kept": 2, "bad": object()})
    assert store.settings.all() == {"kept": 1}


# --- documents -------------------------------------------------------------------------------

TABLES = [("debates", "debate_id"), ("destinations", "destination_id"), ("alerts", "alert_id")]


@pytest.mark.parametrize(("table", "key"), TABLES)
def test_documents_round_trip(store: Store, table: str, key: str) -> None:
    docs = getattr(store, table)
    docs.upsert({key: "a", "n": 1, "old": True})
    docs.upsert_many([{key: "b", "n": 2}, {key: "a", "n": 3}])
    assert docs.get("a") == {key: "a", "n": 3}  # an upsert replaces the whole document
    assert docs.get("missing") is None
    assert sorted(doc[key] for doc in docs.all()) == ["a", "b"]
    assert docs.delete(["a", "missing"]) == 1
    assert docs.delete(["missing"]) == 0
    assert docs.all() == [{key: "b", "n": 2}]


def test_documents_are_copies_not_aliases(store: Store) -> None:
    doc = debate("a", NOW, errors=["first"])
    store.debates.upsert(doc)
    doc["errors"].append("changed after upsert")
    store.debates.get("a")["errors"].append("changed on a returned copy")
    store.debates.all()[0]["topic"] = "changed"
    assert store.debates.get("a") == debate("a", NOW, errors=["first"])


def test_upsert_many_with_the_same_key_twice_keeps_the_last(store: Store) -> None:
    store.debates.upsert_many([debate("a", NOW, n=1), debate("a", NOW, n=2)])
    assert store.debates.all() == [debate("a", NOW, n=2)]


@pytest.mark.parametrize("bad", [{"topic": "no key"}, {"debate_id": ""}, {"debate_id": 5}, ["not", "a", "dict"]])
def test_document_without_text_key_is_rejected_and_nothing_written(store: Store, bad: Any) -> None:
    with pytest.raises(StoreError, match="debate_id"):
        store.debates.upsert_many([debate("fine", NOW), bad])
    assert store.debates.all() == []


# --- archive and history ---------------------------------------------------------------------


def test_archive_moves_docs_to_history_and_range_query_merges_live_docs(store: Store) -> None:
    old = [debate("d1", NOW - 40 * DAY), debate("d2", NOW - 2 * DAY), debate("d3", NOW - DAY)]
    live = debate("d4", NOW)
    store.debates.upsert_many([*old, live])
    assert store.archive_debates(old) == 3
    assert store.debates.all() == [live]
    assert store.debate_history(NOW - 50 * DAY, NOW + DAY) == [*old, live]
    # [start, end): a doc exactly at start is in, one exactly at end is out
    assert store.debate_history(NOW - 2 * DAY, NOW) == old[1:]
    assert store.debate_history(NOW - 39 * DAY, NOW - 3 * DAY) == []


def test_archiving_the_same_debate_twice_keeps_one_copy(store: Store) -> None:
    store.archive_debates([debate("d1", NOW, status="failed")])
    store.archive_debates([debate("d1", NOW, status="completed")])
    assert store.debate_history(NOW, NOW + DAY) == [debate("d1", NOW, status="completed")]


@pytest.mark.parametrize("bad", [{"debate_id": "x"}, {"debate_id": "x", "scheduled_time": "soon"},
                                 {"scheduled_time": to_iso(NOW)}])
def test_archive_rejects_bad_docs_and_changes_nothing(store: Store, bad: dict[str, Any]) -> None:
    good = debate("good", NOW)
    store.debates.upsert(good)
    with pytest.raises(StoreError, match="scheduled_time"):
        store.archive_debates([good, bad])
    assert store.debates.all() == [good]
    assert store.debate_history(NOW - DAY, NOW + DAY) == [good]
    assert store.file_sizes()["history"] == 0


def test_archive_of_nothing_returns_zero(store: Store) -> None:
    assert store.archive_debates([]) == 0


# --- transcripts -----------------------------------------------------------------------------


@pytest.mark.parametrize("debate_id", [dated_id(NOW), "manual-debate_7"])
def test_transcript_round_trip(store: Store, debate_id: str) -> None:
    turns = [{"speaker": "pro", "text": "line one\nline two \u2028 é"}, {"speaker": "con", "n": 2}]
    for turn in turns:
        store.append_turn(debate_id, turn)
    assert store.transcript(debate_id) == turns
    assert store.transcript("debate_never_held") == []


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "a\\b", "", "x" * 81, "has space", "..", "ü", None, 5])
def test_bad_debate_ids_are_rejected_and_nothing_written(store: Store, bad_id: Any) -> None:
    before = store.file_sizes()
    with pytest.raises(StoreError, match="debate_id"):
        store.append_turn(bad_id, {"text": "x"})
    with pytest.raises(StoreError, match="debate_id"):
        store.transcript(bad_id)
    assert store.file_sizes() == before


def test_unserializable_turn_is_rejected(store: Store) -> None:
    with pytest.raises(StoreError):
        store.append_turn("d1", {"text": {1, 2}})
    with pytest.raises(StoreError):
        store.append_turn("d1", ["not", "an", "object"])
    assert store.transcript("d1") == []


# --- samples ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad_name", ["CPU", "a-b", "", "x" * 41, "../x", "a/b", None])
def test_bad_series_names_are_rejected_and_nothing_buffered(store: Store, bad_name: Any) -> None:
    with pytest.raises(StoreError, match="series name"):
        store.append_sample(bad_name, sample(NOW, v=1))
    with pytest.raises(StoreError, match="series name"):
        store.samples(bad_name, NOW - DAY, NOW)
    assert store.flush() == 0
    assert store.file_sizes()["series"] == 0


@pytest.mark.parametrize("bad", [{"v": 1}, {"ts": "yesterday"}, {"ts": 1700000000}, "not a dict",
                                 {"ts": to_iso(NOW), "v": object()}])
def test_bad_samples_are_rejected(store: Store, bad: Any) -> None:
    with pytest.raises(StoreError):
        store.append_sample("cpu", bad)
    assert store.flush() == 0


def test_samples_are_visible_before_and_after_flush(store: Store) -> None:
    rows = [sample(NOW + timedelta(seconds=10 * i), cpu=float(i)) for i in range(3)]
    for row in rows:
        store.append_sample("cpu", row)
    assert store.samples("cpu", NOW, NOW + DAY) == rows
    assert store.flush() == 3
    assert store.flush() == 0
    assert store.samples("cpu", NOW, NOW + DAY) == rows
    assert store.samples("mem", NOW, NOW + DAY) == []


def test_buffered_samples_are_copies(store: Store) -> None:
    row = sample(NOW, tags=["a"])
    store.append_sample("cpu", row)
    row["tags"].append("changed")
    store.samples("cpu", NOW, NOW + DAY)[0]["tags"].append("changed too")
    assert store.samples("cpu", NOW, NOW + DAY) == [sample(NOW, tags=["a"])]


def test_samples_across_hour_and_day_boundaries(store: Store) -> None:
    midnight = datetime(2026, 12, 2, tzinfo=UTC)
    times = [midnight - timedelta(seconds=10), midnight, midnight + timedelta(minutes=59, seconds=50),
             midnight + timedelta(hours=1)]
    for when in reversed(times):  # stored out of order, returned sorted
        store.append_sample("cpu", sample(when, v=1))
    store.flush()
    store.append_sample("cpu", sample(midnight + timedelta(minutes=30), v=2))  # still buffered
    got = store.samples("cpu", midnight - timedelta(seconds=10), midnight + timedelta(hours=1))
    assert [row["ts"] for row in got] == [to_iso(times[0]), to_iso(times[1]),
                                          to_iso(midnight + timedelta(minutes=30)), to_iso(times[2])]
    assert store.samples("cpu", midnight, midnight + timedelta(seconds=1)) == [sample(midnight, v=1)]


def test_rollup_numbers_are_exact(store: Store) -> None:
    hour = datetime(2026, 11, 20, 13, tzinfo=UTC)
    store.append_sample("system", sample(hour, cpu=1, mem=10.5, ok=True, host="a"))
    store.append_sample("system", sample(hour + timedelta(minutes=20), cpu=2, ok=False))
    store.append_sample("system", sample(hour + timedelta(minutes=59, seconds=59), cpu=3, mem=11.5))
    store.append_sample("system", sample(NOW - timedelta(hours=2), cpu=9))  # recent: stays raw
    assert store.roll_up(NOW) == 1
    assert store.samples("system", hour - DAY, NOW) == [
        {"ts": to_iso(hour), "rollup": True, "count": 3, "cpu": 2, "cpu_min": 1, "cpu_max": 3,
         "mem": 11.0, "mem_min": 10.5, "mem_max": 11.5},
        sample(NOW - timedelta(hours=2), cpu=9),
    ]
    assert store.roll_up(NOW) == 0


def test_rollup_keeps_hours_younger_than_raw_retention(store: Store) -> None:
    edge = NOW - 7 * DAY  # the hour ending exactly at the cutoff is rolled up, the next one is not
    store.append_sample("cpu", sample(edge - timedelta(minutes=30), v=1))
    store.append_sample("cpu", sample(edge + timedelta(minutes=30), v=2))
    assert store.roll_up(NOW) == 1
    rows = store.samples("cpu", edge - DAY, NOW)
    assert [row.get("rollup", False) for row in rows] == [True, False]


def test_rollup_hours_are_returned_only_when_in_range(store: Store) -> None:
    hour = datetime(2026, 10, 31, 23, tzinfo=UTC)  # rollup file of October, queried from November
    store.append_sample("cpu", sample(hour + timedelta(minutes=5), v=4))
    store.roll_up(NOW)
    assert store.samples("cpu", hour + HOUR, NOW) == []
    assert [row["count"] for row in store.samples("cpu", hour, hour + HOUR)] == [1]


# --- retention -------------------------------------------------------------------------------


def test_retention_removes_exactly_the_old_data(store: Store) -> None:
    keep_from = NOW - 365 * DAY
    old_id, new_id = dated_id(datetime(2025, 11, 15, tzinfo=UTC)), dated_id(keep_from + DAY)
    store.archive_debates([debate("old", keep_from - DAY), debate("new", keep_from + DAY)])
    store.append_turn(old_id, {"n": 1})
    store.append_turn(new_id, {"n": 1})
    store.append_turn("manual_1", {"n": 1})
    store.append_sample("cpu", sample(datetime(2025, 10, 3, tzinfo=UTC), v=1))  # rollup month 2025-10
    store.append_sample("cpu", sample(keep_from + DAY, v=2))  # rollup month 2025-12 (partly kept)
    store.roll_up(NOW)
    # history day 2025-12-02, transcript month 2025-11 (one file), rollup month 2025-10
    assert store.apply_retention(NOW) == 3
    assert store.debate_history(NOW - 500 * DAY, NOW) == [debate("new", keep_from + DAY)]
    assert store.transcript(old_id) == []
    assert store.transcript(new_id) == [{"n": 1}]
    assert store.transcript("manual_1") == [{"n": 1}]
    assert [row["count"] for row in store.samples("cpu", NOW - 500 * DAY, NOW)] == [1]
    assert store.apply_retention(NOW) == 0


def test_retention_removes_old_raw_partitions() -> None:
    store = Store(None, retention_days=2, raw_retention_days=2)
    store.append_sample("cpu", sample(NOW - 3 * DAY, v=1))
    store.append_sample("cpu", sample(NOW - DAY, v=2))
    store.flush()
    assert store.apply_retention(NOW) == 1
    assert store.samples("cpu", NOW - 5 * DAY, NOW) == [sample(NOW - DAY, v=2)]


# --- commands --------------------------------------------------------------------------------


def test_commands_round_trip_oldest_first(store: Store) -> None:
    ids = [store.enqueue_command({"action": "pause", "n": n}) for n in range(3)]
    assert ids == sorted(ids)
    assert store.take_commands() == [{"action": "pause", "n": n, "command_id": ids[n]} for n in range(3)]
    assert store.take_commands() == []


def test_enqueue_rejects_non_objects(store: Store) -> None:
    with pytest.raises(StoreError):
        store.enqueue_command(["pause"])  # type: ignore[arg-type]
    assert store.take_commands() == []


# --- writes from many threads ----------------------------------------------------------------


def test_threads_upserting_concurrently_lose_nothing(store: Store) -> None:
    def worker(number: int) -> None:
        for i in range(50):
            store.debates.upsert(debate(f"t{number}_{i}", NOW))

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({doc["debate_id"] for doc in store.debates.all()}) == 200


def test_threads_appending_and_flushing_samples_lose_nothing(store: Store) -> None:
    def worker(number: int) -> None:
        for i in range(50):
            store.append_sample("cpu", sample(NOW + timedelta(seconds=i), worker=number))
            if i % 10 == 0:
                store.flush()

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.flush()
    assert len(store.samples("cpu", NOW, NOW + DAY)) == 200


def test_close_flushes_buffered_samples(store: Store) -> None:
    store.append_sample("cpu", sample(NOW, v=1))
    store.close()
    assert store.flush() == 0
    assert store.samples("cpu", NOW, NOW + DAY) == [sample(NOW, v=1)]
