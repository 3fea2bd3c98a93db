"""A debate run by the Supervisor goes live on a real RTMP receiver and is recorded and previewed."""

from __future__ import annotations

import time
from pathlib import Path

from backend import Supervisor
from backend.config import load_settings
from backend.destinations import StreamConfig, StreamPlatform, StreamQuality
from backend.storage import Store
from tests.integration.test_streaming import Receiver, ffmpeg_children, probe, wait_for


def settings(data_dir: Path):
    return load_settings({"AI_COUNCIL_DATA_DIR": str(data_dir), "AI_COUNCIL_TURN_SECONDS": "1",
                          "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_X264_PRESET": "ultrafast"})


def streamer_ffmpeg() -> list:
    return ffmpeg_children()  # running or unreaped, receivers excluded


def test_a_debate_goes_live_is_recorded_and_previewed_and_leaves_no_ffmpeg(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path, key="sk-SUPERVISOR-9876543210").start()
    supervisor = Supervisor(settings(tmp_path / "data")).start()
    try:
        config = receiver.config(quality=StreamQuality.LOW)
        supervisor.save_destination(config)
        debate = supervisor.run_now("Should the broadcast test pass?")
        destination_id = config.destination_id
        wait_for(lambda: supervisor.stream_statistics()["live_destinations"] == 1, 20, "live")
        wait_for(lambda: supervisor.preview_jpeg(), 15, "a preview picture")
        assert supervisor.preview_jpeg()[:2] == b"\xff\xd8"  # a JPEG
        wait_for(lambda: supervisor.sample_streams() and supervisor.store.flush() >= 0, 5, "a sample")
        wait_for(lambda: next(d for d in supervisor.debates() if d.debate_id == debate.debate_id).status.value
                 == "completed", 40, "the debate to finish")
        wait_for(lambda: not streamer_ffmpeg(), 15, "every ffmpeg to stop")
        receiver.process.wait(10)
        got = probe(receiver.files[0])
        assert got["size"] == (854, 480) and got["seconds"] >= 8, got
        recordings = supervisor.recordings()
        assert recordings and recordings[0].name.startswith(debate.debate_id)
        assert recordings[0].seconds is not None and recordings[0].seconds >= 8
        assert probe(supervisor.broadcast.recordings_dir / recordings[0].name)["seconds"] >= 8
        shown = supervisor.stream_destinations()
        assert shown[0]["destination_id"] == destination_id and "9876543210" not in repr(shown)
    finally:
        supervisor.stop()
        receiver.kill()
    stored = Store(tmp_path / "data")
    assert all("9876543210" not in repr(doc) for doc in stored.destinations.all())
    assert (tmp_path / "data" / "keys.json").stat().st_mode & 0o777 == 0o600
    assert stored.samples("streams", debate.scheduled_time.replace(year=2000), debate.scheduled_time.replace(year=2100))


def test_destinations_survive_a_restart_with_their_keys(tmp_path: Path) -> None:
    first = Supervisor(settings(tmp_path)).start()
    config = StreamConfig(platform=StreamPlatform.TWITCH, stream_key="live_123456789_abcdefghijkl")
    first.save_destination(config)
    first.stop()
    second = Supervisor(settings(tmp_path)).start()
    try:
        [loaded] = second.broadcast.destinations()
        assert loaded.destination_id == config.destination_id and loaded.stream_key == config.stream_key
    finally:
        second.stop()


def test_start_up_ends_the_ffmpeg_a_crashed_run_left_behind(tmp_path: Path) -> None:
    from backend import media

    owner = str((tmp_path / "data").resolve())
    leftover = media.spawn([media.ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                            "-i", "testsrc=s=64x64:r=5", "-t", "120", "-f", "null", "-"], owner)
    stranger = media.spawn([media.ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi",
                            "-i", "testsrc=s=64x64:r=5", "-t", "120", "-f", "null", "-"], "/some/other/dir")
    try:
        supervisor = Supervisor(settings(tmp_path / "data")).start()
        supervisor.stop()
        assert leftover.wait(5) is not None
        assert stranger.poll() is None  # another data directory's ffmpeg is not ours to end
    finally:
        for process in (leftover, stranger):
            process.kill()
            process.wait(5)


def test_sustained_slow_sending_steps_an_output_down_a_tier_and_only_it_restarts(tmp_path: Path) -> None:
    from datetime import timedelta

    from backend.broadcast import Broadcast
    from backend.streaming import StreamStatus
    from backend.timeutil import utc_now

    slow, steady = Receiver(tmp_path), Receiver(tmp_path)
    broadcast = Broadcast(tmp_path / "data", Store(None), {}, encode_preset="ultrafast")
    slow_config = slow.config(quality=StreamQuality.MEDIUM)
    steady_config = steady.config(quality=StreamQuality.LOW)
    for receiver, config in ((slow, slow_config), (steady, steady_config)):
        receiver.start()
        broadcast.save_destination(config)
    broadcast.streamer.start()
    try:
        destinations = broadcast.streamer.destinations
        wait_for(lambda: all(d.metrics.status is StreamStatus.LIVE for d in destinations.values()), 20, "live")
        steady_consumer = destinations[steady_config.destination_id].consumer
        now, changes = utc_now(), []
        for step in range(8):  # 40 s of measured send speed at 0.6x, compressed
            destinations[slow_config.destination_id].consumer.metrics.speed = 0.6
            changes += broadcast.adapt(now + timedelta(seconds=5 * step))
        assert [(c.old, c.new) for c in changes] == [(StreamQuality.MEDIUM, StreamQuality.LOW)]
        assert "0.60x" in changes[0].reason
        moved = destinations[slow_config.destination_id]
        assert moved.tier is StreamQuality.LOW and moved.public_doc()["streaming_quality"] == "low"
        assert moved.consumer in broadcast.streamer._encoders[StreamQuality.LOW].consumers
        assert destinations[steady_config.destination_id].consumer is steady_consumer  # untouched
    finally:
        broadcast.stop()
        slow.kill()
        steady.kill()


def test_a_nearly_full_disk_skips_the_recording_and_says_why(tmp_path: Path) -> None:
    from backend.broadcast import Broadcast
    from backend.models import ScheduledDebate
    from backend.timeutil import utc_now

    said = []
    broadcast = Broadcast(tmp_path, Store(None), {}, min_free_mb=10**9,  # more than any disk has
                          on_problem=lambda condition, message: said.append((condition, message)))
    debate = ScheduledDebate(debate_id="debate_20261203T100000_abcdef12", scheduled_time=utc_now(), topic="Disk")
    assert broadcast._recording_path(debate) is None
    assert said and said[0][0] == "disk_full" and "MB free" in said[0][1]


def test_old_recordings_are_pruned_and_new_ones_kept(tmp_path: Path) -> None:
    import os

    from backend.broadcast import Broadcast
    from backend.timeutil import utc_now

    broadcast = Broadcast(tmp_path, Store(None), {})
    broadcast.recordings_dir.mkdir(parents=True)
    old, new = broadcast.recordings_dir / "old-00000.ts", broadcast.recordings_dir / "new-00000.ts"
    for path in (old, new):
        path.write_bytes(b"\x47" * 188)
    os.utime(old, (time.time() - 40 * 86400, time.time() - 40 * 86400))
    assert broadcast.prune_recordings(utc_now(), keep_days=30) == 1
    assert [r.name for r in broadcast.recordings()] == ["new-00000.ts"]


def test_a_download_name_cannot_reach_outside_the_recordings(tmp_path: Path) -> None:
    import pytest

    from backend.broadcast import Broadcast
    from backend.errors import ConfigError

    broadcast = Broadcast(tmp_path, Store(None), {})
    (tmp_path / "keys.json").write_text("{}")
    for name in ("../keys.json", "/etc/passwd", "..", "a/../../keys.json", "x.ts\n"):
        with pytest.raises(ConfigError, match="no recording named"):
            broadcast.recording_path(name)


def test_slate_mode_stays_live_between_debates_and_records_only_the_debates(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path).start()
    env = {"AI_COUNCIL_DATA_DIR": str(tmp_path / "data"), "AI_COUNCIL_TURN_SECONDS": "0.5",
           "AI_COUNCIL_TIMEZONE": "UTC", "AI_COUNCIL_X264_PRESET": "ultrafast", "AI_COUNCIL_BETWEEN_DEBATES": "slate"}
    first = Supervisor(load_settings(env)).start()
    first.save_destination(receiver.config(quality=StreamQuality.LOW))
    first.stop()  # destinations are loaded at start: the slate goes live from start-up on
    supervisor = Supervisor(load_settings(env)).start()
    try:
        wait_for(lambda: supervisor.stream_statistics()["live_destinations"] == 1, 20, "live before any debate")
        slate = (tmp_path / "data" / "scene" / "words.txt").read_text()
        assert slate.startswith("Next debate at ") and "(UTC)" in slate
        assert supervisor.stream_statistics()["recording"] is None
        debate = supervisor.run_now("Does a slate need a debate?")
        wait_for(lambda: supervisor.stream_statistics()["recording"], 15, "recording the debate")
        wait_for(lambda: next(d for d in supervisor.debates() if d.debate_id == debate.debate_id).status.value
                 == "completed", 40, "the debate to finish")
        wait_for(lambda: supervisor.stream_statistics()["recording"] is None, 15, "the recording to end")
        assert supervisor.stream_statistics()["live_destinations"] == 1  # still on air
        assert supervisor.recordings()[0].name.startswith(debate.debate_id)
    finally:
        supervisor.stop()
        receiver.kill()
