"""Faults while on air: kill -9 of the backend during a live debate, then a restart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

from backend import StreamQuality, Supervisor
from backend.config import load_settings
from backend.debates import DemoCouncil
from backend.media import OWNER_VARIABLE
from backend.models import ScheduleConfig
from backend.scheduler import CONFIG_KEY
from backend.storage import Store
from tests.conftest import wait_for
from tests.integration.test_streaming import Receiver

ROOT = Path(__file__).resolve().parents[2]


def env_for(data: Path) -> dict[str, str]:
    return {"AI_COUNCIL_DATA_DIR": str(data), "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_X264_PRESET": "ultrafast",
            "AI_COUNCIL_TURN_SECONDS": "5", "MONITORING_INTERVAL": "60"}


def owned_ffmpeg(data: Path) -> list[psutil.Process]:
    """Every ffmpeg started for this data directory, whoever its parent is now."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "ffmpeg" in (process.info["name"] or "") and process.environ().get(OWNER_VARIABLE) == str(data):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def debate(data: Path, topic: str) -> dict | None:
    return next((d for d in Store(data).debates.all() if d["topic"] == topic), None)


def test_kill_9_while_live_then_a_restart_ends_the_orphans_keeps_state_and_goes_on(tmp_path: Path) -> None:
    data = tmp_path / "data"
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    receiver = Receiver(tmp_path, key="fault-key").start()
    setup = Supervisor(load_settings(env_for(data))).start()
    setup.save_destination(receiver.config(quality=StreamQuality.LOW))
    setup.stop()

    owner = subprocess.Popen([sys.executable, "-m", "backend"], cwd=ROOT, env={**os.environ, **env_for(data)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: any(f.path.endswith("owner.lock") for f in psutil.Process(owner.pid).open_files()), 30,
                 "the backend process to own the directory")
        viewer = Supervisor(load_settings(env_for(data))).start()
        assert viewer.role == "viewer"
        viewer.run_now("Killed while live")
        viewer.stop()
        wait_for(lambda: (debate(data, "Killed while live") or {}).get("status") == "running", 30, "the debate on air")
        wait_for(lambda: len(owned_ffmpeg(data)) >= 2, 30, "the encoder and the output to run")
        orphans = owned_ffmpeg(data)  # in sessions of their own: a kill -9 of the backend does not reach them
    finally:
        owner.kill()  # kill -9: no clean-up of any kind
        owner.wait(10)

    restarted = Supervisor(load_settings({**env_for(data), "AI_COUNCIL_TURN_SECONDS": "0"}),
                           runner=DemoCouncil(turn_seconds=0.2, rounds=1)).start()
    try:
        assert restarted.role == "owner"
        # Each ends: on the end of its input pipe, or killed by the restart (media.end_leftovers).
        wait_for(lambda: not any(_alive(p) for p in orphans), 20, "the orphaned ffmpeg processes to end")
        killed = debate(data, "Killed while live")
        assert killed["status"] == "interrupted"
        assert [d["name"] for d in Store(data).destinations.all()] == [f"receiver {receiver.port}"]  # state intact
        restarted.run_now("Life goes on")
        wait_for(lambda: (debate(data, "Life goes on") or {}).get("status") == "completed", 30, "the next debate")
    finally:
        restarted.stop()
        receiver.kill()
    assert not [p for p in owned_ffmpeg(data) if _alive(p)]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_without_an_ffmpeg_debates_still_run_and_an_alert_says_why(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AI_COUNCIL_FFMPEG", str(tmp_path / "no-such-ffmpeg"))
    data = tmp_path / "data"
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    supervisor = Supervisor(load_settings({**env_for(data), "MONITORING_INTERVAL": "1"}),
                            runner=DemoCouncil(turn_seconds=0.1, rounds=1)).start()
    try:
        supervisor.run_now("No ffmpeg on this machine")
        wait_for(lambda: (debate(data, "No ffmpeg on this machine") or {}).get("status") == "completed", 30,
                 "the debate to complete without video")
        alert = wait_for(lambda: next((a for a in supervisor.alerts() if a["condition"] == "go_live"), None), 10,
                         "the go-live alert")
        assert alert["component"] == "streaming" and "runs without video or recording" in alert["message"]
        assert "AI_COUNCIL_FFMPEG must name an executable ffmpeg" in alert["message"]
        critical = wait_for(lambda: next((a for a in supervisor.alerts() if a["component"] == "ffmpeg"), None), 15,
                            "the ffmpeg check's alert")
        assert critical["severity"] == "critical"
        assert supervisor.alive
    finally:
        supervisor.stop()
