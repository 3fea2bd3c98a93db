"""A dashboard beside the backend (the systemd layout: `python -m backend` owns the data directory,
the dashboard is a viewer): its destination changes reach the owner as commands, a typed key goes to
the key file and never into a command, and it shows the owner's live figures.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from backend import Supervisor
from backend.config import load_settings
from backend.destinations import StreamConfig, StreamPlatform, StreamQuality
from backend.errors import ConfigError
from backend.storage import Store
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
KEY = "viewer-typed-KEY-5e1f"


def environment(data: Path) -> dict[str, str]:
    return {"AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_X264_PRESET": "ultrafast",
            "AI_COUNCIL_TURN_SECONDS": "1", "AI_COUNCIL_TTS": "off", "AI_COUNCIL_BROADCAST": "on",
            "AI_COUNCIL_RECORDING_MIN_FREE_MB": "10"}


def stored(data: Path) -> list[dict]:
    return Store(data).destinations.all()


def test_a_viewer_adds_changes_and_removes_a_destination_that_the_owner_streams_to(tmp_path: Path, nginx) -> None:
    data = tmp_path / "data"
    owner = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env={**os.environ, **environment(data)},
                             stdout=subprocess.DEVNULL, stderr=(tmp_path / "owner.log").open("w"))
    wait_for(lambda: (data / "state.json").exists(), 20, "the backend to open its store")
    viewer = Supervisor(load_settings(environment(data))).start()
    commands: list[str] = []
    try:
        assert viewer.role == "viewer" and viewer.broadcast is None
        config = StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key=KEY, name="From the viewer",
                              rtmp_url=f"rtmp://127.0.0.1:{nginx.rtmp_port}/live", quality=StreamQuality.LOW)
        viewer.save_destination(config)
        commands += [p.read_text() for p in (data / "commands").glob("*") if p.is_file()]
        wait_for(lambda: [d["name"] for d in stored(data)] == ["From the viewer"], 20, "the owner to save it")
        [doc] = stored(data)
        assert doc["key_in_keystore"] and doc["stream_key"] == "" and KEY in (data / "keys.json").read_text()
        [shown] = viewer.stream_destinations()
        assert shown["stream_key"] == "**** (in the key file)" and shown["label"] == "Custom RTMP"

        # Bad input is refused in the viewer, by name, and nothing is queued.
        with pytest.raises(ConfigError, match="api_key must be a reference"):
            viewer.set_viewer_source(config.destination_id, {"kind": "youtube", "video_id": "abc123def45",
                                                             "api_key": "AIza-literal-secret"})
        with pytest.raises(ConfigError, match="stat_url"):
            viewer.set_viewer_source(config.destination_id, {"kind": "nginx-rtmp", "stat_url": "ftp://x/stat",
                                                             "application": "live"})
        with pytest.raises(ConfigError, match="no destination with id"):
            viewer.remove_destination("nope")
        viewer.set_viewer_source(config.destination_id, {"kind": "nginx-rtmp", "application": "live",
                                                         "stat_url": f"http://127.0.0.1:{nginx.http_port}/stat"})
        wait_for(lambda: (stored(data)[0].get("viewer_source") or {}).get("kind") == "nginx-rtmp", 20,
                 "the owner to store the viewer source")

        # A debate goes on air at the owner; the viewer sees its figures and the count of its player.
        viewer.run_now("Seen from the viewer")
        wait_for(lambda: nginx.publishing() == [KEY], 30, "the owner to publish with the typed key")
        wait_for(lambda: (viewer.stream_destinations()[0]["metrics"] or {}).get("status") == "live", 30,
                 "the viewer to see the destination live")
        metrics = viewer.stream_destinations()[0]["metrics"]
        assert metrics["bitrate_kbps"] and metrics["bytes_sent"] > 0

        viewer.set_destination_enabled(config.destination_id, False)
        wait_for(lambda: stored(data)[0]["enabled"] is False, 20, "the owner to disable it")
        wait_for(lambda: nginx.publishing() == [], 20, "the disabled destination to stop")
        viewer.remove_destination(config.destination_id)
        wait_for(lambda: stored(data) == [] and KEY not in (data / "keys.json").read_text(), 20,
                 "the owner to remove it with its key")
    finally:
        viewer.stop()
        owner.send_signal(signal.SIGTERM)
        code = owner.wait(30)
    errors = (tmp_path / "owner.log").read_text()
    assert code == 0, errors[-2000:]
    assert "refused" not in errors, errors[-2000:]
    assert all(KEY not in text for text in commands)
    leaks = [p for p in data.rglob("*") if p.is_file() and p.name != "keys.json" and p.suffix != ".ts"
             and KEY.encode() in p.read_bytes()]
    assert leaks == []
