"""Streaming for real: ffmpeg encodes once, outputs publish to ffmpeg RTMP receivers on 127.0.0.1."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from backend import media
from backend.destinations import StreamConfig, StreamPlatform, StreamQuality
from backend.streaming import MultiPlatformStreamer, StreamStatus
from backend.timeutil import posix_tz
from tests.conftest import wait_for

FFMPEG = media.ffmpeg_binary()
TINY = media.EncodeSettings(width=320, height=180, fps=15, video_kbps=300, audio_kbps=64, preset="ultrafast")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    """An RTMP server on 127.0.0.1 (ffmpeg in listen mode) that saves what it receives."""

    def __init__(self, folder: Path, key: str = "test-key", port: int | None = None) -> None:
        self.port = port or free_port()
        self.key = key
        self.folder = folder
        self.files: list[Path] = []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "Receiver":
        target = self.folder / f"received-{self.port}-{len(self.files)}.ts"
        self.files.append(target)
        self.process = subprocess.Popen(
            [FFMPEG, "-hide_banner", "-loglevel", "error", "-listen", "1", "-timeout", "30",
             "-i", f"rtmp://127.0.0.1:{self.port}/live/{self.key}", "-c", "copy", "-f", "mpegts", "-y", str(target)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        RECEIVER_PIDS.add(self.process.pid)
        wait_for(lambda: self._listening(), 10, "the receiver to listen")
        return self

    def _listening(self) -> bool:
        # Not a test connection: an ffmpeg in listen mode serves exactly one client.
        if self.process.poll() is not None:
            raise AssertionError(f"the receiver exited: {self.process.stderr.read().decode()}")
        connections = psutil.Process(self.process.pid).net_connections(kind="tcp")
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in connections)

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def config(self, **changes) -> StreamConfig:
        return StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key=self.key,
                            rtmp_url=f"rtmp://127.0.0.1:{self.port}/live", name=f"receiver {self.port}", **changes)




def probe(path: Path) -> dict:
    """Decode a whole file; return its video size, media seconds, video pts gaps and bitrate."""
    result = subprocess.run([FFMPEG, "-hide_banner", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "framecrc",
                             "-"], capture_output=True, text=True, timeout=60)
    size = re.search(r"Video: h264.*?, (\d+)x(\d+)", result.stderr)
    audio = re.search(r"Audio: aac.*?(\d+) Hz", result.stderr)
    pts = [int(line.split(",")[2]) for line in result.stdout.splitlines() if line and not line.startswith("#")]
    steps = [b - a for a, b in zip(pts, pts[1:])]
    seconds = (pts[-1] - pts[0]) / 90_000 if len(pts) > 1 else 0.0
    decoded = subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-i", str(path), "-f", "null", "-"],
                             capture_output=True, text=True, timeout=120)
    return {
        "size": (int(size.group(1)), int(size.group(2))) if size else None,
        "audio_hz": int(audio.group(1)) if audio else None,
        "seconds": seconds,
        "max_gap": max(steps, default=0) / 90_000,
        "kbps": path.stat().st_size * 8 / 1000 / seconds if seconds else 0.0,
        "decode_errors": decoded.stderr.strip(),
    }


RECEIVER_PIDS: set[int] = set()


def ffmpeg_children() -> list[psutil.Process]:
    """The streamer's ffmpeg processes still around (running or unreaped); receivers excluded."""
    return [p for p in psutil.Process().children(recursive=True)
            if p.pid not in RECEIVER_PIDS and "ffmpeg" in p.name()]


@pytest.fixture
def streamer(tmp_path: Path):
    made = MultiPlatformStreamer(scene_dir=tmp_path / "scene", tier_override=TINY, stall_seconds=4,
                                 connect_timeout=8, retry_base=0.5, retry_cap=2)
    made.scene.show(title="Integration test", speaker="Ada", words="Testing, one two three.")
    yield made
    made.stop()


@pytest.fixture
def receivers(tmp_path: Path):
    made: list[Receiver] = []
    yield lambda **kw: made.append(Receiver(tmp_path, **kw).start()) or made[-1]
    for receiver in made:
        receiver.kill()


def live(streamer: MultiPlatformStreamer, destination_id: str) -> bool:
    return streamer.destinations[destination_id].metrics.status is StreamStatus.LIVE


def test_one_destination_goes_live_and_receives_decodable_video_and_audio(streamer, receivers) -> None:
    receiver = receivers()
    destination = streamer.add_destination(receiver.config())
    started = time.monotonic()
    streamer.start()
    wait_for(lambda: live(streamer, destination.destination_id), 15, "live")
    time_to_live = time.monotonic() - started
    time.sleep(5)
    stats = streamer.get_statistics()
    assert stats["live_destinations"] == 1 and stats["total_viewers"] is None  # unknown, not 0
    assert stats["average_bitrate_kbps"] and stats["bytes_sent"] > 50_000
    streamer.stop()
    receiver.process.wait(10)
    got = probe(receiver.files[0])
    assert got["size"] == (320, 180) and got["audio_hz"] == 48000
    assert got["seconds"] >= 4 and got["max_gap"] < 0.5
    assert 150 < got["kbps"] < 600, got  # 300 kbps video + 64 kbps audio, about
    assert time_to_live < 10
    assert not ffmpeg_children()


def test_five_destinations_and_a_recording_all_receive_and_stop_leaves_no_ffmpeg(streamer, receivers, tmp_path) -> None:
    group = [receivers() for _ in range(5)]
    ids = [streamer.add_destination(r.config()).destination_id for r in group]
    streamer.start(recording_path=tmp_path / "recordings" / "debate.mp4")
    wait_for(lambda: all(live(streamer, i) for i in ids), 20, "all five live")
    time.sleep(4)
    assert streamer.get_statistics()["live_destinations"] == 5
    streamer.stop()
    assert not ffmpeg_children()
    for receiver in group:
        receiver.process.wait(10)
        got = probe(receiver.files[0])
        assert got["size"] == (320, 180) and got["seconds"] >= 3 and got["max_gap"] < 0.5, got
    segments = streamer.recorder.files()
    assert segments and probe(segments[0])["seconds"] >= 3


def test_a_killed_receiver_is_live_again_after_it_returns_and_the_others_never_pause(streamer, receivers) -> None:
    steady, flaky = receivers(), receivers()
    steady_id = streamer.add_destination(steady.config()).destination_id
    flaky_id = streamer.add_destination(flaky.config()).destination_id
    streamer.start()
    wait_for(lambda: live(streamer, steady_id) and live(streamer, flaky_id), 15, "both live")
    time.sleep(2)
    flaky.kill()
    wait_for(lambda: not live(streamer, flaky_id), 15, "the flaky output to notice")
    time.sleep(2)
    flaky.start()  # same port, same key
    back = time.monotonic()
    wait_for(lambda: live(streamer, flaky_id), 15, "the flaky output to be live again")
    assert time.monotonic() - back < 8
    assert streamer.destinations[flaky_id].metrics.reconnects >= 1
    time.sleep(2)
    streamer.stop()
    steady.process.wait(10)
    got = probe(steady.files[0])
    assert got["max_gap"] < 0.5 and got["seconds"] >= 6, got


def test_a_stalled_receiver_stalls_neither_the_others_nor_the_recording(streamer, receivers, tmp_path) -> None:
    steady, stuck = receivers(), receivers()
    steady_id = streamer.add_destination(steady.config()).destination_id
    stuck_id = streamer.add_destination(stuck.config()).destination_id
    streamer.start(recording_path=tmp_path / "rec" / "debate")
    wait_for(lambda: live(streamer, steady_id) and live(streamer, stuck_id), 15, "both live")
    os.kill(stuck.process.pid, signal.SIGSTOP)
    try:
        time.sleep(8)
        assert live(streamer, steady_id)
    finally:
        os.kill(stuck.process.pid, signal.SIGCONT)
    streamer.stop()
    steady.process.wait(10)
    got = probe(steady.files[0])
    assert got["max_gap"] < 0.5 and got["seconds"] >= 6, got  # 8 s stalled next door, no pause here
    recording = probe(streamer.recorder.files()[0])
    assert recording["max_gap"] < 0.5 and recording["seconds"] >= 6, recording


def test_a_stalled_output_is_detected_restarted_and_live_again(streamer, receivers) -> None:
    steady, other = receivers(), receivers()
    steady_id = streamer.add_destination(steady.config()).destination_id
    stuck = streamer.add_destination(other.config())
    streamer.start()
    wait_for(lambda: live(streamer, steady_id) and live(streamer, stuck.destination_id), 15, "both live")
    frozen = stuck.consumer.pid
    os.kill(frozen, signal.SIGSTOP)  # the output's ffmpeg stops making progress
    error = wait_for(lambda: not live(streamer, stuck.destination_id) and stuck.metrics.last_error, 15, "stall")
    assert "stalled" in error
    assert not psutil.pid_exists(frozen) or psutil.Process(frozen).status() == psutil.STATUS_ZOMBIE
    other.kill()
    other.start()  # the old connection died with the frozen process; a listen-mode receiver serves one
    wait_for(lambda: live(streamer, stuck.destination_id), 20, "live again")
    assert live(streamer, steady_id) and stuck.metrics.dropped_chunks > 0


def test_a_refused_connection_is_reported_in_words_with_the_key_masked(streamer) -> None:
    config = StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key="sk-DISTINCT-0123456789",
                          rtmp_url=f"rtmp://127.0.0.1:{free_port()}/live", quality=StreamQuality.LOW)
    destination = streamer.add_destination(config)
    streamer.start()
    error = wait_for(lambda: destination.metrics.last_error, 15, "an error")
    assert "refused" in error
    assert "sk-DISTINCT-0123456789" not in repr(destination.public_doc())
    assert destination.metrics.status in (StreamStatus.RECONNECTING, StreamStatus.CONNECTING)


def test_after_repeated_failures_of_the_primary_the_backup_url_is_used(streamer, receivers) -> None:
    backup = receivers()
    config = backup.config(backup_rtmp_url=f"rtmp://127.0.0.1:{backup.port}/live")
    config = config.replace(rtmp_url=f"rtmp://127.0.0.1:{free_port()}/live")  # nothing listens there
    destination = streamer.add_destination(config)
    streamer.start()
    wait_for(lambda: live(streamer, destination.destination_id), 30, "live on the backup")
    assert destination.metrics.using_backup and destination.metrics.reconnects >= 3
    assert any("refused" in error for error in destination.metrics.recent_errors)


def test_srt_destination_receives_the_stream(streamer, tmp_path: Path) -> None:
    port = free_port()
    target = tmp_path / "srt.ts"
    listener = subprocess.Popen([FFMPEG, "-hide_banner", "-loglevel", "error", "-i",
                                 f"srt://127.0.0.1:{port}?mode=listener&streamid=abc", "-c", "copy", "-f", "mpegts",
                                 "-y", str(target)], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    RECEIVER_PIDS.add(listener.pid)
    try:
        wait_for(lambda: any(c.laddr.port == port for c in psutil.Process(listener.pid).net_connections("udp")),
                 10, "the SRT listener to bind")
        config = StreamConfig(platform=StreamPlatform.SRT, stream_key="abc", rtmp_url=f"srt://127.0.0.1:{port}")
        destination = streamer.add_destination(config)
        streamer.start()
        wait_for(lambda: live(streamer, destination.destination_id), 20,
                 f"live over SRT ({destination.metrics.recent_errors})")
        time.sleep(4)
        streamer.stop()
        listener.wait(15)
        got = probe(target)
        assert got["size"] == (320, 180) and got["seconds"] >= 2, got
    finally:
        listener.kill()
        listener.wait(5)


def test_the_local_preview_destination_needs_no_account_and_shows_the_preview(tmp_path: Path) -> None:
    made = MultiPlatformStreamer(scene_dir=tmp_path / "scene", tier_override=TINY,
                                 preview_path=tmp_path / "preview" / "preview.jpg")
    preview = made.add_destination(StreamConfig(platform=StreamPlatform.LOCAL_PREVIEW))
    try:
        made.start()
        wait_for(lambda: preview.metrics.status is StreamStatus.LIVE, 20, "the preview to run")
        wait_for(lambda: (tmp_path / "preview" / "preview.jpg").exists(), 15, "a picture")
        assert made.get_statistics()["live_destinations"] == 1
    finally:
        made.stop()
    assert not ffmpeg_children()


def test_each_turn_is_spoken_into_the_broadcast_when_espeak_ng_is_present(tmp_path: Path) -> None:
    from backend import speech

    engine = speech.speech_engine({})
    if engine is None:
        pytest.fail("espeak-ng is needed; scripts/test.sh installs it (apt-get, as root)")
    feed = speech.AudioFeed()
    made = MultiPlatformStreamer(scene_dir=tmp_path / "scene", tier_override=TINY, audio=feed)
    made.start(recording_path=tmp_path / "rec" / "debate")
    try:
        wait_for(lambda: made.get_statistics()["recording"]["status"] == "live", 15, "recording")
        time.sleep(2)
        speech.Speaker(engine, feed).say("Ada", "I support the motion: the evidence points to gains for all.")
        time.sleep(6)
    finally:
        made.stop()
    segment = made.recorder.files()[0]

    def loudness(start: float) -> float:
        result = subprocess.run([FFMPEG, "-hide_banner", "-ss", str(start), "-t", "1", "-i", str(segment), "-map",
                                 "0:a", "-af", "volumedetect", "-f", "null", "-"], capture_output=True, text=True)
        return float(re.search(r"mean_volume: (-?[\d.]+) dB", result.stderr).group(1))

    levels = [loudness(second) for second in range(0, int(probe(segment)["seconds"]))]
    assert min(levels[:2]) < -60 and max(levels) > -40, levels  # silence first, then the voice


def _frame(text: str, tz: str | None) -> bytes:
    """One grey frame with ``text`` drawn by the bundled ffmpeg, started the way encoders are."""
    font = media.font_file({})
    draw = f"drawtext=text='{text}':fontsize=20:fontcolor=white" + (f":fontfile={font}" if font else "")
    process = media.spawn([media.ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                           "color=size=320x60:rate=1", "-frames:v", "1", "-vf", draw, "-f", "rawvideo",
                           "-pix_fmt", "gray", "-"], tz=tz)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0 and len(out) == 320 * 60
    return out


def test_the_scene_clock_shows_the_schedules_zone_whatever_the_machines(tmp_path: Path) -> None:
    # ffmpeg formats the epoch in the TZ it was started with: Kolkata's rule is UTC + 5:30.
    kolkata = posix_tz("Asia/Kolkata")
    assert _frame(r"%{pts\:localtime\:0}", kolkata) == _frame(r"%{pts\:gmtime\:19800}", None)
    assert _frame(r"%{pts\:localtime\:0}", "UTC0") != _frame(r"%{pts\:localtime\:0}", kolkata)

    # The streamer starts its encoder with the zone it is told, read when the encoder starts.
    made = MultiPlatformStreamer(scene_dir=tmp_path / "scene", tier_override=TINY, clock_zone=lambda: "Asia/Kolkata",
                                 preview_path=tmp_path / "preview" / "preview.jpg")
    made.add_destination(StreamConfig(platform=StreamPlatform.LOCAL_PREVIEW))
    try:
        made.start()
        wait_for(lambda: [p for p in ffmpeg_children() if "lavfi" in p.cmdline()], 20, "the encoder")
        [encoder] = [p for p in ffmpeg_children() if "lavfi" in p.cmdline()]
        assert encoder.environ().get("TZ") == "IST-5:30"
    finally:
        made.stop()
