"""Notifiers against a real HTTP receiver on 127.0.0.1: delivery, failures, timeouts, the rate limit."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from backend.alerting import AlertRule, Notification, alert_transition, initial_state
from backend.health import CheckResult, HealthStatus
from backend.notify import Delivery, NotifierConfig, Notifiers, Timeouts
from tests.conftest import FakeClock, wait_for

TOKEN = "Zq7SECRETtoken9"
RULE = AlertRule(fail_threshold=1)
SUMMARY_15 = "(15 more alerts were held back by the rate limit)"


class Receiver:
    """A webhook receiver that records the JSON bodies it gets and answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def messages(self) -> list[str]:
        return [body["message"] for body in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Hanging:
    """Accepts connections and never answers."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hanging() -> Iterator[Hanging]:
    server = Hanging()
    yield server
    server.close()


class Setup:
    def __init__(self, data_dir: Path, clock: FakeClock, **options: Any) -> None:
        self.deliveries: list[Delivery] = []
        self.notifiers = Notifiers(data_dir, clock, self.deliveries.append, **options)

    def add(self, notifier_id: str, url: str, **settings: Any) -> None:
        self.notifiers.save(NotifierConfig(notifier_id, notifier_id.title(), **settings), url)

    def delivered(self, count: int) -> list[Delivery]:
        wait_for(lambda: len(self.deliveries) >= count, what=f"{count} deliveries")
        return self.deliveries


@pytest.fixture
def setup(tmp_path: Path, clock: FakeClock) -> Iterator[Setup]:
    made = Setup(tmp_path / "data", clock)
    yield made
    made.notifiers.close()


def firing(clock: FakeClock, component: str = "scheduler") -> Notification:
    _, notes = alert_transition(initial_state(component, "stalled"),
                                CheckResult(HealthStatus.UNHEALTHY, "no tick for 90 s"), clock(), RULE)
    return notes[0]


def resolved(clock: FakeClock, note: Notification) -> Notification:
    _, notes = alert_transition(note.alert, CheckResult(HealthStatus.HEALTHY, "ticking"), clock(), RULE)
    return notes[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_webhook_receives_the_firing_and_the_resolved_notice(setup: Setup, receiver: Receiver,
                                                               clock: FakeClock) -> None:
    setup.add("hook", receiver.url())
    note = firing(clock)
    clock.advance(minutes=3)
    done = resolved(clock, note)
    setup.notifiers.send(note)
    setup.notifiers.send(done)
    first, second = setup.delivered(2)
    assert [body["title"] for body in receiver.bodies] == ["[ERROR] scheduler", "[RESOLVED] scheduler"]
    assert receiver.messages() == [note.text, done.text]
    assert [body["type"] for body in receiver.bodies] == ["failure", "success"]
    assert (first.ok, first.kind, first.alert_id, first.notifier_id, first.name) == (
        True, "firing", note.alert.alert_id, "hook", "Hook")
    assert (second.ok, second.kind, second.when) == (True, "resolved", clock())
    assert "delivered" in first.detail


def test_a_test_message_is_sent_at_once_even_to_a_disabled_notifier(setup: Setup, receiver: Receiver) -> None:
    setup.add("hook", receiver.url(), enabled=False)
    delivery = setup.notifiers.send_test("hook")
    assert delivery.ok and delivery.kind == "test" and setup.deliveries == [delivery]
    assert "test notification from AI Council Automation" in receiver.messages()[0]


def test_disabled_and_less_severe_notifiers_hear_nothing(setup: Setup, receiver: Receiver, clock: FakeClock) -> None:
    setup.add("off", receiver.url("off"), enabled=False)
    setup.add("pager", receiver.url("pager"), min_severity="critical")
    setup.add("ops", receiver.url("ops"))
    setup.notifiers.send(firing(clock))
    # "ops" is the last of the three: once it is delivered, the other two were passed over.
    assert [d.notifier_id for d in setup.delivered(1)] == ["ops"]
    assert len(receiver.bodies) == 1


def test_a_receiver_answering_500_gives_a_failed_delivery_with_the_reason(setup: Setup, clock: FakeClock) -> None:
    broken = Receiver(status=500)
    try:
        setup.add("hook", broken.url(f"hook/{TOKEN}"))
        delivery = setup.notifiers.send_test("hook")
        assert not delivery.ok and "500" in delivery.detail and TOKEN not in delivery.detail
        setup.notifiers.send(firing(clock))
        failed = setup.delivered(2)[1]
        assert (failed.ok, failed.kind) == (False, "firing") and "500" in failed.detail
        assert len(broken.bodies) == 2
    finally:
        broken.close()


def test_a_closed_port_gives_a_failed_delivery_without_the_secret(setup: Setup, caplog: pytest.LogCaptureFixture,
                                                                  clock: FakeClock) -> None:
    caplog.set_level(logging.DEBUG)
    setup.add("hook", f"json://ops:{TOKEN}@127.0.0.1:{closed_port()}/hook/{TOKEN}")
    delivery = setup.notifiers.send_test("hook")
    assert not delivery.ok and "onnection" in delivery.detail
    setup.notifiers.send(firing(clock))
    failed = setup.delivered(2)[1]
    assert not failed.ok
    for text in (delivery.detail, failed.detail, caplog.text):
        assert TOKEN not in text


@pytest.mark.slow
def test_a_hanging_receiver_fails_within_the_default_timeouts(setup: Setup, hanging: Hanging) -> None:
    setup.add("hang", f"json://127.0.0.1:{hanging.port}/hook")
    started = time.monotonic()
    delivery = setup.notifiers.send_test("hang")
    elapsed = time.monotonic() - started
    assert not delivery.ok and delivery.detail
    assert elapsed < Timeouts().read_seconds + 3


def test_a_hanging_receiver_does_not_hold_up_the_others_beyond_its_timeout(
        tmp_path: Path, clock: FakeClock, hanging: Hanging, receiver: Receiver) -> None:
    setup = Setup(tmp_path, clock, timeouts=Timeouts(connect_seconds=1, read_seconds=1, total_seconds=2))
    try:
        setup.add("hang", f"json://127.0.0.1:{hanging.port}/hook")  # first: delivered before the other
        setup.add("ok", receiver.url())
        started = time.monotonic()
        for component in ("a", "b", "c"):
            setup.notifiers.send(firing(clock, component))
        assert time.monotonic() - started < 0.5  # send never waits for a delivery
        wait_for(lambda: len(receiver.bodies) >= 1, timeout=10, what="the healthy receiver's first post")
        assert time.monotonic() - started < 1 + 3  # one hanging delivery at most, plus slack
        hung = [d for d in setup.delivered(6) if d.notifier_id == "hang"]
        assert len(hung) == 3 and not any(d.ok for d in hung)
        assert len(receiver.bodies) == 3
    finally:
        setup.notifiers.close()


def test_a_burst_is_rate_limited_and_the_held_count_is_said_later(setup: Setup, receiver: Receiver,
                                                                  clock: FakeClock) -> None:
    setup.add("hook", receiver.url())
    notes = [firing(clock, f"component-{i}") for i in range(20)]
    for note in notes:
        setup.notifiers.send(note)
    wait_for(lambda: setup.notifiers.held("hook") == 15, what="15 notices held back")
    assert receiver.messages() == [note.text for note in notes[:5]]
    # The resolved notice of an alert nobody heard of is not sent, now or later.
    clock.advance(seconds=301)
    setup.notifiers.send(resolved(clock, notes[-1]))
    setup.notifiers.send(resolved(clock, notes[0]))
    wait_for(lambda: any(SUMMARY_15 in message for message in receiver.messages()), what="the summary line")
    wait_for(lambda: any("[RESOLVED] component-0" in message for message in receiver.messages()),
             what="the resolved notice")
    time.sleep(Notifiers.IDLE_SECONDS + 0.2)  # nothing more is on its way
    messages = receiver.messages()
    assert sum(SUMMARY_15 in message for message in messages) == 1
    assert [m for m in messages[5:] if "RESOLVED" in m] == [messages[-1]] and notes[0].alert.component in messages[-1]
    assert len(messages) <= 5 + 2


def test_a_summary_goes_out_alone_when_no_other_notice_comes(setup: Setup, receiver: Receiver,
                                                             clock: FakeClock) -> None:
    setup.add("hook", receiver.url())
    for i in range(7):
        setup.notifiers.send(firing(clock, f"component-{i}"))
    wait_for(lambda: setup.notifiers.held("hook") == 2, what="2 notices held back")
    clock.advance(seconds=300)
    wait_for(lambda: len(receiver.bodies) == 6, what="the summary")
    assert receiver.messages()[-1].startswith("(2 more alerts were held back by the rate limit)")
    assert setup.delivered(6)[-1].kind == "summary"
