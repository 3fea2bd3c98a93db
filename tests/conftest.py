"""Shared fixtures: an injectable clock and quick debate runners."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from typing import Callable, Iterator

import pytest

from backend.debates import DemoCouncil, Turn
from backend.errors import DebateFailed
from backend.timeutil import UTC


def wait_for(condition: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll ``condition`` until it is truthy (its value is returned) or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class FakeClock:
    """A clock the test moves by hand; calling it returns the current instant."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 6, 15, 8, 0, tzinfo=UTC))


@pytest.fixture
def quick_runner() -> DemoCouncil:
    return DemoCouncil(turn_seconds=0, rounds=2)


class FailingRunner:
    """Fails the first ``failures`` debates, then speaks like the demo council."""

    name = "failing"

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0
        self.inner = DemoCouncil(turn_seconds=0, rounds=1)

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        self.calls += 1
        if self.calls <= self.failures:
            raise DebateFailed(f"model endpoint refused the request (call {self.calls})")
        yield from self.inner.turns(topic, debate_id=debate_id, cancel=cancel)


class BlockingRunner:
    """Speaks one turn, then waits until cancelled (a debate that is 'on air' for the test)."""

    name = "blocking"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.inner = DemoCouncil(turn_seconds=0, rounds=1)

    def turns(self, topic: str, *, debate_id: str, cancel: threading.Event) -> Iterator[Turn]:
        yield next(iter(self.inner.turns(topic, debate_id=debate_id, cancel=cancel)))
        self.started.set()
        cancel.wait(30)
