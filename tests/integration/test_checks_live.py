"""Each health check against the real thing: the filesystem, psutil, a Store on disk, a running
Supervisor, HTTP servers on 127.0.0.1 (200, 500, one that hangs, a closed port), espeak-ng and ffmpeg."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from backend.checks import (
    PREDEFINED,
    Thresholds,
    check_api_endpoints,
    check_cpu,
    check_database_health,
    check_disk_space,
    check_event_ingestion,
    check_ffmpeg,
    check_memory_usage,
    check_scheduler_health,
    check_streaming_health,
    check_tts_availability,
    predefined_checks,
)
from backend.config import load_settings
from backend.health import CheckResult, HealthStatus
from backend.speech import speech_engine
from backend.storage import Store
from backend.supervisor import Supervisor
from tests.conftest import wait_for

H, D, U, C = HealthStatus.HEALTHY, HealthStatus.DEGRADED, HealthStatus.UNHEALTHY, HealthStatus.CRITICAL
T = Thresholds()




@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    settings = load_settings({"AI_COUNCIL_DATA_DIR": str(tmp_path), "AI_COUNCIL_BROADCAST": "off",
                              "AI_COUNCIL_TIMEZONE": "UTC"})
    started = Supervisor(settings).start()
    try:
        wait_for(lambda: started.last_tick is not None, what="the first tick")
        yield started
    finally:
        started.stop()


# --- disk, memory, cpu ------------------------------------------------------------------------------


def test_disk_figures_match_the_filesystem(tmp_path: Path) -> None:
    result = check_disk_space(tmp_path, T)
    usage = shutil.disk_usage(tmp_path)
    assert result.unit == "%" and result.value is not None
    assert result.value == pytest.approx(100 * usage.used / (usage.used + usage.free), abs=1.0)
    assert result.message.startswith(f"disk {result.value:.1f} % used on {tmp_path}, ")
    assert " free (" in result.message and result.details["free_bytes"] > 0


def test_disk_thresholds_below_current_usage_trip_the_check(tmp_path: Path) -> None:
    degraded = check_disk_space(tmp_path, Thresholds(disk_warn_percent=0.1, disk_crit_percent=100))
    assert degraded.status is D and "(warning at 0.1 %, critical at 100 %)" in degraded.message
    critical = check_disk_space(tmp_path, Thresholds(disk_warn_percent=0.1, disk_crit_percent=0.1))
    assert critical.status is C and critical.message.endswith("free (critical at 0.1 %)")
    assert f"disk {critical.value:.1f} % used" in critical.message


def test_disk_check_on_a_data_dir_not_created_yet(tmp_path: Path) -> None:
    result = check_disk_space(tmp_path / "not" / "yet", T)
    assert result.value is not None and result.details["path"] == str(tmp_path)


def test_memory_gives_the_figures() -> None:
    result = check_memory_usage(T)
    assert result.value is not None and 0 < result.value <= 100 and result.unit == "%"
    assert result.message.startswith(f"memory {result.value:.1f} % used")
    assert " RSS" in result.message and result.details["rss_bytes"] > 1_000_000
    tripped = check_memory_usage(Thresholds(memory_warn_percent=0.01, memory_crit_percent=0.01))
    assert tripped.status is C and "(critical at 0.01 %)" in tripped.message


def test_cpu_gives_the_figures() -> None:
    started = time.perf_counter()
    result = check_cpu(T)
    assert time.perf_counter() - started >= 0.15  # it really sampled
    assert result.value is not None and 0 <= result.value <= 100
    assert result.message.startswith(f"cpu {result.value:.1f} % busy over 0.2 s (warning at 90 %), load ")
    assert result.details["cores"] >= 1


# --- database -------------------------------------------------------------------------------------


def test_database_round_trip_on_a_real_store(tmp_path: Path) -> None:
    store = Store(tmp_path)
    result = check_database_health(store, T)
    assert result.status in (H, D)  # D only if this machine's disk takes 50 ms to write
    assert result.unit == "ms" and result.value is not None and result.value > 0
    assert result.message.startswith(f"store write+read {result.value:.1f} ms (warning at 50 ms); last write ")
    assert "state.json " in result.message and "transcripts " in result.message
    assert Store(tmp_path).settings.get("health_probe") is not None  # really on disk, seen by another reader
    slow = check_database_health(store, Thresholds(db_write_warn_ms=0.001))
    assert slow.status is D


def test_database_check_without_a_store() -> None:
    assert check_database_health(None).status is C


# --- the supervisor: scheduler and events -----------------------------------------------------------


def test_scheduler_healthy_while_running_and_critical_after_stop(tmp_path: Path) -> None:
    settings = load_settings({"AI_COUNCIL_DATA_DIR": str(tmp_path), "AI_COUNCIL_BROADCAST": "off",
                              "AI_COUNCIL_TIMEZONE": "UTC"})
    supervisor = Supervisor(settings).start()
    try:
        wait_for(lambda: supervisor.last_tick is not None, what="the first tick")
        running = check_scheduler_health(supervisor, T)
        assert running.status is H, running.message
        assert running.message.startswith("loop alive, last tick ") and "jobs ok" in running.message
        assert running.value is not None and running.value < 120
    finally:
        supervisor.stop()
    stopped = check_scheduler_health(supervisor, T)
    assert stopped.status is C
    assert stopped.message.startswith("supervisor loop not running (role stopped, last tick ")


def test_a_failing_job_degrades_the_scheduler(supervisor: Supervisor) -> None:
    def broken() -> None:
        raise OSError("the disk went away")

    supervisor._guarded("flush", broken)
    result = check_scheduler_health(supervisor, T)
    assert result.status is D and "job flush failed 1 time(s) in a row: OSError: the disk went away" in result.message


def test_streaming_with_broadcast_off(supervisor: Supervisor) -> None:
    result = check_streaming_health(supervisor, T)
    assert (result.status, result.message) == (H, "broadcast off")


def test_event_ingestion_sees_a_dropped_event(supervisor: Supervisor) -> None:
    quiet = check_event_ingestion(supervisor, Thresholds(event_max_age_seconds=3600))
    assert quiet.status is H and quiet.message.startswith("inbox watcher alive; no event since start")
    inbox = supervisor.data_dir / "events" / "inbox"
    (inbox / "news.json").write_text(json.dumps({"topic": "Fusion power is here"}))
    (inbox / "broken.json").write_text("{not json")
    assert supervisor.inbox is not None
    inbox_state = supervisor.inbox
    wait_for(lambda: inbox_state.last_event_time is not None and inbox_state.rejected_count == 1,
             what="the event to be taken")
    result = check_event_ingestion(supervisor, Thresholds(event_max_age_seconds=3600))
    assert result.status is H and result.value is not None and result.value < 60
    assert "last event " in result.message and "(expected within 3600 s)" in result.message
    assert "1 accepted, 1 rejected" in result.message


def test_event_ingestion_after_stop(tmp_path: Path) -> None:
    settings = load_settings({"AI_COUNCIL_DATA_DIR": str(tmp_path), "AI_COUNCIL_BROADCAST": "off",
                              "AI_COUNCIL_TIMEZONE": "UTC"})
    supervisor = Supervisor(settings).start()
    supervisor.stop()
    result = check_event_ingestion(supervisor, T)
    assert result.status is U and "inbox watcher and loop not running" in result.message


def test_every_predefined_check_runs_against_a_live_supervisor(supervisor: Supervisor) -> None:
    bound = predefined_checks(supervisor, T)
    results = {name: check() for name, check in bound.items()}
    assert set(results) == set(PREDEFINED)
    assert all(isinstance(result, CheckResult) and result.message for result in results.values())
    assert results["scheduler"].status is H and results["database"].unit == "ms"
    assert results["api"].message == "no endpoints configured"


# --- api endpoints ------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    release = threading.Event()  # set at teardown so the hanging request ends

    def do_GET(self) -> None:  # the name http.server calls
        if self.path == "/hang":
            self.release.wait(10)
        code = 500 if self.path == "/fail" else 200
        try:
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        except (BrokenPipeError, ConnectionResetError):  # the hung request's client gave up long ago
            pass

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Handler.release.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        Handler.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting is refused, and no other process can take it meanwhile."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def test_api_endpoint_answering_200(server: str) -> None:
    result = check_api_endpoints([f"{server}/ok"], Thresholds(api_timeout_seconds=5, api_slow_ms=5000))
    assert result.status is H and re.fullmatch(rf"{server}/ok answered 200 in \d+ ms", result.message)
    assert result.unit == "ms" and result.value is not None and result.value > 0


def test_api_endpoints_500_hang_and_refused_are_named(server: str, closed_port: int) -> None:
    refused = f"http://127.0.0.1:{closed_port}/health"
    urls = [f"{server}/ok", f"{server}/fail", f"{server}/hang", refused]
    started = time.perf_counter()
    result = check_api_endpoints(urls, Thresholds(api_timeout_seconds=1))
    elapsed = time.perf_counter() - started
    assert result.status is U
    assert f"{server}/fail answered 500 in " in result.message
    assert f"{server}/hang timed out after 1 s" in result.message
    assert f"{refused} refused" in result.message
    assert result.message.endswith("refused; 1 other finding fine")  # problems only, the worst first
    assert elapsed < 4  # probed side by side: one timeout, not one per URL
    assert [e["code"] for e in result.details["endpoints"]] == [200, 500, None, None]


def test_a_slow_endpoint_is_degraded(server: str) -> None:
    result = check_api_endpoints([f"{server}/ok"], Thresholds(api_timeout_seconds=1, api_slow_ms=0.001))
    assert result.status is D and "(slow: over 0 ms)" in result.message


# --- speech and ffmpeg --------------------------------------------------------------------------------


def test_tts_synthesizes_a_phrase() -> None:
    result = check_tts_availability()
    if speech_engine() is None:
        assert (result.status, result.message) == (D, "no speech engine (espeak-ng not on PATH): a tone bed plays instead")
        return
    assert result.status is H, result.message
    assert "spoke 'Check.' in " in result.message and " s of audio)" in result.message
    assert result.unit == "ms" and result.value is not None and result.details["audio_seconds"] > 0.1


def test_ffmpeg_runs() -> None:
    result = check_ffmpeg()
    assert result.status is H and result.message.startswith("ffmpeg version ")
    assert result.unit == "ms" and result.value is not None


def test_missing_ffmpeg_is_critical_not_an_exception(tmp_path: Path) -> None:
    result = check_ffmpeg({"AI_COUNCIL_FFMPEG": str(tmp_path / "missing-ffmpeg")})
    assert result.status is C
    assert "AI_COUNCIL_FFMPEG must name an executable ffmpeg" in result.message


def test_an_ffmpeg_that_fails_is_critical(tmp_path: Path) -> None:
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'cannot load libx264' >&2\nexit 3\n")
    fake.chmod(0o755)
    result = check_ffmpeg({"AI_COUNCIL_FFMPEG": str(fake)})
    assert result.status is C and result.message == f"{fake} -version exited 3: cannot load libx264"
