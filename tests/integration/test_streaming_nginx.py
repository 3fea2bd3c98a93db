"""Streaming to nginx with its RTMP module, a real ingest server on 127.0.0.1 (installed by scripts/test.sh)."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from backend import media
from backend.destinations import StreamConfig, StreamPlatform
from backend.streaming import MultiPlatformStreamer, StreamStatus
from tests.integration.test_streaming import TINY, free_port, wait_for

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class NginxRtmp:
    """nginx in the foreground with an RTMP application "live" and its statistics page."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.rtmp_port, self.http_port = folder, free_port(), free_port()
        (folder / "logs").mkdir(parents=True)
        (folder / "nginx.conf").write_text(f"""
load_module {MODULE};
daemon off;
master_process off;
pid {folder}/nginx.pid;
error_log {folder}/logs/error.log info;
events {{ worker_connections 64; }}
rtmp {{ server {{ listen 127.0.0.1:{self.rtmp_port}; application live {{ live on; record off; }} }} }}
http {{
  access_log off;
  client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy; fastcgi_temp_path {folder}/fcgi;
  uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;
  server {{ listen 127.0.0.1:{self.http_port}; location /stat {{ rtmp_stat all; }} }}
}}
""")
        self.process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(self._answers, 10, "nginx to answer")

    def _answers(self) -> bool:
        try:
            return bool(self.stat())
        except OSError:
            assert self.process.poll() is None, self.process.stderr.read().decode()
            return False

    def stat(self) -> ElementTree.Element:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/stat", timeout=5) as response:
            return ElementTree.fromstring(response.read())

    def publishing(self) -> list[str]:
        return [stream.findtext("name") or "" for stream in self.stat().iter("stream")
                if stream.find("publishing") is not None]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def streamer(tmp_path: Path):
    made = MultiPlatformStreamer(scene_dir=tmp_path / "scene", tier_override=TINY, stall_seconds=4,
                                 connect_timeout=8, retry_base=0.5, retry_cap=2)
    yield made
    made.stop()


def config(server: NginxRtmp, key: str) -> StreamConfig:
    return StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key=key,
                        rtmp_url=f"rtmp://127.0.0.1:{server.rtmp_port}/live")


def test_a_key_full_of_url_characters_reaches_the_server_exactly_as_typed(nginx, streamer) -> None:
    key = "k|ey [with] spaces:and=quotes'"
    destination = streamer.add_destination(config(nginx, key))
    streamer.start()
    wait_for(lambda: destination.metrics.status is StreamStatus.LIVE, 15, "live on nginx")
    assert wait_for(lambda: nginx.publishing() == [key], 10, "nginx to list the stream")


def test_already_publishing_is_reported_in_words(nginx, streamer) -> None:
    squatter = subprocess.Popen(
        [media.ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
         "testsrc=s=160x90:r=10", "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "20",
         "-rtmp_playpath", "taken", "-f", "flv", f"rtmp://127.0.0.1:{nginx.rtmp_port}/live"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: nginx.publishing() == ["taken"], 15, "the first publisher")
        destination = streamer.add_destination(config(nginx, "taken"))
        streamer.start()
        errors = wait_for(lambda: destination.metrics.recent_errors, 15, "an error")
        log = (nginx.folder / "logs" / "error.log").read_text()
        assert any("already publishing" in error.lower() for error in errors), (errors, log[-2000:])
        assert destination.metrics.status is not StreamStatus.LIVE
    finally:
        squatter.kill()
        squatter.wait(5)
    time.sleep(0.5)


def test_a_session_limit_makes_the_output_republish_and_come_back(nginx, tmp_path) -> None:
    from backend.streaming import Consumer, OutputPolicy

    streamer = MultiPlatformStreamer(scene_dir=tmp_path / "scene2", tier_override=TINY)
    streamer._policy = streamer._policy.replace(max_session_seconds=3.0)  # a platform limit, compressed
    destination = streamer.add_destination(config(nginx, "limited"))
    try:
        streamer.start()
        wait_for(lambda: destination.metrics.status is StreamStatus.LIVE, 15, "live")
        wait_for(lambda: destination.metrics.reconnects >= 1, 15, "a planned re-publish")
        wait_for(lambda: destination.metrics.status is StreamStatus.LIVE, 15, "live again")
        # Each re-publish now unpublishes cleanly first, so nginx may be between two sessions for a moment.
        assert wait_for(lambda: nginx.publishing() == ["limited"], 10, "nginx to list the stream again")
        assert isinstance(destination.consumer, Consumer) and isinstance(destination.consumer.policy, OutputPolicy)
    finally:
        streamer.stop()


def test_stopping_ends_every_output_cleanly_by_the_end_of_its_input_not_by_a_kill(nginx, streamer, tmp_path) -> None:
    destination = streamer.add_destination(config(nginx, "ending"))
    streamer.start(recording_path=tmp_path / "recording")
    wait_for(lambda: destination.metrics.status is StreamStatus.LIVE, 15, "live on nginx")
    recorder = streamer._recorder[1]
    wait_for(lambda: recorder.metrics.status is StreamStatus.LIVE, 15, "recording")
    outputs = [destination.consumer._process, recorder._process]
    streamer.stop()
    # Exit code 0: ffmpeg saw the end of its input, wrote its trailer and unpublished (-9 was a kill
    # after a 3 s grace, when an ffmpeg blocked on a quiet pipe ignored SIGTERM).
    assert [process.returncode for process in outputs] == [0, 0]
    assert wait_for(lambda: nginx.publishing() == [], 10, "nginx to see the stream end")
    assert streamer.ffmpeg_pids() == []


def test_adding_a_destination_while_live_touches_no_other_output(nginx, streamer) -> None:
    first = streamer.add_destination(config(nginx, "first"))
    streamer.start()
    wait_for(lambda: first.metrics.status is StreamStatus.LIVE, 15, "first live")
    pid = first.consumer.pid
    second = streamer.add_destination(config(nginx, "second"))
    wait_for(lambda: second.metrics.status is StreamStatus.LIVE, 15, "second live")
    streamer.remove_destination(second.destination_id)
    assert first.consumer.pid == pid and first.metrics.reconnects == 0
    assert wait_for(lambda: nginx.publishing() == ["first"], 10, "only the first left")


def test_viewer_counts_come_from_the_servers_statistics_and_secrets_are_never_stored(nginx, tmp_path) -> None:
    from backend.broadcast import Broadcast
    from backend.errors import ConfigError
    from backend.storage import Store

    store = Store(tmp_path / "data")
    broadcast = Broadcast(tmp_path / "data", store, {"YT_KEY": "AIza-SECRET-123456"}, encode_preset="ultrafast")
    broadcast.streamer._tier_override = TINY
    destination = broadcast.save_destination(config(nginx, "watched"))
    stat_url = f"http://127.0.0.1:{nginx.http_port}/stat"
    # No stream named: nginx lists the stream under the key it was published with, the destination's own.
    broadcast.set_viewer_source(destination.destination_id,
                                {"kind": "nginx-rtmp", "stat_url": stat_url, "application": "live"})
    with pytest.raises(ConfigError, match="api_key must be a reference"):
        broadcast.set_viewer_source(destination.destination_id,
                                    {"kind": "youtube", "video_id": "abc123def45", "api_key": "AIza-SECRET-123456"})
    players = []
    broadcast.streamer.start()
    try:
        live = broadcast.streamer.destinations[destination.destination_id]
        wait_for(lambda: live.metrics.status is StreamStatus.LIVE, 15, "live")
        players = [subprocess.Popen([media.ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-i",
                                     f"rtmp://127.0.0.1:{nginx.rtmp_port}/live/watched", "-f", "null", "-"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for _ in range(2)]

        def counted() -> bool:
            broadcast.refresh_viewers()
            time.sleep(0.3)
            return live.metrics.viewers == 2

        wait_for(counted, 20, "two viewers counted")
        assert "2" in broadcast.viewer_readings[destination.destination_id].detail
        rtt = broadcast.rtt_ms[destination.destination_id]
        assert rtt is not None and 0 < rtt < 1000  # the ingest host's round trip, measured
    finally:
        for player in players:
            player.kill()
            player.wait(5)
        broadcast.stop()
    assert "AIza-SECRET" not in (tmp_path / "data" / "state.json").read_text()
