"""Write latency of the Store with 1 day and with 365 days of data, side by side.

Run from anywhere: ``python bench/bench_store.py``. Builds two temporary data directories through
the Store API, then times three writes 200 times each, alternating between the stores:

  (a) debates.upsert of one debate doc
  (b) append_sample + flush of one sample into the current hour
  (c) archive_debates of one finished debate

Goal: p95 <= 10 ms and 365d/1d ratio <= 1.5 for every operation.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # a plain script: make `backend` importable without installing it
    sys.path.insert(0, str(ROOT))

from backend.storage import Store  # noqa: E402
from backend.timeutil import UTC, to_iso  # noqa: E402

NOW = datetime(2026, 12, 3, 16, 30, tzinfo=UTC)  # fixed, so every run builds the same files
REPETITIONS = 200
DEBATES_PER_DAY = 24
SAMPLE_SECONDS = 10
RAW_DAYS = 7
SUMMARY = "The council weighed cost, safety and fairness; the majority favoured a staged rollout. " * 4


def debate_doc(debate_id: str, when: datetime, status: str = "completed") -> dict[str, Any]:
    """A debate document shaped like ScheduledDebate.to_doc(), with a typical outcome."""
    return {
        "debate_id": debate_id, "scheduled_time": to_iso(when), "status": status,
        "topic": "Should cities ban private cars from their centres on weekdays?",
        "source": "interval", "reason": "every 60 minutes", "urgency": "normal",
        "created_at": to_iso(when - timedelta(hours=1)), "actual_start_time": to_iso(when),
        "actual_end_time": to_iso(when + timedelta(minutes=9)), "attempts": 1,
        "next_attempt_time": None, "error_message": None, "errors": [], "turns": 12,
        "outcome": {"summary": SUMMARY, "winner": "pro", "votes": {"pro": 3, "con": 2}},
    }


def system_sample(when: datetime) -> dict[str, Any]:
    minute = when.minute
    return {"ts": to_iso(when), "cpu": 20.0 + minute % 7, "mem": 55.5, "disk": 71.0, "load": minute % 3}


def debate_times(days: int) -> list[datetime]:
    """One debate an hour for ``days`` days, ending before NOW (today counts as a day)."""
    first = NOW.replace(hour=0, minute=0) - timedelta(days=days - 1)
    hours = int((NOW - first) / timedelta(hours=1))
    return [first + timedelta(hours=hour) for hour in range(hours)]


def build_history(store: Store, days: int) -> None:
    docs = [debate_doc(f"debate_{when:%Y%m%dT%H%M%S}_hist{index:04d}", when)
            for index, when in enumerate(debate_times(days))]
    store.archive_debates(docs)
    pending = [NOW.replace(minute=0) + timedelta(hours=hour) for hour in range(1, 8)]
    store.debates.upsert_many([debate_doc(f"live_{hour}", when, "pending") for hour, when in enumerate(pending)])


def build_samples(store: Store, days: int) -> None:
    """Raw samples every 10 s for the last 7 days; older days get one sample an hour, then roll_up.

    A rollup row has the same shape whatever its count, so hourly input builds the same files.
    """
    raw_start = NOW - timedelta(days=min(days, RAW_DAYS))
    for hour in range(int((raw_start - (NOW - timedelta(days=days))) / timedelta(hours=1))):
        store.append_sample("system", system_sample(NOW - timedelta(days=days) + timedelta(hours=hour)))
    steps = int((NOW - raw_start) / timedelta(seconds=SAMPLE_SECONDS))
    for step in range(steps):
        store.append_sample("system", system_sample(raw_start + timedelta(seconds=SAMPLE_SECONDS * step)))
    store.flush()
    store.roll_up(NOW)


def build_store(folder: Path, days: int) -> Store:
    store = Store(folder)
    build_history(store, days)
    build_samples(store, days)
    return store


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def upsert_once(store: Store, rep: int) -> float:
    doc = debate_doc(f"live_{rep % 7}", NOW + timedelta(hours=rep % 7 + 1), "running")
    doc["turns"] = rep
    return timed(lambda: store.debates.upsert(doc))


def sample_once(store: Store, rep: int) -> float:
    row = system_sample(NOW + timedelta(seconds=rep))
    return timed(lambda: (store.append_sample("system", row), store.flush()))


def archive_once(store: Store, rep: int) -> float:
    doc = debate_doc(f"debate_{NOW:%Y%m%dT%H%M%S}_bench{rep:03d}", NOW)
    store.debates.upsert(doc)  # set-up, not timed: archiving moves a doc out of the live table
    return timed(lambda: store.archive_debates([doc]))


OPERATIONS: dict[str, Callable[[Store, int], float]] = {
    "debates.upsert": upsert_once,
    "append_sample + flush": sample_once,
    "archive_debates": archive_once,
}


def measure(stores: list[Store]) -> dict[str, list[list[float]]]:
    """Durations in ms per operation and store; the store order alternates every repetition."""
    results = {name: [[] for _ in stores] for name in OPERATIONS}
    for rep in range(REPETITIONS):
        order = list(enumerate(stores)) if rep % 2 == 0 else list(reversed(list(enumerate(stores))))
        for name, operation in OPERATIONS.items():
            for index, store in order:
                results[name][index].append(operation(store, rep))
    return results


def percentile(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[pct - 1]


def report(results: dict[str, list[list[float]]]) -> bool:
    """Print the table; True when every goal is met."""
    print(f"{'operation':<24}{'1d p50':>9}{'1d p95':>9}{'365d p50':>10}{'365d p95':>10}{'ratio p50':>11}{'ratio p95':>11}")
    met = True
    worst = [0.0, 0.0]  # p95 in ms, ratio
    for name, (small, large) in results.items():
        figures = [percentile(small, 50), percentile(small, 95), percentile(large, 50), percentile(large, 95)]
        ratios = [figures[2] / figures[0], figures[3] / figures[1]]
        print(f"{name:<24}" + "".join(f"{value:>9.2f}" for value in figures[:2])
              + "".join(f"{value:>10.2f}" for value in figures[2:]) + "".join(f"{value:>11.2f}" for value in ratios))
        met = met and max(ratios) <= 1.5 and max(figures[1], figures[3]) <= 10.0
        worst[0], worst[1] = max(worst[0], figures[1], figures[3]), max(worst[1], *ratios)
    print(f"\nworst p95 {worst[0]:.2f} ms, worst ratio 365d/1d {worst[1]:.2f}   goal p95 <= 10 ms, ratio <= 1.5")
    return met


def describe(label: str, store: Store, seconds: float) -> None:
    sizes = ", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in store.file_sizes().items())
    print(f"{label}: built in {seconds:.1f} s; {sizes}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench_store_") as folder:
        stores = []
        for days in (1, 365):
            started = time.perf_counter()
            stores.append(build_store(Path(folder) / f"days_{days}", days))
            describe(f"{days:>3} day(s)", stores[-1], time.perf_counter() - started)
        print(f"\n{REPETITIONS} repetitions each, milliseconds, stores alternating:\n")
        met = report(measure(stores))
        print(f"all store goals: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
