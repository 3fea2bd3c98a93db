"""Viewer counts read from recorded answers of nginx-rtmp, MediaMTX, YouTube and Twitch; secrecy; the registry.

The JSON samples follow the documented response shapes of YouTube Data API v3 ``videos.list``
(part=liveStreamingDetails), Twitch Helix ``Get Streams`` and MediaMTX's API v3 ``paths/get``. The
nginx XML was captured from nginx 1.22.1 / nginx-rtmp 1.1.4 with one publisher and two ffmpeg players.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from backend.destinations import PLATFORM_PRESETS
from backend.errors import ConfigError
from backend.viewers import (
    FROM_DESTINATION,
    VIEWER_SOURCES,
    MediaMTXPaths,
    NginxRtmpStats,
    TwitchHelixViewers,
    ViewerReading,
    YouTubeLiveViewers,
    masked_name,
    source_doc_from_form,
    source_fields,
    source_from_doc,
)

YT_KEY = "AIzaSyD-LEAK-k3y-0123456789abcdefghijk"
TWITCH_TOKEN = "leak0token0abcdefghijklmnopqrs"
MTX_PASSWORD = "leak pass-word!"
VIDEO_ID = "Xk4DqPjS8vE"

YOUTUBE_LIVE = {
    "kind": "youtube#videoListResponse",
    "etag": "pDhoJb6kSZ4o7UpKYPvZ7g2Y0bE",
    "items": [{
        "kind": "youtube#video",
        "etag": "G9Kq3x1q5nbSW6FjJ0y2b3wzM7k",
        "id": VIDEO_ID,
        "liveStreamingDetails": {
            "actualStartTime": "2026-06-15T18:00:04Z",
            "scheduledStartTime": "2026-06-15T18:00:00Z",
            "concurrentViewers": "1250",
            "activeLiveChatId": "Cg0KC1hrNERxUGpTOHZFKicKGFVDb2xkX0V4YW1wbGVfQ2hhbm5lbBILWGs0RHFQalM4dkU",
        },
    }],
    "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
}
YOUTUBE_ENDED = {
    "kind": "youtube#videoListResponse",
    "etag": "qJ4bU0VtqE3WmR1x9kNn7fB6cXo",
    "items": [{
        "kind": "youtube#video",
        "etag": "c1nV0mWZg8xk4p3FZQ2bD7hYy5s",
        "id": VIDEO_ID,
        "liveStreamingDetails": {
            "actualStartTime": "2026-06-14T18:00:04Z",
            "actualEndTime": "2026-06-14T19:02:41Z",
            "scheduledStartTime": "2026-06-14T18:00:00Z",
        },
    }],
    "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
}
YOUTUBE_UPCOMING = {
    "kind": "youtube#videoListResponse",
    "etag": "mYb3dE2k0xq9V5pL1nRk8cT7wZs",
    "items": [{"kind": "youtube#video", "etag": "s8Lq2v", "id": VIDEO_ID,
               "liveStreamingDetails": {"scheduledStartTime": "2026-06-16T18:00:00Z"}}],
    "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
}
YOUTUBE_LIVE_NO_COUNT = {
    "kind": "youtube#videoListResponse",
    "etag": "aH1p0q",
    "items": [{"kind": "youtube#video", "etag": "b9Xk2", "id": VIDEO_ID,
               "liveStreamingDetails": {"actualStartTime": "2026-06-15T18:00:04Z",
                                        "scheduledStartTime": "2026-06-15T18:00:00Z",
                                        "activeLiveChatId": "Cg0KC1hrNERxUGpTOHZF"}}],
    "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
}
YOUTUBE_NOT_LIVE_VIDEO = {
    "kind": "youtube#videoListResponse",
    "etag": "z0Yq1w",
    "items": [{"kind": "youtube#video", "etag": "k2Lm3n", "id": VIDEO_ID}],
    "pageInfo": {"totalResults": 1, "resultsPerPage": 1},
}
YOUTUBE_NOT_FOUND = {
    "kind": "youtube#videoListResponse",
    "etag": "YIUPVpqNjppyCWOZfL-19bLb7uk",
    "items": [],
    "pageInfo": {"totalResults": 0, "resultsPerPage": 0},
}
YOUTUBE_QUOTA = {
    "error": {
        "code": 403,
        "message": "The request cannot be completed because you have exceeded your "
                   "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
        "errors": [{"message": "The request cannot be completed because you have exceeded your "
                               "<a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
                    "domain": "youtube.quota", "reason": "quotaExceeded"}],
    }
}
# Not a recorded answer: the documented error shape with the key echoed, to prove it is masked.
YOUTUBE_KEY_ECHO = {
    "error": {
        "code": 400,
        "message": f"API key not valid. Please pass a valid API key. (key={YT_KEY})",
        "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global",
                    "reason": "badRequest"}],
        "status": "INVALID_ARGUMENT",
    }
}

TWITCH_LIVE = {
    "data": [{
        "id": "40952121085", "user_id": "101051819", "user_login": "councilcast", "user_name": "CouncilCast",
        "game_id": "509658", "game_name": "Just Chatting", "type": "live",
        "title": "AI council debates: should cities ban cars?", "tags": ["English", "Debate"],
        "viewer_count": 78365, "started_at": "2026-06-15T18:00:05Z", "language": "en",
        "thumbnail_url": "https://static-cdn.jtvnw.net/previews-ttv/live_user_councilcast-{width}x{height}.jpg",
        "tag_ids": [], "is_mature": False,
    }],
    "pagination": {},
}
TWITCH_OFFLINE: dict[str, Any] = {"data": [], "pagination": {}}
TWITCH_UNAUTHORIZED = {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}

MEDIAMTX_READY = {
    "name": "live/abc", "confName": "all_others",
    "source": {"type": "rtmpConn", "id": "6c3a1f0e-2b7d-4e1a-9d55-0f3c8e9b1a42"},
    "ready": True, "readyTime": "2026-06-15T18:00:04.512345678Z",
    "tracks": ["H264", "MPEG-4 Audio"], "bytesReceived": 5843271, "bytesSent": 11204982,
    "readers": [{"type": "rtspSession", "id": "9b1f2c4e-1d2a-4c3b-8e5f-6a7b8c9d0e1f"},
                {"type": "webRTCSession", "id": "0a1b2c3d-4e5f-6789-abcd-ef0123456789"},
                {"type": "hlsMuxer", "id": ""}],
}
MEDIAMTX_NOT_READY: dict[str, Any] = {
    "name": "live/abc", "confName": "live/abc", "source": None, "ready": False, "readyTime": None,
    "tracks": [], "bytesReceived": 0, "bytesSent": 0, "readers": [],
}
MEDIAMTX_NOT_FOUND = {"error": "path not found"}

NGINX_STAT = b"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<nginx_rtmp_version>1.1.4</nginx_rtmp_version>
<built>Feb 13 2023 11:56:56</built>
<pid>2887</pid>
<uptime>6</uptime>
<naccepted>3</naccepted>
<bw_in>0</bw_in>
<bytes_in>52680</bytes_in>
<bw_out>0</bw_out>
<bytes_out>36411</bytes_out>
<server>
<application>
<name>live</name>
<live>
<stream>
<name>abc</name>
<time>5809</time><bw_in>0</bw_in>
<bytes_in>50914</bytes_in>
<bw_out>0</bw_out>
<bytes_out>33850</bytes_out>
<bw_audio>0</bw_audio>
<bw_video>0</bw_video>
<client><id>4</id><address>127.0.0.1</address><time>3985</time><flashver>LNX 9,0,124,2</flashver><dropped>0</dropped><avsync>-5900</avsync><timestamp>5900</timestamp><active/></client>
<client><id>3</id><address>127.0.0.1</address><time>3987</time><flashver>LNX 9,0,124,2</flashver><dropped>0</dropped><avsync>-5900</avsync><timestamp>5900</timestamp><active/></client>
<client><id>2</id><address>127.0.0.1</address><time>5989</time><flashver>FMLE/3.0 (compatible; Lavf63.1.</flashver><dropped>0</dropped><avsync>-5900</avsync><timestamp>5900</timestamp><publishing/><active/></client>
<meta><video><width>160</width><height>84</height><frame_rate>10</frame_rate><codec>H264</codec><profile></profile><compat>0</compat><level>1.0</level></video><audio></audio></meta>
<nclients>3</nclients>
<publishing/>
<active/>
</stream>
<nclients>3</nclients>
</live>
</application>
</server>
</rtmp>
"""
NGINX_STAT_EMPTY = b"""<?xml version="1.0" encoding="utf-8" ?>
<rtmp>
<nginx_version>1.22.1</nginx_version>
<nginx_rtmp_version>1.1.4</nginx_rtmp_version>
<server>
<application>
<name>live</name>
<live>
<nclients>0</nclients>
</live>
</application>
</server>
</rtmp>
"""
NGINX_STAT_NO_PUBLISHER = NGINX_STAT.replace(b"<publishing/>", b"").replace(
    b"<nclients>3</nclients>", b"<nclients>2</nclients>")


def body(doc: object) -> bytes:
    return json.dumps(doc).encode()


def youtube() -> YouTubeLiveViewers:
    return YouTubeLiveViewers(VIDEO_ID, YT_KEY)


def twitch() -> TwitchHelixViewers:
    return TwitchHelixViewers("CouncilCast", "gp762nuuoqcoxypju8c569th9wz7q5", TWITCH_TOKEN)


def mediamtx(**changes: object) -> MediaMTXPaths:
    return MediaMTXPaths(**{"api_url": "http://127.0.0.1:9997", "path": "live/abc", "username": "viewer",  # type: ignore[arg-type]
                            "password": MTX_PASSWORD, **changes})


def nginx(stream: str = "abc") -> NginxRtmpStats:
    return NginxRtmpStats("http://127.0.0.1:8080/stat", "live", stream)


def assert_unknown(reading: ViewerReading, *words: str) -> None:
    assert reading.viewers is None, reading
    for word in words:
        assert word in reading.detail, reading


# --- YouTube -------------------------------------------------------------------------------------


def test_youtube_live_concurrent_viewers_string_is_the_count() -> None:
    reading = youtube().interpret(200, body(YOUTUBE_LIVE))
    assert reading == ViewerReading(1250, "youtube", reading.detail)
    assert "1250" in reading.detail


@pytest.mark.parametrize(("doc", "words"), [
    (YOUTUBE_ENDED, ("ended",)),
    (YOUTUBE_UPCOMING, ("not live yet",)),
    (YOUTUBE_LIVE_NO_COUNT, ("no viewer count",)),
    (YOUTUBE_NOT_LIVE_VIDEO, ("not a live stream",)),
    (YOUTUBE_NOT_FOUND, ("video not found",)),
])
def test_youtube_without_concurrent_viewers_is_unknown_never_zero(doc: dict, words: tuple[str, ...]) -> None:
    assert_unknown(youtube().interpret(200, body(doc)), *words)


def test_youtube_error_body_gives_status_and_message() -> None:
    reading = youtube().interpret(403, body(YOUTUBE_QUOTA))
    assert_unknown(reading, "HTTP 403: The request cannot be completed", "quota")


def test_youtube_echoed_api_key_is_masked() -> None:
    reading = youtube().interpret(400, body(YOUTUBE_KEY_ECHO))
    assert_unknown(reading, "HTTP 400: API key not valid", "AIza****hijk")
    assert YT_KEY not in reading.detail


@pytest.mark.parametrize("raw", [b"<html>oops</html>", b"", b"[]", body({"items": "x"}),
                                 body({"items": [{"liveStreamingDetails": {"actualStartTime": "t",
                                                                           "concurrentViewers": "many"}}]}),
                                 body({"items": [{"liveStreamingDetails": {"concurrentViewers": "-3"}}]})])
def test_youtube_odd_answers_are_unknown(raw: bytes) -> None:
    assert_unknown(youtube().interpret(200, raw))


# --- Twitch --------------------------------------------------------------------------------------


def test_twitch_live_viewer_count() -> None:
    reading = twitch().interpret(200, body(TWITCH_LIVE))
    assert (reading.viewers, reading.source) == (78365, "twitch")
    assert "78365" in reading.detail


def test_twitch_offline_channel_is_unknown() -> None:
    assert_unknown(twitch().interpret(200, body(TWITCH_OFFLINE)), "channel is offline")


def test_twitch_unauthorized() -> None:
    reading = twitch().interpret(401, body(TWITCH_UNAUTHORIZED))
    assert_unknown(reading, "HTTP 401: Invalid OAuth token")


@pytest.mark.parametrize("stream", [{"type": "", "viewer_count": 0}, {"type": "live", "viewer_count": True},
                                    {"type": "live", "viewer_count": -1}, {"type": "live"}, "live"])
def test_twitch_odd_streams_are_unknown(stream: object) -> None:
    assert_unknown(twitch().interpret(200, body({"data": [stream], "pagination": {}})))


# --- MediaMTX ------------------------------------------------------------------------------------


def test_mediamtx_ready_path_counts_its_readers() -> None:
    reading = mediamtx().interpret(200, body(MEDIAMTX_READY))
    assert (reading.viewers, reading.source) == (3, "mediamtx")
    assert "3 readers" in reading.detail


def test_mediamtx_not_ready_and_missing_paths_are_unknown() -> None:
    assert_unknown(mediamtx().interpret(200, body(MEDIAMTX_NOT_READY)), "not publishing")
    assert_unknown(mediamtx().interpret(404, body(MEDIAMTX_NOT_FOUND)), "path not found")
    assert_unknown(mediamtx().interpret(401, b""), "HTTP 401: Unauthorized")
    assert_unknown(mediamtx().interpret(200, body({"name": "live/abc", "readers": []})), "ready")


# --- nginx-rtmp ----------------------------------------------------------------------------------


def test_nginx_counts_players_not_the_publisher() -> None:
    reading = nginx().interpret(200, NGINX_STAT)
    assert reading == ViewerReading(2, "nginx-rtmp", "2 players on live/****")


def test_nginx_absent_stream_or_application_is_unknown() -> None:
    assert_unknown(nginx().interpret(200, NGINX_STAT_EMPTY), "stream not found")
    assert_unknown(nginx("other").interpret(200, NGINX_STAT), "stream not found")
    other_app = NginxRtmpStats("http://127.0.0.1:8080/stat", "app", "abc")
    assert_unknown(other_app.interpret(200, NGINX_STAT), "stream not found")


def test_nginx_stream_without_publisher_is_not_live() -> None:
    assert_unknown(nginx().interpret(200, NGINX_STAT_NO_PUBLISHER), "not publishing", "2 players waiting")


@pytest.mark.parametrize(("status", "raw", "words"), [
    (200, b"<rtmp><server>", "not valid XML"),
    (200, b"<html><body>hello</body></html>", "not an nginx-rtmp stat page"),
    (403, b"<html>Forbidden</html>", "HTTP 403: Forbidden"),
    (200, NGINX_STAT.replace(b"<nclients>3</nclients>\n<publishing/>", b"<nclients>x</nclients>\n<publishing/>"),
     "nclients"),
])
def test_nginx_odd_pages_are_unknown(status: int, raw: bytes, words: str) -> None:
    assert_unknown(nginx().interpret(status, raw), words)


def test_a_stream_name_is_shown_masked_because_it_is_usually_the_stream_key() -> None:
    key = "live_123456789_AbCdEfGhIj"
    reading = nginx(key).interpret(200, NGINX_STAT.replace(b"<name>abc</name>", f"<name>{key}</name>".encode()))
    assert reading.viewers == 2 and key not in reading.detail and "live/live****GhIj" in reading.detail
    assert key not in repr(nginx(key))
    assert masked_name("live/abc") == "live/****" and masked_name("abc") == "****"


# --- secrets -------------------------------------------------------------------------------------


def test_reprs_never_show_secrets() -> None:
    for source, secret in ((youtube(), YT_KEY), (twitch(), TWITCH_TOKEN), (mediamtx(), MTX_PASSWORD)):
        assert secret not in repr(source)
        assert "****" in repr(source)
    assert "gp762nuuoqcoxypju8c569th9wz7q5" in repr(twitch())  # a client id is public


def test_details_never_show_secrets_whatever_the_server_echoes() -> None:
    echo = {"error": {"code": 500, "message": f"{YT_KEY} {TWITCH_TOKEN} {MTX_PASSWORD}"}}
    for source, secret in ((youtube(), YT_KEY), (twitch(), TWITCH_TOKEN), (mediamtx(), MTX_PASSWORD)):
        detail = source.interpret(500, body(echo)).detail
        assert detail.startswith("HTTP 500: ") and secret not in detail


@pytest.mark.parametrize(("make", "secret"), [
    (lambda: YouTubeLiveViewers(VIDEO_ID, "AIza with-a-space-LEAKED"), "LEAKED"),
    (lambda: TwitchHelixViewers("councilcast", "client", "tok\nLEAKED"), "LEAKED"),
    (lambda: MediaMTXPaths("http://127.0.0.1:9997", "live/abc", username="u", password="pw\x00LEAKED"), "LEAKED"),
    (lambda: NginxRtmpStats("http://127.0.0.1/stat", "live", "key with LEAKED"), "LEAKED"),
    (lambda: MediaMTXPaths("http://viewer:LEAKED@127.0.0.1:9997", "live/abc"), "LEAKED"),
])
def test_bad_secret_values_are_refused_without_being_quoted(make: object, secret: str) -> None:
    with pytest.raises(ConfigError) as caught:
        make()  # type: ignore[operator]
    assert secret not in str(caught.value)


@pytest.mark.parametrize(("make", "words"), [
    (lambda: YouTubeLiveViewers("https://youtu.be/Xk4DqPjS8vE", YT_KEY), "video id alone"),
    (lambda: TwitchHelixViewers("council cast", "client", TWITCH_TOKEN), "user_login"),
    (lambda: NginxRtmpStats("rtmp://127.0.0.1/live", "live", "abc"), "http:// or https://"),
    (lambda: NginxRtmpStats("http://127.0.0.1/stat", "live", "abc", timeout=0), "timeout"),
    (lambda: MediaMTXPaths("http://127.0.0.1:9997", "live//abc"), "empty segment"),
    (lambda: MediaMTXPaths("http://127.0.0.1:9997", "live/abc", username="u"), "go together"),
])
def test_bad_arguments_are_config_errors_in_words(make: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        make()  # type: ignore[operator]


# --- the registry --------------------------------------------------------------------------------


def test_registry_names_match_the_platform_presets() -> None:
    assert set(VIEWER_SOURCES) == {"nginx-rtmp", "mediamtx", "youtube", "twitch"}
    for preset in PLATFORM_PRESETS.values():
        assert preset.viewer_source is None or preset.viewer_source in VIEWER_SOURCES
    for name, factory in VIEWER_SOURCES.items():
        assert factory.name == name  # type: ignore[attr-defined]


def test_source_from_doc_builds_each_kind() -> None:
    docs: dict[str, dict[str, Any]] = {
        "nginx-rtmp": {"stat_url": "http://127.0.0.1:8080/stat", "application": "live", "stream": "abc"},
        "mediamtx": {"api_url": "http://127.0.0.1:9997/", "path": "live/abc", "timeout": 2},
        "youtube": {"video_id": VIDEO_ID, "api_key": YT_KEY},
        "twitch": {"user_login": "councilcast", "client_id": "abc", "token": TWITCH_TOKEN},
    }
    for kind, args in docs.items():
        source = source_from_doc({"kind": kind, **args})
        assert isinstance(source, VIEWER_SOURCES[kind]) and source.name == kind  # type: ignore[arg-type]
    mtx = source_from_doc({"kind": "mediamtx", **docs["mediamtx"]})
    assert isinstance(mtx, MediaMTXPaths) and mtx.api_url == "http://127.0.0.1:9997" and mtx.timeout == 2.0


@pytest.mark.parametrize(("doc", "words"), [
    ({"kind": "facebook"}, "must be one of mediamtx, nginx-rtmp, twitch, youtube, got 'facebook'"),
    ({}, "must be one of"),
    ({"kind": None}, "must be one of"),
    ({"kind": "youtube", "video_id": VIDEO_ID}, "needs api_key"),
    ({"kind": "twitch", "user_login": "a", "client_id": "b", "token": TWITCH_TOKEN, "secret": 1}, "unknown: secret"),
    ({"kind": "nginx-rtmp", "stat_url": "http://h/stat", "application": "live", "stream": "s", "timeout": "5"},
     "timeout"),
    (["kind", "youtube"], "must be an object"),
])
def test_source_from_doc_errors(doc: object, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as caught:
        source_from_doc(doc)  # type: ignore[arg-type]
    assert TWITCH_TOKEN not in str(caught.value)


def test_source_from_doc_never_quotes_a_secret_value() -> None:
    with pytest.raises(ConfigError) as caught:
        source_from_doc({"kind": "youtube", "video_id": VIDEO_ID, "api_key": f"{YT_KEY} x"})
    assert YT_KEY not in str(caught.value)


# ---- the form a page shows for a source ----------------------------------------------------------

def test_a_sources_fields_come_from_its_constructor_with_secrets_and_numbers_marked() -> None:
    fields = {f.name: f for f in source_fields("youtube")}
    assert list(fields) == ["video_id", "api_key", "base_url", "timeout"]
    assert fields["video_id"].required and not fields["video_id"].secret
    assert fields["api_key"].required and fields["api_key"].secret
    assert not fields["base_url"].required and fields["base_url"].default == "https://www.googleapis.com/youtube/v3"
    assert fields["timeout"].number and fields["timeout"].default == 10.0
    assert [f.name for f in source_fields("mediamtx") if f.secret] == ["password"]


def test_nginx_rtmp_may_leave_the_stream_to_the_destination() -> None:
    stream = next(f for f in source_fields("nginx-rtmp") if f.name == "stream")
    assert not stream.required and FROM_DESTINATION["nginx-rtmp"] == "stream"
    assert source_doc_from_form("nginx-rtmp", {"stat_url": " http://127.0.0.1:8080/stat ", "application": "live",
                                               "stream": "", "timeout": 5.0}) == {
        "kind": "nginx-rtmp", "stat_url": "http://127.0.0.1:8080/stat", "application": "live"}


def test_a_form_keeps_only_what_differs_from_the_defaults() -> None:
    doc = source_doc_from_form("twitch", {"user_login": "mychannel", "client_id": "abc", "token": "env:TWITCH_TOKEN",
                                          "base_url": "", "timeout": 3})
    assert doc == {"kind": "twitch", "user_login": "mychannel", "client_id": "abc", "token": "env:TWITCH_TOKEN",
                   "timeout": 3.0}
    assert source_from_doc({**doc, "token": "resolved"}).timeout == 3.0  # what it stores builds a source


@pytest.mark.parametrize(("kind", "values", "message"), [
    ("youtube", {"video_id": "abc123def45", "api_key": "  "}, "youtube viewer source needs api_key"),
    ("twitch", {"user_login": "x", "client_id": "y", "token": "env:T", "timeout": "soon"}, "timeout must be a number"),
    ("rumble", {}, "viewer source kind must be one of mediamtx, nginx-rtmp, twitch, youtube"),
])
def test_a_form_missing_what_a_source_needs_is_refused_by_name(kind: str, values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        source_doc_from_form(kind, values)
