"""Viewer sources over real sockets: a local HTTP server playing the APIs' recorded answers, and a real nginx-rtmp.

YouTube and Twitch cannot be reached from here, so their clients are checked against a server on
127.0.0.1 that answers with the documented response shapes and records what the client sent.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from backend.media import ffmpeg_binary
from backend.viewers import (
    MediaMTXPaths,
    NginxRtmpStats,
    TwitchHelixViewers,
    ViewerReading,
    ViewerSource,
    YouTubeLiveViewers,
)
from tests.integration.test_streaming import free_port, wait_for
from tests.integration.test_streaming_nginx import NginxRtmp
from tests.unit.test_viewers import (
    MEDIAMTX_NOT_FOUND,
    MEDIAMTX_READY,
    MTX_PASSWORD,
    NGINX_STAT,
    TWITCH_LIVE,
    TWITCH_TOKEN,
    TWITCH_UNAUTHORIZED,
    VIDEO_ID,
    YOUTUBE_LIVE,
    YOUTUBE_QUOTA,
    YT_KEY,
)

HANG = (0, b"")  # a route that accepts the request and never answers
CLIENT_ID = "gp762nuuoqcoxypju8c569th9wz7q5"


class FakeApi(ThreadingHTTPServer):
    """Answers GETs by path from ``routes`` and remembers each request's target and headers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # frees hanging handlers at teardown

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeApi

    def do_GET(self) -> None:
        self.server.requests.append((self.path, dict(self.headers)))
        status, body = self.server.routes.get(urlsplit(self.path).path, (404, b'{"error":"no route"}'))
        if (status, body) == HANG:
            self.server.release.wait(10)
            return
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", self.server.url + "/elsewhere")
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def answer(doc: object) -> bytes:
    return json.dumps(doc).encode()


def youtube(server: str, timeout: float = 5) -> YouTubeLiveViewers:
    return YouTubeLiveViewers(VIDEO_ID, YT_KEY, base_url=f"{server}/youtube/v3", timeout=timeout)


def twitch(server: str, timeout: float = 5) -> TwitchHelixViewers:
    return TwitchHelixViewers("CouncilCast", CLIENT_ID, TWITCH_TOKEN, base_url=f"{server}/helix", timeout=timeout)


def mediamtx(server: str, timeout: float = 5) -> MediaMTXPaths:
    return MediaMTXPaths(server, "live/abc", timeout=timeout, username="viewer", password=MTX_PASSWORD)


def nginx_stat(server: str, timeout: float = 5) -> NginxRtmpStats:
    return NginxRtmpStats(f"{server}/stat", "live", "abc", timeout=timeout)


# (make the client, the path it asks for, what a garbled answer looks like to it)
CLIENTS: dict[str, tuple[Callable[..., ViewerSource], str, str]] = {
    "youtube": (youtube, "/youtube/v3/videos", "not valid JSON"),
    "twitch": (twitch, "/helix/streams", "not valid JSON"),
    "mediamtx": (mediamtx, "/v3/paths/get/live/abc", "not valid JSON"),
    "nginx-rtmp": (nginx_stat, "/stat", "not valid XML"),
}
SECRETS = (YT_KEY, TWITCH_TOKEN, MTX_PASSWORD)


def read(make: Callable[..., ViewerSource], server: str, **options: float) -> ViewerReading:
    reading = make(server, **options).read()
    assert not any(secret in reading.detail for secret in SECRETS), reading
    return reading


# --- the requests each client sends, and the answers it reads ---------------------------------


def test_youtube_asks_for_live_streaming_details_with_its_key(api: FakeApi) -> None:
    api.routes["/youtube/v3/videos"] = (200, answer(YOUTUBE_LIVE))
    assert read(youtube, api.url).viewers == 1250
    target, _headers = api.requests[-1]
    assert urlsplit(target).path == "/youtube/v3/videos"
    assert parse_qs(urlsplit(target).query) == {"part": ["liveStreamingDetails"], "id": [VIDEO_ID], "key": [YT_KEY]}


def test_youtube_error_answer(api: FakeApi) -> None:
    api.routes["/youtube/v3/videos"] = (403, answer(YOUTUBE_QUOTA))
    reading = read(youtube, api.url)
    assert reading.viewers is None and reading.detail.startswith("HTTP 403: The request cannot be completed")


def test_twitch_sends_client_id_and_bearer_token(api: FakeApi) -> None:
    api.routes["/helix/streams"] = (200, answer(TWITCH_LIVE))
    assert read(twitch, api.url).viewers == 78365
    target, headers = api.requests[-1]
    assert parse_qs(urlsplit(target).query) == {"user_login": ["councilcast"]}
    assert headers["Client-Id"] == CLIENT_ID
    assert headers["Authorization"] == f"Bearer {TWITCH_TOKEN}"


def test_twitch_unauthorized_answer(api: FakeApi) -> None:
    api.routes["/helix/streams"] = (401, answer(TWITCH_UNAUTHORIZED))
    assert read(twitch, api.url) == ViewerReading(None, "twitch", "HTTP 401: Invalid OAuth token")


def test_mediamtx_sends_basic_auth_and_reads_readers(api: FakeApi) -> None:
    api.routes["/v3/paths/get/live/abc"] = (200, answer(MEDIAMTX_READY))
    assert read(mediamtx, api.url).viewers == 3
    _target, headers = api.requests[-1]
    assert headers["Authorization"] == "Basic dmlld2VyOmxlYWsgcGFzcy13b3JkIQ=="  # viewer:leak pass-word!


def test_mediamtx_missing_path(api: FakeApi) -> None:
    api.routes["/v3/paths/get/live/abc"] = (404, answer(MEDIAMTX_NOT_FOUND))
    reading = read(mediamtx, api.url)
    assert reading.viewers is None and "path not found" in reading.detail


def test_nginx_stat_page_over_http(api: FakeApi) -> None:
    api.routes["/stat"] = (200, NGINX_STAT)
    assert read(nginx_stat, api.url).viewers == 2


# --- failures every client turns into an unknown reading ------------------------------------


@pytest.mark.parametrize("kind", CLIENTS)
def test_server_error_is_unknown(api: FakeApi, kind: str) -> None:
    make, path, _garbled = CLIENTS[kind]
    api.routes[path] = (500, b"<html>boom</html>")
    assert read(make, api.url) == ViewerReading(None, kind, "HTTP 500: Internal Server Error")


@pytest.mark.parametrize("kind", CLIENTS)
def test_garbled_answer_is_unknown(api: FakeApi, kind: str) -> None:
    make, path, garbled = CLIENTS[kind]
    api.routes[path] = (200, b'{"data": [ truncated')
    reading = read(make, api.url)
    assert reading.viewers is None and garbled in reading.detail


@pytest.mark.parametrize("kind", CLIENTS)
def test_hanging_server_is_unknown_after_the_timeout(api: FakeApi, kind: str) -> None:
    make, path, _garbled = CLIENTS[kind]
    api.routes[path] = HANG
    started = time.monotonic()
    reading = read(make, api.url, timeout=1)
    assert reading.viewers is None and "did not answer within 1 s" in reading.detail
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("kind", CLIENTS)
def test_redirects_are_not_followed(api: FakeApi, kind: str) -> None:
    # urllib would carry the Authorization header (a token, a password) along to the new address.
    make, path, _garbled = CLIENTS[kind]
    api.routes[path] = (302, b"")
    reading = read(make, api.url)
    assert reading.viewers is None and "HTTP 302" in reading.detail
    assert [urlsplit(target).path for target, _ in api.requests] == [path]


@pytest.mark.parametrize("kind", CLIENTS)
def test_nothing_listening_is_unknown(kind: str) -> None:
    make, _path, _garbled = CLIENTS[kind]
    reading = read(make, f"http://127.0.0.1:{free_port()}")
    assert reading.viewers is None and "could not reach 127.0.0.1:" in reading.detail


# --- a real nginx-rtmp with real players ----------------------------------------------------


def _ffmpeg(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([ffmpeg_binary(), "-hide_banner", "-loglevel", "error", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait(5)


def _reads(source: NginxRtmpStats, viewers: int | None, words: str) -> Callable[[], bool]:
    return lambda: (reading := source.read()).viewers == viewers and words in reading.detail


def test_nginx_rtmp_counts_real_players(nginx: NginxRtmp) -> None:
    source = NginxRtmpStats(f"http://127.0.0.1:{nginx.http_port}/stat", "live", "abc", timeout=2)
    assert _reads(source, None, "stream not found")()
    ingest = f"rtmp://127.0.0.1:{nginx.rtmp_port}/live"
    started: list[subprocess.Popen[bytes]] = []
    try:
        publisher = _ffmpeg("-re", "-f", "lavfi", "-i", "testsrc=s=160x90:r=10", "-t", "60", "-c:v", "libx264",
                            "-preset", "ultrafast", "-g", "20", "-rtmp_playpath", "abc", "-f", "flv", ingest)
        started.append(publisher)
        wait_for(_reads(source, 0, "0 players on live/****"), 15, "the publisher alone")
        players = [_ffmpeg("-i", f"{ingest}/abc", "-f", "null", "-") for _ in range(2)]
        started += players
        wait_for(_reads(source, 2, "2 players on live/****"), 15, "two players")
        _stop(players[0])
        wait_for(_reads(source, 1, "1 player on live/****"), 10, "one player")
        _stop(publisher)
        # nginx keeps the stream while a player still waits on it: no publisher is not a count.
        wait_for(_reads(source, None, "not publishing (1 player waiting"), 10, "the publisher gone")
        _stop(players[1])
        wait_for(_reads(source, None, "stream not found"), 10, "the stream gone")
    finally:
        for process in started:
            _stop(process)


def test_nginx_rtmp_unknown_application_and_stopped_server(tmp_path: Path) -> None:
    server = NginxRtmp(tmp_path / "nginx")
    try:
        source = NginxRtmpStats(f"http://127.0.0.1:{server.http_port}/stat", "other", "abc", timeout=2)
        assert _reads(source, None, "stream not found")()
    finally:
        server.stop()
    assert _reads(source, None, "could not reach")()
