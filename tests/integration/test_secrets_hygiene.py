"""Secrets stay secret, proven: stream with distinctive keys, a notifier URL with a token and an LLM
key, let things fail (a dead destination, a dead notifier), then search every log line, every file
of the data directory but the two secret files, every export, /metrics and every page's elements.
Each secret must appear nowhere."""

from __future__ import annotations

import logging
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from backend import StreamConfig, StreamPlatform, StreamQuality, Supervisor
from backend.config import load_settings
from backend.debates import DemoCouncil
from backend.notify import NotifierConfig
from tests.conftest import wait_for
from tests.integration.test_streaming import Receiver, free_port

LIVE_KEY = "live_SeKr3tAlpha7731xyz"
DEAD_KEY = "live_SeKr3tBravo5512qrs"
NOTIFY_TOKEN = "NoTiFyT0kenCharlie9"
LLM_KEY = "sk-LlmKeyDelta4471"
SECRETS = (LIVE_KEY, DEAD_KEY, NOTIFY_TOKEN, LLM_KEY)
SECRET_FILES = {"keys.json", "notifiers.json"}  # 0600 files whose job is to hold them
PAGES = ("views/overview.py", "views/schedule.py", "views/streams.py", "views/analytics.py", "views/health.py",
         "views/settings.py")


class Everything(logging.Handler):
    """Every log record of every logger, formatted as a handler would write it (tracebacks too)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Everything]:
    handler, root = Everything(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def hits(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_no_secret_appears_in_logs_files_exports_metrics_or_pages(tmp_path: Path, logs: Everything,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    data, port = tmp_path / "data", free_port()
    env = {"AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TIMEZONE": "UTC", "MONITORING_INTERVAL": "1",
           "AI_COUNCIL_X264_PRESET": "ultrafast", "AI_COUNCIL_METRICS_PORT": str(port),
           "AI_COUNCIL_LLM_API_KEY": LLM_KEY, "AI_COUNCIL_BETWEEN_DEBATES": "stop"}
    receiver = Receiver(tmp_path, key=LIVE_KEY).start()
    supervisor = Supervisor(load_settings(env), runner=DemoCouncil(turn_seconds=0.8, rounds=2)).start()
    found: dict[str, list[str]] = {}
    try:
        supervisor.save_destination(receiver.config(quality=StreamQuality.LOW))
        supervisor.save_destination(StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, name="nobody home",
                                                 stream_key=DEAD_KEY, rtmp_url=f"rtmp://127.0.0.1:{free_port()}/live",
                                                 quality=StreamQuality.LOW))
        supervisor.save_notifier(NotifierConfig("ops", "Ops"), f"json://127.0.0.1:{free_port()}/hook/{NOTIFY_TOKEN}")
        supervisor.run_now("Secrets stay secret")
        wait_for(lambda: any(d.topic == "Secrets stay secret" and d.status.value == "completed"
                             for d in supervisor.debates()), 60, "the debate to finish")
        supervisor.raise_alert("store", "corrupt_file", "critical", "a file was unreadable")  # to be told
        wait_for(lambda: any(a["component"] == "notify" for a in supervisor.alerts()), 30,
                 "the dead notifier's own alert (a failed delivery, with its reason)")
        assert any("nobody home" in d["name"] and d["metrics"]["last_error"] for d in supervisor.stream_destinations())
        supervisor.collect_debates()
        supervisor.sample_system()
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        found["/metrics"] = hits(metrics)
        reports = [supervisor.analytics.export_report(tmp_path / "exports" / f"report{suffix}", 1)
                   for suffix in (".json", ".html", ".csv")]
        for path in [p for made in reports for p in (made if isinstance(made, list) else [made])]:
            found[f"export {path.name}"] = hits(path.read_text())
        found["page data: destinations"] = hits(repr(supervisor.stream_destinations()))
        found["page data: notifiers"] = hits(repr(supervisor.notifier_rows()) + repr(supervisor.deliveries()))
        found["page data: alerts"] = hits(repr(supervisor.book.history()) + repr(supervisor.book.notices()))
        found["settings repr"] = hits(repr(supervisor.settings))
    finally:
        supervisor.stop()
        receiver.kill()

    # The pages, as a person opens them (a new app on the same directory, streaming on).
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AI_COUNCIL_METRICS_PORT", "0")
    st.cache_resource.clear()
    try:
        at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=60)
        at.run()
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, at.exception
            shown = repr([(node.type, getattr(node, "value", None), getattr(node, "label", None),
                           getattr(node, "proto", None)) for node in at.main] + [at.sidebar])
            found[f"page {page}"] = hits(shown)
    finally:
        st.cache_resource.clear()

    for path in sorted(data.rglob("*")):
        if path.is_file() and path.name not in SECRET_FILES:
            found[f"file {path.relative_to(data)}"] = hits(path.read_bytes().decode("utf-8", "replace"))
    found["log lines"] = hits("\n".join(logs.lines))
    assert len(logs.lines) > 20 and len(found) > 20  # the search really looked at things

    leaks = {where: secrets for where, secrets in found.items() if secrets}
    assert not leaks, f"secrets found: {leaks}"
    # ...and the secret files do hold them (the search would have found them there).
    assert LIVE_KEY in (data / "keys.json").read_text() and NOTIFY_TOKEN in (data / "notifiers.json").read_text()
