"""A real MetricsServer on a free local port, scraped over HTTP and read with prometheus_client's parser."""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from typing import Any, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.errors import ConfigError
from backend.exporter import THREAD_PREFIX, MetricsServer


def free_port() -> int:
    """A port the OS just handed out on 127.0.0.1 (closed again, so free unless someone races us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_threads(port: int) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"{THREAD_PREFIX}-{port}"]


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


class Source:
    """The supervisor's part: a snapshot the test changes between scrapes."""

    def __init__(self) -> None:
        self.doc: dict[str, Any] = {
            "debates": {"completed": 1, "failed": 0, "running": 1, "durations_seconds": [400.0]},
            "streams": {"live": 1, "destinations": [{"destination_id": "yt", "name": "Main", "platform": "youtube",
                                                     "state": "live", "bitrate_kbps": 2500.0, "target_kbps": 2500.0,
                                                     "bytes_sent": 1000, "reconnects": 0}]},
            "health": {"stream": "healthy"},
            "alerts_open": {"warning": 0},
        }
        self.fail = False

    def __call__(self) -> dict[str, Any]:
        if self.fail:
            raise RuntimeError("snapshot broke")
        return self.doc


@pytest.fixture
def served() -> Iterator[tuple[MetricsServer, Source]]:
    source = Source()
    server = MetricsServer(source, free_port())
    server.start()
    try:
        yield server, source
    finally:
        server.stop()


YT = (("destination", "yt"), ("name", "Main"), ("platform", "youtube"))


def test_scrapes_follow_the_snapshot(served: tuple[MetricsServer, Source]) -> None:
    server, source = served
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"
    first = scrape(server.url)
    assert first[("ai_council_debates_total", (("outcome", "completed"),))] == 1
    assert first[("ai_council_debates_running", ())] == 1
    assert first[("ai_council_destination_bytes_sent_total", YT)] == 1000
    assert first[("ai_council_destination_state", (*YT, ("state", "live")))] == 1
    assert first[("ai_council_health_up", (("component", "stream"),))] == 1
    assert first[("ai_council_debate_duration_seconds_bucket", (("le", "600.0"),))] == 1

    source.doc["debates"] = {"completed": 2, "failed": 0, "running": 0, "durations_seconds": [400.0, 1000.0]}
    source.doc["streams"]["destinations"][0].update(state="reconnecting", bytes_sent=5000, reconnects=1,
                                                    bitrate_kbps=None)
    source.doc["health"]["stream"] = "degraded"
    second = scrape(server.url)
    assert second[("ai_council_debates_total", (("outcome", "completed"),))] == 2
    assert second[("ai_council_debates_running", ())] == 0
    assert second[("ai_council_debate_duration_seconds_count", ())] == 2
    assert second[("ai_council_debate_duration_seconds_bucket", (("le", "600.0"),))] == 1
    assert second[("ai_council_destination_bytes_sent_total", YT)] == 5000
    assert second[("ai_council_destination_reconnects_total", YT)] == 1
    assert ("ai_council_destination_bitrate_kbps", YT) not in second
    assert second[("ai_council_destination_state", (*YT, ("state", "live")))] == 0
    assert second[("ai_council_destination_state", (*YT, ("state", "reconnecting")))] == 1
    assert second[("ai_council_health_status", (("component", "stream"),))] == 1
    assert second[("ai_council_health_up", (("component", "stream"),))] == 0


def test_a_failing_snapshot_still_answers_200_and_counts(served: tuple[MetricsServer, Source]) -> None:
    server, source = served
    assert server.url is not None
    source.fail = True
    assert scrape(server.url) == {("ai_council_scrape_errors_total", ()): 1}
    assert scrape(server.url) == {("ai_council_scrape_errors_total", ()): 2}
    source.fail = False
    assert scrape(server.url)[("ai_council_scrape_errors_total", ())] == 2


def test_only_the_metrics_path_is_served(served: tuple[MetricsServer, Source]) -> None:
    server, _ = served
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/secrets", timeout=5)
    assert raised.value.code == 404


def test_starting_twice_serves_once(served: tuple[MetricsServer, Source]) -> None:
    server, _ = served
    assert server.start() == server.port
    assert len(server_threads(server.port)) == 1


def test_a_second_server_on_the_same_port_is_a_config_error_and_leaves_no_thread(
        served: tuple[MetricsServer, Source]) -> None:
    server, _ = served
    other = MetricsServer(lambda: {}, server.port)
    with pytest.raises(ConfigError, match=f"port {server.port} is already in use"):
        other.start()
    assert [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)] == [
        f"{THREAD_PREFIX}-{server.port}"]  # the first server's only
    assert not other.serving and other.url is None
    assert server.url is not None and scrape(server.url)  # the first still answers


def test_stop_frees_the_port_and_ends_the_thread() -> None:
    port = free_port()
    first = MetricsServer(lambda: {"debates": {"running": 1}}, port)
    assert first.start() == port
    assert len(server_threads(port)) == 1
    first.stop()
    assert server_threads(port) == []
    assert first.url is None
    first.stop()  # again: nothing happens

    second = MetricsServer(lambda: {"debates": {"running": 2}}, port)
    try:
        assert second.start() == port
        assert second.url is not None
        assert scrape(second.url)[("ai_council_debates_running", ())] == 2
    finally:
        second.stop()
    assert server_threads(port) == []
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_an_address_that_does_not_resolve_is_a_config_error() -> None:
    server = MetricsServer(lambda: {}, free_port(), address="no-such-host.invalid")
    with pytest.raises(ConfigError, match="does not resolve"):
        server.start()
    assert not server.serving
