"""Faults while on air: kill -9 of the backend during a live debate and a restart; no ffmpeg; a full
recordings disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from backend import StreamQuality, Supervisor
from backend.config import load_settings
from backend.debates import DemoCouncil
from backend.destinations import StreamConfig, StreamPlatform
from backend.media import OWNER_VARIABLE
from backend.models import ScheduleConfig
from backend.scheduler import CONFIG_KEY
from backend.storage import Store
from tests.conftest import wait_for
from backend.streaming import StreamStatus
from tests.integration.test_streaming import Receiver, probe

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


# --- a full recordings disk: a real small file system (tmpfs, mounted as root) -----------------------


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 6 MB tmpfs; skipped where mounting is not allowed (CI runs as root and mounts it)."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here (needs root): {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(disk: Path, leave_mb: float) -> Path:
    """Write a filler so that about ``leave_mb`` stays free."""
    filler = disk / "filler.bin"
    free = shutil.disk_usage(disk).free
    filler.write_bytes(b"\0" * max(0, free - int(leave_mb * 2**20)))
    return filler


def test_a_full_recordings_disk_stops_the_recording_not_the_broadcast(tmp_path: Path, small_disk: Path, nginx) -> None:
    data = tmp_path / "data"
    (data / "recordings").parent.mkdir(parents=True)
    (data / "recordings").symlink_to(small_disk)  # the recordings on a disk of their own, as on a server
    filler = fill(small_disk, leave_mb=4)
    Store(data).settings.set(CONFIG_KEY, ScheduleConfig(schedule_type="cron", cron_expression="0 3 1 1 *").to_doc())
    settings = load_settings({**env_for(data), "AI_COUNCIL_RECORDING_MIN_FREE_MB": "3", "AI_COUNCIL_TTS": "off"})
    supervisor = Supervisor(settings, runner=DemoCouncil(turn_seconds=1.5, rounds=3)).start()
    try:
        saved = supervisor.save_destination(StreamConfig(
            platform=StreamPlatform.CUSTOM_RTMP, stream_key="full-disk", name="nginx",
            rtmp_url=f"rtmp://127.0.0.1:{nginx.rtmp_port}/live", quality=StreamQuality.LOW))
        supervisor.run_now("Recorded until the disk filled")
        outputs = supervisor.broadcast.streamer.destinations
        wait_for(lambda: outputs[saved.destination_id].metrics.status is StreamStatus.LIVE, 20, "live on nginx")
        alert = wait_for(lambda: next((a for a in supervisor.alerts() if a["condition"] == "disk_full"), None), 30,
                         "the recording to stop on the full disk")
        assert alert["component"] == "recording" and "stopped" in alert["message"]
        assert "MB free on the recordings disk, below the 3 MB guard; the destinations stay on air" in alert["message"]
        sent = outputs[saved.destination_id].metrics.bytes_sent
        wait_for(lambda: outputs[saved.destination_id].metrics.bytes_sent > sent + 100_000, 10, "the stream to go on")
        assert nginx.publishing() == ["full-disk"]
        wait_for(lambda: (debate(data, "Recorded until the disk filled") or {}).get("status") == "completed", 60,
                 "the debate to complete")
        segments = sorted(small_disk.glob("*.ts"))
        assert segments and all(segment.stat().st_size > 0 for segment in segments)  # no empty retries
        assert probe(segments[0])["decode_errors"] == ""  # ended cleanly, before the disk ran out
        assert shutil.disk_usage(small_disk).free > 2**20  # the guard stopped it (checked every 5 s) with room left

        filler.unlink()  # space again (as retention would make it): the next debate records and the alert ends
        supervisor.run_now("Recorded again")
        wait_for(lambda: not any(a["condition"] == "disk_full" for a in supervisor.alerts()), 20, "the alert to resolve")
        assert supervisor.alive
    finally:
        supervisor.stop()


def test_a_recorder_that_hits_a_full_disk_says_so_and_leaves_no_empty_segments(tmp_path: Path, small_disk: Path,
                                                                                nginx) -> None:
    from backend.streaming import MultiPlatformStreamer

    fill(small_disk, leave_mb=1.5)
    streamer = MultiPlatformStreamer(scene_dir=tmp_path / "scene", encode_preset="ultrafast")
    destination = streamer.add_destination(StreamConfig(
        platform=StreamPlatform.CUSTOM_RTMP, stream_key="enospc", rtmp_url=f"rtmp://127.0.0.1:{nginx.rtmp_port}/live",
        quality=StreamQuality.LOW))
    streamer.start(recording_path=small_disk / "debate")  # no guard but the 1 MiB floor: ffmpeg meets ENOSPC
    try:
        recorder = streamer._recorder[1]
        wait_for(lambda: any("the disk is full: " in error for error in recorder.metrics.recent_errors), 30,
                 "ffmpeg's 'No space left on device', in words")
        wait_for(lambda: any("not recording: " in e and "MB free on the recordings disk" in e
                             for e in recorder.metrics.recent_errors), 15, "the restart refused for want of space")
        assert destination.metrics.status is StreamStatus.LIVE and nginx.publishing() == ["enospc"]
        assert [p.name for p in small_disk.glob("*.ts")] == ["debate-00000.ts"]  # no empty segment per retry
        assert streamer.recording_space_problem() is not None
    finally:
        streamer.stop()
