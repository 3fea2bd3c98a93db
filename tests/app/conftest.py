"""AppTest fixtures: each test gets a fresh data directory and its own Supervisor, stopped afterwards."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import streamlit as st
from filelock import FileLock, Timeout
from streamlit.testing.v1 import AppTest

from backend.scheduler import CONFIG_KEY
from backend.storage import Store

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
SUPERVISOR_THREAD = "ai-council-supervisor"


def _process_pools() -> set[threading.Thread]:
    """apprise's process-wide worker pools: started on first use and kept for the process, by design."""
    import apprise.apprise as pools

    found: set[threading.Thread] = set()
    for executor in (pools._shared_executor, pools._coordinator_executor):  # noqa: SLF001
        found |= set(getattr(executor, "_threads", ()))
    return found


def _wait_for_threads_to_end(threads: set[threading.Thread], seconds: float) -> list[threading.Thread]:
    deadline = time.monotonic() + seconds
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [t for t in threads if t.is_alive()]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data directory in the environment; the Supervisor's thread (and every thread the
    test started) must be gone and the directory's owner lock released once the cache is cleared."""
    monkeypatch.setenv("AI_COUNCIL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AI_COUNCIL_TURN_SECONDS", "0")
    monkeypatch.setenv("AI_COUNCIL_BROADCAST", "off")  # the Streams page tests turn it on
    monkeypatch.setenv("AI_COUNCIL_TIMEZONE", "UTC")
    st.cache_resource.clear()
    before = set(threading.enumerate())
    yield tmp_path
    st.cache_resource.clear()  # on_release -> Supervisor.stop()
    leftover = _wait_for_threads_to_end(set(threading.enumerate()) - before - _process_pools(), 10.0)
    assert not [t for t in threading.enumerate() if t.name == SUPERVISOR_THREAD], \
        "the supervisor thread is still alive after st.cache_resource.clear()"
    assert not leftover, f"threads started by the test are still alive: {leftover}"
    lock = FileLock(tmp_path / "owner.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        pytest.fail("the data directory's owner lock is still held after the Supervisor stopped")
    lock.release()


class StoreReader:
    """Reads what the backend wrote, through a second Store on the same directory (reads take no lock)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def _store(self) -> Store:
        return Store(self.data_dir)

    def debates(self) -> list[dict[str, Any]]:
        return self._store().debates.all()

    def config(self) -> dict[str, Any] | None:
        return self._store().settings.get(CONFIG_KEY)

    def find(self, **match: Any) -> list[dict[str, Any]]:
        return [d for d in self.debates() if all(d.get(k) == v for k, v in match.items())]

    def wait_for(self, seconds: float = 20.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            found = self.find(**match)
            if found:
                return found[0]
            if time.monotonic() > deadline:
                pytest.fail(f"no debate matching {match} within {seconds:g} s; have "
                            f"{[(d['topic'], d['status']) for d in self.debates()]}")
            time.sleep(0.1)


@pytest.fixture
def stored(data_dir: Path) -> StoreReader:
    return StoreReader(data_dir)


@pytest.fixture
def app(data_dir: Path, stored: StoreReader) -> AppTest:
    """The dashboard (Overview page) once the backend it started has stored its first plan.

    The backend thread plans the next 24 h on its first tick, a moment after the first script run;
    waiting for that (then running again) keeps the tests independent of that start-up race.
    """
    at = AppTest.from_file(str(APP), default_timeout=30)
    at.run()
    assert not at.exception, at.exception
    stored.wait_for(seconds=10, status="pending")
    at.run()
    assert not at.exception, at.exception
    return at
