"""The Prometheus page for hand-made snapshots, read back with prometheus_client's own parser."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from backend.errors import ConfigError
from backend.exporter import (
    DESTINATION_STATES,
    DURATION_BUCKETS,
    MetricsServer,
    new_registry,
    parse_snapshot,
    render,
)
from backend.health import AlertSeverity, HealthStatus
from backend.streaming import StreamStatus

SNAPSHOT: dict[str, Any] = {
    "debates": {"completed": 7, "failed": 2, "running": 1, "durations_seconds": [20.0, 30.0, 95.5, 610.0, 4000.0]},
    "streams": {"live": 1, "destinations": [
        {"destination_id": "yt-1", "name": "Main channel", "platform": "youtube", "state": "live",
         "bitrate_kbps": 4410.5, "target_kbps": 4500.0, "bytes_sent": 123456789, "reconnects": 3},
        {"destination_id": "tw-1", "name": "Twitch", "platform": "twitch", "state": "reconnecting",
         "bitrate_kbps": None, "target_kbps": 3000.0, "bytes_sent": None, "reconnects": 0},
    ]},
    "health": {"cpu": "healthy", "disk": "degraded", "stream": "unhealthy", "backend": "critical", "net": "unknown"},
    "alerts_open": {"info": 1, "warning": 2, "error": 0, "critical": 4},
}


def scrape(snapshot: Any) -> dict[str, list[Sample]]:
    """Every sample on the page, by sample name (``..._total``, ``..._bucket`` as written)."""
    text = render(snapshot if callable(snapshot) else (lambda: snapshot)).decode()
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], metric: str, /, **labels: str) -> float:
    matches = [s.value for s in samples.get(metric, []) if s.labels == labels]
    assert len(matches) == 1, f"{metric}{labels}: {matches} in {samples.get(metric)}"
    return matches[0]


def types() -> dict[str, str]:
    return {family.name: family.type for family in text_string_to_metric_families(render(lambda: SNAPSHOT).decode())}


def test_every_family_has_its_type() -> None:
    assert types() == {
        "ai_council_debates": "counter", "ai_council_debates_running": "gauge",
        "ai_council_debate_duration_seconds": "histogram", "ai_council_streams_live": "gauge",
        "ai_council_destination_bitrate_kbps": "gauge", "ai_council_destination_target_bitrate_kbps": "gauge",
        "ai_council_destination_bytes_sent": "counter", "ai_council_destination_reconnects": "counter",
        "ai_council_destination_state": "gauge", "ai_council_health_status": "gauge", "ai_council_health_up": "gauge",
        "ai_council_alerts_open": "gauge", "ai_council_scrape_errors": "counter",
    }


def test_debate_counts_and_running() -> None:
    samples = scrape(SNAPSHOT)
    assert value(samples, "ai_council_debates_total", outcome="completed") == 7
    assert value(samples, "ai_council_debates_total", outcome="failed") == 2
    assert value(samples, "ai_council_debates_running") == 1
    assert value(samples, "ai_council_scrape_errors_total") == 0


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    samples = scrape(SNAPSHOT)  # 20, 30 (on the bound: counted), 95.5, 610, 4000
    buckets = {s.labels["le"]: s.value for s in samples["ai_council_debate_duration_seconds_bucket"]}
    assert buckets == {"30.0": 2, "60.0": 2, "120.0": 3, "300.0": 3, "600.0": 3, "900.0": 4, "1800.0": 4,
                       "3600.0": 4, "+Inf": 5}
    assert len(buckets) == len(DURATION_BUCKETS) + 1
    assert value(samples, "ai_council_debate_duration_seconds_count") == 5
    assert value(samples, "ai_council_debate_duration_seconds_sum") == pytest.approx(4755.5)


def test_no_finished_debates_is_an_empty_histogram_not_a_missing_one() -> None:
    samples = scrape({"debates": {"durations_seconds": []}})
    assert {s.value for s in samples["ai_council_debate_duration_seconds_bucket"]} == {0}
    assert value(samples, "ai_council_debate_duration_seconds_count") == 0
    assert "ai_council_debates_total" not in samples  # no counts given: none exported


def test_destination_figures_carry_id_name_and_platform() -> None:
    samples = scrape(SNAPSHOT)
    yt = {"destination": "yt-1", "name": "Main channel", "platform": "youtube"}
    tw = {"destination": "tw-1", "name": "Twitch", "platform": "twitch"}
    assert value(samples, "ai_council_streams_live") == 1
    assert value(samples, "ai_council_destination_bitrate_kbps", **yt) == 4410.5
    assert value(samples, "ai_council_destination_target_bitrate_kbps", **yt) == 4500
    assert value(samples, "ai_council_destination_bytes_sent_total", **yt) == 123456789
    assert value(samples, "ai_council_destination_reconnects_total", **yt) == 3
    assert value(samples, "ai_council_destination_target_bitrate_kbps", **tw) == 3000
    assert value(samples, "ai_council_destination_reconnects_total", **tw) == 0


def test_a_bitrate_of_none_omits_that_sample_only() -> None:
    samples = scrape(SNAPSHOT)
    assert [s.labels["destination"] for s in samples["ai_council_destination_bitrate_kbps"]] == ["yt-1"]
    assert [s.labels["destination"] for s in samples["ai_council_destination_bytes_sent_total"]] == ["yt-1"]
    nothing_measured = {"streams": {"destinations": [{"destination_id": "x", "name": "X", "platform": "custom"}]}}
    assert "ai_council_destination_bitrate_kbps" not in scrape(nothing_measured)


def test_destination_state_is_one_for_the_current_state_and_zero_for_the_others() -> None:
    samples = scrape(SNAPSHOT)
    states = {(s.labels["destination"], s.labels["state"]): s.value for s in samples["ai_council_destination_state"]}
    assert {state for (d, state), v in states.items() if v == 1} == {"live", "reconnecting"}
    assert states == {**{("yt-1", s): 0.0 for s in DESTINATION_STATES}, **{("tw-1", s): 0.0 for s in DESTINATION_STATES},
                      ("yt-1", "live"): 1.0, ("tw-1", "reconnecting"): 1.0}
    assert all(set(s.labels) == {"destination", "name", "platform", "state"}
               for s in samples["ai_council_destination_state"])


def test_an_unlisted_state_is_added_so_one_series_is_still_1() -> None:
    doc = {"streams": {"destinations": [{"destination_id": "d", "state": "buffering"}]}}
    states = {s.labels["state"]: s.value for s in scrape(doc)["ai_council_destination_state"]}
    assert states == {**{s: 0.0 for s in DESTINATION_STATES}, "buffering": 1.0}


def test_the_known_states_cover_every_stream_status() -> None:
    assert {status.value for status in StreamStatus} <= set(DESTINATION_STATES)


def test_enum_members_export_as_their_values() -> None:
    doc = {"streams": {"destinations": [{"destination_id": "d", "name": "n", "platform": "p",
                                         "state": StreamStatus.ERROR}]},
           "health": {"cpu": HealthStatus.DEGRADED}}
    samples = scrape(doc)
    assert value(samples, "ai_council_destination_state", destination="d", name="n", platform="p", state="error") == 1
    assert value(samples, "ai_council_health_status", component="cpu") == 1


def test_health_status_numbers_and_up() -> None:
    samples = scrape(SNAPSHOT)
    expected = {"cpu": 0, "disk": 1, "stream": 2, "backend": 3, "net": -1}
    for component, number in expected.items():
        assert value(samples, "ai_council_health_status", component=component) == number
        assert value(samples, "ai_council_health_up", component=component) == (1 if component == "cpu" else 0)
    help_text = next(f.documentation for f in text_string_to_metric_families(render(lambda: SNAPSHOT).decode())
                     if f.name == "ai_council_health_status")
    assert "0=healthy, 1=degraded, 2=unhealthy, 3=critical, -1=unknown" in help_text


def test_open_alerts_for_every_severity_zero_when_missing() -> None:
    samples = scrape(SNAPSHOT)
    assert {s.labels["severity"]: s.value for s in samples["ai_council_alerts_open"]} == {
        "info": 1, "warning": 2, "error": 0, "critical": 4}
    partial = scrape({"alerts_open": {"critical": 1}})
    assert {s.labels["severity"]: s.value for s in partial["ai_council_alerts_open"]} == {
        severity.value: (1.0 if severity is AlertSeverity.CRITICAL else 0.0) for severity in AlertSeverity}
    assert "ai_council_alerts_open" not in scrape({})


def test_an_empty_snapshot_exports_only_the_error_counter() -> None:
    samples = scrape({})
    assert list(samples) == ["ai_council_scrape_errors_total"]
    assert value(samples, "ai_council_scrape_errors_total") == 0


def test_a_snapshot_that_raises_still_answers_and_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("store is locked")

    with caplog.at_level(logging.WARNING, logger="backend.exporter"):
        samples = scrape(broken)
    assert list(samples) == ["ai_council_scrape_errors_total"]
    assert value(samples, "ai_council_scrape_errors_total") == 1
    assert "RuntimeError: store is locked" in caplog.text


def test_the_error_counter_counts_each_failed_scrape_and_logs_a_repeat_quietly(
        caplog: pytest.LogCaptureFixture) -> None:
    state: dict[str, Any] = {"fail": True}

    def snapshot() -> dict[str, Any]:
        if state["fail"]:
            raise OSError("disk gone")
        return {"debates": {"running": 0}}

    registry = new_registry(snapshot)
    with caplog.at_level(logging.WARNING, logger="backend.exporter"):
        for _ in range(3):
            page = generate_latest(registry).decode()
    assert "ai_council_scrape_errors_total 3.0" in page
    assert caplog.text.count("disk gone") == 1  # the same failure is said once at WARNING
    state["fail"] = False
    page = generate_latest(registry).decode()
    assert "ai_council_scrape_errors_total 3.0" in page and "ai_council_debates_running 0.0" in page


def test_a_malformed_value_drops_only_what_it_fed_and_counts_the_scrape() -> None:
    doc = {"debates": {"completed": "seven", "failed": 2, "running": True, "durations_seconds": [10, -1]},
           "streams": {"live": 1, "destinations": [
               {"name": "no id"}, "not a mapping",
               {"destination_id": "a", "name": "A", "platform": "youtube", "bitrate_kbps": float("nan"),
                "target_kbps": 2500},
               {"destination_id": "a", "name": "A again", "platform": "youtube"}]},
           "health": {"cpu": "fine", "disk": "healthy"},
           "alerts_open": ["critical"]}
    _, problems = parse_snapshot(doc)
    assert len(problems) == 9, problems
    samples = scrape(doc)
    assert value(samples, "ai_council_scrape_errors_total") == 1  # one scrape, however many problems
    assert [s.labels for s in samples["ai_council_debates_total"]] == [{"outcome": "failed"}]
    assert "ai_council_debates_running" not in samples
    assert "ai_council_debate_duration_seconds_bucket" not in samples
    assert [s.labels["name"] for s in samples["ai_council_destination_target_bitrate_kbps"]] == ["A"]
    assert "ai_council_destination_bitrate_kbps" not in samples
    assert [s.labels["component"] for s in samples["ai_council_health_status"]] == ["disk"]
    assert "ai_council_alerts_open" not in samples


def test_a_snapshot_that_is_not_a_mapping_is_a_counted_error() -> None:
    samples = scrape(lambda: ["debates"])
    assert list(samples) == ["ai_council_scrape_errors_total"]
    assert value(samples, "ai_council_scrape_errors_total") == 1


def test_only_the_documented_fields_are_exported() -> None:
    doc = {"streams": {"destinations": [{"destination_id": "d", "name": "n", "platform": "p", "state": "live",
                                         "stream_key": "sk-SECRET-123", "rtmp_url": "rtmp://x/app/sk-SECRET-123"}]},
           "secrets": {"api_key": "sk-SECRET-123"}}
    page = render(lambda: doc).decode()
    assert "SECRET" not in page and "rtmp" not in page
    labels = {key for family in text_string_to_metric_families(page) for s in family.samples for key in s.labels}
    assert labels <= {"destination", "name", "platform", "state"}


def test_render_leaves_the_global_registry_alone() -> None:
    render(lambda: SNAPSHOT)
    assert b"ai_council_" not in generate_latest(REGISTRY)


@pytest.mark.parametrize("port", [-1, 65536, "9100", 9100.0, True, None])
def test_a_port_outside_0_65535_or_not_whole_is_refused(port: Any) -> None:
    with pytest.raises(ConfigError, match="0-65535"):
        MetricsServer(lambda: {}, port)


def test_port_0_means_off() -> None:
    server = MetricsServer(lambda: {}, 0)
    assert server.start() == 0
    assert server.url is None and not server.serving
    server.stop()  # nothing to stop: fine
