"""Monitoring end to end in a real Supervisor: alerts survive a restart, notifiers hear them (or are
held by a silence), a viewer process acknowledges, thresholds change live, and /metrics is served."""

from __future__ import annotations

import socket
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend import Supervisor
from backend.alerting import Silence
from backend.config import load_settings
from backend.health import CheckResult, HealthStatus
from backend.notify import NotifierConfig
from backend.timeutil import utc_now
from tests.conftest import wait_for
from tests.integration.test_notify_webhook import Receiver


def settings(data_dir: Path, **extra: str):
    return load_settings({"AI_COUNCIL_DATA_DIR": str(data_dir), "AI_COUNCIL_BROADCAST": "off",
                          "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_TURN_SECONDS": "0", "MONITORING_INTERVAL": "1",
                          **extra})


class Switch:
    """A check the test turns bad and good."""

    def __init__(self) -> None:
        self.bad = True

    def __call__(self) -> CheckResult:
        if self.bad:
            return CheckResult(HealthStatus.UNHEALTHY, "ingest 0 of 2 servers answer", 0, "servers")
        return CheckResult(HealthStatus.HEALTHY, "ingest 2 of 2 servers answer", 2, "servers")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def open_alert(supervisor: Supervisor, component: str) -> dict | None:
    return next((a for a in supervisor.alerts() if a["component"] == component), None)


def test_an_alert_survives_a_restart_without_a_second_notice(tmp_path: Path, receiver: Receiver) -> None:
    first = Supervisor(settings(tmp_path)).start()
    try:
        first.save_notifier(NotifierConfig("hook", "Hook"), receiver.url())
        first.monitor.register_check("ingest", Switch())
        wait_for(lambda: any("ingest 0 of 2" in m for m in receiver.messages()), 15, "the firing notice")
        fired = open_alert(first, "ingest")
    finally:
        first.stop()
    second = Supervisor(settings(tmp_path)).start()
    try:
        switch = Switch()
        second.monitor.register_check("ingest", switch)
        wait_for(lambda: second.monitor.total_checks >= 3 * len(second.monitor.check_names), 15, "three rounds")
        assert open_alert(second, "ingest")["alert_id"] == fired["alert_id"]  # the same alert, counted on
        assert open_alert(second, "ingest")["count"] > fired["count"]
        assert sum("ingest 0 of 2" in m for m in receiver.messages()) == 1  # not announced again
        switch.bad = False
        wait_for(lambda: any("RESOLVED" in m and "ingest" in m for m in receiver.messages()), 15, "the resolved notice")
        assert open_alert(second, "ingest") is None
    finally:
        second.stop()


def test_a_silence_holds_the_notice_but_the_alert_opens(tmp_path: Path, receiver: Receiver) -> None:
    supervisor = Supervisor(settings(tmp_path)).start()
    try:
        supervisor.save_notifier(NotifierConfig("hook", "Hook"), receiver.url())
        now = utc_now()
        supervisor.add_silence(Silence("ingest", None, now, now + timedelta(hours=1), "rewiring"))
        supervisor.monitor.register_check("ingest", Switch())
        wait_for(lambda: open_alert(supervisor, "ingest"), 15, "the alert")
        supervisor.raise_alert("events", "unschedulable", "warning", "event 'x': no slot")  # not silenced
        wait_for(lambda: any("no slot" in m for m in receiver.messages()), 10, "the other alert's notice")
        assert not any("ingest" in m for m in receiver.messages())
        assert supervisor.book.held("ingest", "check").startswith("silenced until")
    finally:
        supervisor.stop()


def test_a_viewer_process_acknowledges_through_the_owner(tmp_path: Path) -> None:
    owner = Supervisor(settings(tmp_path)).start()
    viewer = Supervisor(settings(tmp_path)).start()
    try:
        assert viewer.role == "viewer"
        owner.raise_alert("store", "corrupt_file", "critical", "state.json was unreadable")
        alert_id = viewer.alerts()[0]["alert_id"]
        assert viewer.acknowledge_alert(alert_id) is None  # queued, not done here
        wait_for(lambda: viewer.alerts()[0]["acknowledged"], 10, "the owner to apply the acknowledgement")
        viewer.resolve_alert(alert_id)
        wait_for(lambda: viewer.alerts() == [], 10, "the owner to resolve it")
    finally:
        viewer.stop()
        owner.stop()


def test_new_thresholds_apply_from_the_next_round(tmp_path: Path) -> None:
    supervisor = Supervisor(settings(tmp_path)).start()
    try:
        wait_for(lambda: supervisor.latest_messages().get("disk"), 15, "a disk check")
        assert "warning at 85 %" in supervisor.latest_messages()["disk"]
        supervisor.set_thresholds({"disk_warn_percent": 0.5, "disk_crit_percent": 0.6})
        wait_for(lambda: "critical at 0.6 %" in supervisor.latest_messages()["disk"], 15, "the new threshold")
        wait_for(lambda: open_alert(supervisor, "disk"), 15, "the disk alert")
        assert open_alert(supervisor, "disk")["severity"] == "critical"
    finally:
        supervisor.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int) -> dict[str, list]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def test_metrics_are_served_on_the_configured_port_and_count_debates(tmp_path: Path) -> None:
    port = free_port()
    supervisor = Supervisor(settings(tmp_path, AI_COUNCIL_METRICS_PORT=str(port))).start()
    try:
        wait_for(lambda: supervisor.latest_messages().get("database"), 15, "a round of checks")
        supervisor.raise_alert("events", "unschedulable", "warning", "event 'x': no slot")
        before = scrape(port)
        health = {s.labels["component"]: s.value for s in before["ai_council_health_status"]}
        assert health["database"] == 0 and set(health) >= {"scheduler", "disk", "memory"}
        alerts = {s.labels["severity"]: s.value for s in before["ai_council_alerts_open"]}
        assert alerts["warning"] == 1 and alerts["critical"] == 0
        supervisor.run_now("Metrics count this one")
        wait_for(lambda: any(s.labels.get("outcome") == "completed" and s.value == 1
                             for s in scrape(port)["ai_council_debates"]), 15, "the counter to move")
        after = scrape(port)
        count = [s for s in after["ai_council_debate_duration_seconds"] if s.name.endswith("_count")]
        assert count[0].value == 1
    finally:
        supervisor.stop()
    with pytest.raises(OSError):  # stopped: nothing listens any more
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_a_taken_metrics_port_is_an_alert_not_a_crash(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        supervisor = Supervisor(settings(tmp_path, AI_COUNCIL_METRICS_PORT=str(port))).start()
        try:
            assert supervisor.alive and supervisor.exporter is None
            alert = open_alert(supervisor, "supervisor")
            assert alert["condition"] == "metrics_port" and f"port {port} is already in use" in alert["message"]
        finally:
            supervisor.stop()


def test_finished_debates_and_system_samples_become_analytics(tmp_path: Path) -> None:
    supervisor = Supervisor(settings(tmp_path)).start()
    try:
        supervisor.run_now("Analytics remember this one")
        wait_for(lambda: any(d.topic == "Analytics remember this one" and d.status.value == "completed"
                             for d in supervisor.debates()), 15, "the debate to finish")
        assert supervisor.collect_debates() == 1
        assert supervisor.collect_debates() == 0  # recorded once
        supervisor.sample_system()
        supervisor.sample_system()
        stats = supervisor.analytics.get_debate_statistics(days=1)
        assert stats["total_debates"] == 1 and stats["completed"] == 1 and stats["avg_participants"] == 4
        assert stats["peak_viewers"] is None and stats["avg_engagement"] is None  # nothing measured viewers
        system = supervisor.analytics.get_system_statistics()
        assert system["samples"] == 2 and 0 <= system["latest"]["cpu_percent"] <= 100
    finally:
        supervisor.stop()
    again = Supervisor(settings(tmp_path)).start()  # a restart reads back what was recorded
    try:
        assert again.analytics.get_debate_statistics(days=1)["total_debates"] == 1
        assert again.collect_debates() == 0
    finally:
        again.stop()
