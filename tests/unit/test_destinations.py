"""Stream destinations: presets, URL and key validation, publish URLs, secrecy and the key file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backend.destinations import (
    PLATFORM_PRESETS,
    QUALITY_PRESETS,
    KeyStore,
    QualityPreset,
    StreamConfig,
    StreamPlatform,
    StreamQuality,
    mask_in_text,
    redact_url,
)
from backend.errors import ConfigError, StoreError

LEAK = "sk-LEAK-1234567890"
YT_KEY = "live-abcd-efgh-wxyz"


def youtube(**changes: object) -> StreamConfig:
    return StreamConfig(**{"platform": StreamPlatform.YOUTUBE, "stream_key": YT_KEY, **changes})  # type: ignore[arg-type]


def assert_hidden(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


# --- presets ----------------------------------------------------------------------------------


def test_every_platform_has_a_sane_preset() -> None:
    assert set(PLATFORM_PRESETS) == set(StreamPlatform)
    for platform, preset in PLATFORM_PRESETS.items():
        assert preset.label.strip()
        assert set(preset.schemes) <= {"rtmp", "rtmps", "srt"}
        for url in (preset.ingest_url, preset.backup_url):
            if url is not None:
                assert urlsplit(url).scheme in preset.schemes and urlsplit(url).hostname
        assert preset.max_session_hours is None or preset.max_session_hours > 0
        assert preset.viewer_source in (None, "youtube", "twitch")
        if preset.needs_key:
            assert preset.key_env and preset.key_env.endswith("_STREAM_KEY"), platform
    assert not PLATFORM_PRESETS[StreamPlatform.LOCAL_PREVIEW].schemes
    assert not PLATFORM_PRESETS[StreamPlatform.LOCAL_PREVIEW].needs_key


@pytest.mark.parametrize(("platform", "url"), [
    (StreamPlatform.YOUTUBE, "rtmp://a.rtmp.youtube.com/live2"),
    (StreamPlatform.TWITCH, "rtmp://live.twitch.tv/app"),
    (StreamPlatform.FACEBOOK, "rtmps://live-api-s.facebook.com:443/rtmp/"),
    (StreamPlatform.KICK, "rtmps://fa723fc1b171.global-contribute.live-video.net/app"),
    (StreamPlatform.X, "rtmps://va.pscp.tv:443/x"),
])
def test_big_platforms_have_their_ingest_url_pre_filled(platform: StreamPlatform, url: str) -> None:
    assert PLATFORM_PRESETS[platform].ingest_url == url
    assert StreamConfig(platform, "k" * 20).ingest_url == url


def test_platforms_without_a_fixed_url_ask_for_one() -> None:
    for platform in (StreamPlatform.LINKEDIN, StreamPlatform.CUSTOM_RTMP, StreamPlatform.CUSTOM_RTMPS,
                     StreamPlatform.SRT, StreamPlatform.LOCAL_PREVIEW):
        assert PLATFORM_PRESETS[platform].ingest_url is None
    with pytest.raises(ConfigError, match="rtmp_url is required for LinkedIn Live: paste"):
        _ = StreamConfig(StreamPlatform.LINKEDIN, "k" * 20).ingest_url


def test_quality_table_is_the_seeds() -> None:
    assert QUALITY_PRESETS == {
        StreamQuality.LOW: QualityPreset(854, 480, 1500, 30, 128),
        StreamQuality.MEDIUM: QualityPreset(1280, 720, 3000, 30, 128),
        StreamQuality.HIGH: QualityPreset(1920, 1080, 6000, 30, 160),
        StreamQuality.ULTRA: QualityPreset(3840, 2160, 15000, 60, 160),
    }
    assert youtube(quality="ultra").preset_quality.fps == 60


def test_platform_and_quality_are_coerced_from_text_and_unknown_ones_are_listed() -> None:
    config = StreamConfig("Twitch", "k" * 20, quality="medium")  # type: ignore[arg-type]
    assert config.platform is StreamPlatform.TWITCH and config.quality is StreamQuality.MEDIUM
    with pytest.raises(ConfigError, match="platform must be one of youtube, twitch, .*local_preview, got 'myspace'"):
        StreamConfig("myspace")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="quality must be one of low, medium, high, ultra, got '4k'"):
        youtube(quality="4k")


# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "url"), [
    ("custom_rtmp", "rtmp://media.example.org/live"),
    ("custom_rtmp", "rtmp://10.0.0.5:1935/live/"),
    ("custom_rtmps", "rtmps://media.example.org:443/app"),
    ("srt", "srt://media.example.org:9000?mode=caller&latency=200"),
    ("youtube", "rtmps://a.rtmps.youtube.com:443/live2"),
    ("linkedin", "rtmps://1a2b.channel.media.azure.net:2935/live/abc123"),
])
def test_stream_urls_with_a_host_are_accepted(platform: str, url: str) -> None:
    assert StreamConfig(platform, "k" * 20, rtmp_url=url).ingest_url == url  # type: ignore[arg-type]


@pytest.mark.parametrize(("url", "shown"), [
    ("file:/etc/passwd", "got 'file:/etc/passwd'"),
    ("pipe:1", "got 'pipe:1'"),
    ("concat:a|b", "got 'concat:a|b'"),
    ("http://x", "got 'http://x'"),
    ("https://example.org/live", "HTTP is not"),
    ("tee:[f=flv]rtmp://a/b|/tmp/out.flv", "tee"),
    ("subfile:,,start,0,end,0,,:/etc/passwd", "subfile"),
    ("rtmp://", "got 'rtmp://'"),
    ("rtmp:///app", "name a host"),
    ("rtmp://host/app\n-f", "one line"),
    ("rtmp://host/app -f flv", "one line"),
    ("rtmp://host/a|b", "'|'"),
    ("udp://host:1234", "got 'udp://host:1234'"),
    ("/tmp/out.flv", "name a host"),
])
def test_dangerous_or_malformed_urls_are_refused(url: str, shown: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url=url)
    message = str(caught.value)
    assert message.startswith("rtmp_url ") and "rtmp://" in message and "host" in message
    assert shown in message


def test_an_oversized_url_is_refused_without_being_echoed() -> None:
    huge = "rtmp://host/" + "a" * 5000
    with pytest.raises(ConfigError) as caught:
        StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url=huge)
    assert str(caught.value) == "rtmp_url must be at most 2048 characters, got 5012"


@pytest.mark.parametrize(("platform", "url", "form"), [
    ("custom_rtmps", "rtmp://media.example.org/app", "rtmp_url for Custom RTMPS must start with rtmps://"),
    ("custom_rtmp", "rtmps://media.example.org/app", "rtmp_url for Custom RTMP must start with rtmp://"),
    ("srt", "rtmp://media.example.org/app", "rtmp_url for SRT must start with srt://"),
    ("facebook", "rtmp://live-api-s.facebook.com:80/rtmp/", "rtmp_url for Facebook Live must start with rtmps://"),
    ("custom_rtmp", "srt://media.example.org:9000", "must start with rtmp://"),
])
def test_each_platform_accepts_only_its_schemes(platform: str, url: str, form: str) -> None:
    with pytest.raises(ConfigError, match=form):
        StreamConfig(platform, "k" * 20, rtmp_url=url)  # type: ignore[arg-type]


def test_backup_url_is_validated_and_named() -> None:
    with pytest.raises(ConfigError, match="backup_rtmp_url must start with rtmp://"):
        youtube(backup_rtmp_url="pipe:1")


def test_srt_needs_a_port_and_local_preview_takes_no_url() -> None:
    with pytest.raises(ConfigError, match="SRT URL needs host:port"):
        StreamConfig(StreamPlatform.SRT, rtmp_url="srt://media.example.org")
    with pytest.raises(ConfigError, match="rtmp_url must be empty for Local preview"):
        StreamConfig(StreamPlatform.LOCAL_PREVIEW, rtmp_url="rtmp://host/app")


def test_shown_urls_lose_their_password_and_secret_parameters() -> None:
    url = "srt://user:hunter2@media.example.org:9000?mode=caller&streamid=publish:cam&passphrase=s3cret-pass"
    message = ""
    try:
        StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url=url)
    except ConfigError as exc:
        message = str(exc)
    assert "must start with rtmp://" in message
    assert_hidden("hunter2", message)
    assert_hidden("s3cret-pass", message)
    assert_hidden("publish:cam", message)
    assert redact_url(url) == "srt://user:****@media.example.org:9000?mode=caller&streamid=****&passphrase=****"
    config = StreamConfig(StreamPlatform.SRT, rtmp_url=url)
    assert config.display_url() == redact_url(url)
    assert_hidden("hunter2", repr(config), str(config), json.dumps(config.public_doc()))


def test_a_key_pasted_into_the_url_field_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url=LEAK.replace("-", "_"))
    assert_hidden(LEAK.replace("-", "_"), str(caught.value))
    with pytest.raises(ConfigError, match="must be the ingest URL alone") as caught:
        youtube(rtmp_url=f"rtmp://a.rtmp.youtube.com/live2/{LEAK}")
    assert_hidden(LEAK, str(caught.value))


# --- keys -------------------------------------------------------------------------------------


INJECTION_KEYS = ["a|b", "[f=flv]x", "k:e:y", "a=b", "it's", "two words", "x'|[y]:=z w", "50%off", "a/b?c&d#e"]


@pytest.mark.parametrize("key", INJECTION_KEYS)
def test_shell_and_ffmpeg_special_characters_stay_inside_one_path_segment(key: str) -> None:
    url = StreamConfig(StreamPlatform.TWITCH, key).publish_url(key)
    parts = urlsplit(url)
    assert url.startswith("rtmp://live.twitch.tv/app/")
    assert parts.query == "" and parts.fragment == ""
    assert unquote(parts.path.rsplit("/", 1)[1]) == key
    assert parts.path.count("/") == 2
    for raw in ("|", " ", "'", "[", "]"):
        assert raw not in url


@pytest.mark.parametrize(("bad", "named"), [
    ("\n", "a newline"), ("\r", "a carriage return"), ("\x00", "a NUL character"), ("\t", "a tab"),
    ("\x1b", "character U+001B"), ("\u2028", "character U+2028"),
])
def test_keys_with_control_characters_are_refused_without_echoing_them(bad: str, named: str) -> None:
    for key in (f"{LEAK}{bad}", f"{LEAK}{bad}-f null", f"{bad}{LEAK}"):
        with pytest.raises(ConfigError) as caught:
            youtube(stream_key=key)
        assert str(caught.value) == f"stream_key must be one line of printable characters (got {named})"
        assert_hidden("LEAK", str(caught.value), repr(caught.value))
        assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_a_key_is_required_where_the_platform_needs_one() -> None:
    for blank in ("", "   "):
        with pytest.raises(ConfigError, match="stream_key is required for YouTube Live"):
            youtube(stream_key=blank)
    with pytest.raises(ConfigError, match="stream_key is required for Twitch"):
        StreamConfig(StreamPlatform.TWITCH)
    assert StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url="rtmp://h/app").stream_key == ""
    with pytest.raises(ConfigError, match="stream_key must be empty for Local preview"):
        StreamConfig(StreamPlatform.LOCAL_PREVIEW, LEAK)


def test_long_or_url_shaped_keys_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError, match="stream_key must be at most 512 characters, got 513") as caught:
        youtube(stream_key="x" * 513)
    assert youtube(stream_key="x" * 512).stream_key == "x" * 512
    with pytest.raises(ConfigError, match="not a URL .*rtmp://.*put the URL in rtmp_url") as caught:
        youtube(stream_key=f"rtmp://a.rtmp.youtube.com/live2/{LEAK}")
    assert_hidden(LEAK, str(caught.value))
    with pytest.raises(ConfigError, match="stream_key must be text"):
        youtube(stream_key=12345)


def test_repr_str_and_public_doc_mask_the_key() -> None:
    config = youtube(stream_key=LEAK)
    assert config.masked_key == "sk-L****7890"
    for text in (repr(config), str(config), json.dumps(config.public_doc()), f"{config}", f"{config!r}"):
        assert_hidden(LEAK, text)
        assert "sk-L****7890" in text
    assert config.public_doc()["stream_key"] == "sk-L****7890"
    assert config.public_doc()["label"] == "YouTube Live"
    assert config.public_doc()["display_url"] == "rtmp://a.rtmp.youtube.com/live2"
    assert config.to_doc()["stream_key"] == LEAK  # only for the key-protected store


def test_short_keys_are_masked_entirely() -> None:
    for key in ("abcd", "abcdefgh", "abcdefghijk"):
        config = StreamConfig(StreamPlatform.CUSTOM_RTMP, key, rtmp_url="rtmp://h/app")
        assert config.masked_key == "****"
        assert_hidden(key, repr(config))


# --- references -------------------------------------------------------------------------------


def test_env_and_secret_references_resolve_and_show_as_they_are() -> None:
    config = youtube(stream_key="env:YOUTUBE_STREAM_KEY")
    assert config.masked_key == "env:YOUTUBE_STREAM_KEY"
    assert "env:YOUTUBE_STREAM_KEY" in repr(config)
    assert config.resolve_key({"YOUTUBE_STREAM_KEY": LEAK}) == LEAK
    secret = youtube(stream_key="secret:MAIN_CHANNEL")
    assert secret.resolve_key({}, {"MAIN_CHANNEL": LEAK}) == LEAK
    assert youtube(stream_key=LEAK).resolve_key({}) == LEAK


def test_a_missing_reference_names_the_variable_not_a_key() -> None:
    with pytest.raises(ConfigError, match="^stream_key refers to env:YT_KEY, which is not set$"):
        youtube(stream_key="env:YT_KEY").resolve_key({"OTHER": LEAK})
    with pytest.raises(ConfigError, match="refers to secret:YT_KEY, which is not set"):
        youtube(stream_key="secret:YT_KEY").resolve_key({"YT_KEY": LEAK})


def test_a_resolved_value_is_checked_like_a_key() -> None:
    with pytest.raises(ConfigError, match="the value of env:YT_KEY must be one line") as caught:
        youtube(stream_key="env:YT_KEY").resolve_key({"YT_KEY": f"{LEAK}\n"})
    assert_hidden(LEAK, str(caught.value))


def test_malformed_references_are_refused_and_other_prefixes_are_literal_keys() -> None:
    for bad in ("env:", "env:lower_case", "secret:1ABC", "env:A-B"):
        with pytest.raises(ConfigError, match="env:NAME or secret:NAME"):
            youtube(stream_key=bad)
    literal = youtube(stream_key="vault:abc:def:ghi")
    assert literal.masked_key == "vaul****:ghi"
    assert literal.resolve_key({}) == "vault:abc:def:ghi"


def test_publish_url_refuses_an_unresolved_reference() -> None:
    config = youtube(stream_key="env:YOUTUBE_STREAM_KEY")
    with pytest.raises(ConfigError, match="call resolve_key first"):
        config.publish_url("env:YOUTUBE_STREAM_KEY")


# --- publish URLs -----------------------------------------------------------------------------


def test_youtube_primary_and_backup_put_the_key_before_the_query() -> None:
    config = youtube()
    assert config.publish_url(YT_KEY) == f"rtmp://a.rtmp.youtube.com/live2/{YT_KEY}"
    assert config.publish_url(YT_KEY, backup=True) == f"rtmp://b.rtmp.youtube.com/live2/{YT_KEY}?backup=1"
    assert config.backup_url == "rtmp://b.rtmp.youtube.com/live2?backup=1"


def test_twitch_facebook_kick_and_x_publish_urls() -> None:
    assert StreamConfig("twitch", "live_1_abc").publish_url("live_1_abc") == \
        "rtmp://live.twitch.tv/app/live_1_abc"
    facebook = StreamConfig(StreamPlatform.FACEBOOK, "FB-123-0-Abc")
    assert facebook.publish_url("FB-123-0-Abc") == "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-0-Abc"
    no_slash = facebook.replace(rtmp_url="rtmps://live-api-s.facebook.com:443/rtmp")
    assert no_slash.publish_url("FB-123-0-Abc") == "rtmps://live-api-s.facebook.com:443/rtmp/FB-123-0-Abc"
    assert StreamConfig(StreamPlatform.X, "abc").publish_url("abc") == "rtmps://va.pscp.tv:443/x/abc"
    with pytest.raises(ConfigError, match="Twitch has no backup URL"):
        StreamConfig(StreamPlatform.TWITCH, "live_1_abc").publish_url("live_1_abc", backup=True)


def test_srt_puts_the_key_in_streamid_and_keeps_other_parameters() -> None:
    config = StreamConfig(StreamPlatform.SRT, rtmp_url="srt://media.example.org:9000?mode=caller&latency=200")
    assert config.publish_url("publish:live/cam") == \
        "srt://media.example.org:9000?streamid=publish:live/cam&mode=caller&latency=200"
    assert config.publish_url("#!::r=live/cam,m=publish").startswith(
        "srt://media.example.org:9000?streamid=#!::r=live/cam,m=publish&")
    assert config.publish_url("a b&c+d") == \
        "srt://media.example.org:9000?streamid=a%20b%26c%2Bd&mode=caller&latency=200"
    assert config.publish_url("") == "srt://media.example.org:9000?mode=caller&latency=200"
    with_id = config.replace(rtmp_url="srt://media.example.org:9000?streamid=old&mode=caller")
    assert with_id.publish_url("") == "srt://media.example.org:9000?streamid=old&mode=caller"
    assert with_id.publish_url("new") == "srt://media.example.org:9000?streamid=new&mode=caller"
    assert StreamConfig(StreamPlatform.SRT, rtmp_url="srt://h:9000").publish_url("k") == "srt://h:9000?streamid=k"


def test_custom_rtmp_without_a_key_publishes_to_the_url_as_it_is() -> None:
    config = StreamConfig(StreamPlatform.CUSTOM_RTMP, rtmp_url="rtmp://h/live/stream1")
    assert config.publish_url("") == "rtmp://h/live/stream1"


def test_local_preview_has_no_network_url() -> None:
    config = StreamConfig(StreamPlatform.LOCAL_PREVIEW)
    with pytest.raises(ConfigError, match="Local preview has no network URL"):
        config.publish_url("")
    with pytest.raises(ConfigError, match="no network URL"):
        _ = config.ingest_url
    assert config.display_url() == ""


def test_publish_url_checks_the_key_it_is_given() -> None:
    config = youtube()
    with pytest.raises(ConfigError, match="stream_key is required for YouTube Live"):
        config.publish_url("")
    with pytest.raises(ConfigError, match="got a newline") as caught:
        config.publish_url(f"{LEAK}\n-f")
    assert_hidden(LEAK, str(caught.value))


printable_char = st.characters(exclude_categories=("C", "Zs", "Zl", "Zp"), include_characters=" ")


@given(key=st.text(printable_char, min_size=1, max_size=100))
def test_any_printable_key_round_trips_through_the_last_path_segment(key: str) -> None:
    assume(key.strip() and not key.startswith(("env:", "secret:")) and "://" not in key)
    for platform in (StreamPlatform.YOUTUBE, StreamPlatform.FACEBOOK):
        url = StreamConfig(platform, key).publish_url(key)
        head, _, query = url.partition("?")
        assert unquote(head.rsplit("/", 1)[1]) == key
        assert query == ""
        assert not any(ch in url for ch in "| '\n")


# --- ids and documents ------------------------------------------------------------------------


def test_two_youtube_destinations_get_different_ids() -> None:
    first, second = youtube(), youtube()
    assert first.destination_id != second.destination_id
    assert first.destination_id.startswith("youtube-") and len(first.destination_id) == len("youtube-") + 8
    assert youtube(destination_id="main-channel").destination_id == "main-channel"
    with pytest.raises(ConfigError, match="destination_id must be 1-64 letters"):
        youtube(destination_id="../keys")


def test_documents_round_trip_and_are_json_safe() -> None:
    config = youtube(quality=StreamQuality.MEDIUM, enabled=False, max_retry_attempts=5, retry_delay_seconds=2,
                     name="Main channel", backup_rtmp_url="rtmps://b.rtmps.youtube.com:443/live2?backup=1")
    doc = json.loads(json.dumps(config.to_doc()))
    assert StreamConfig.from_doc(doc) == config
    assert doc["platform"] == "youtube" and doc["quality"] == "medium" and doc["retry_delay_seconds"] == 2.0
    assert config.name == "Main channel" and youtube().name == "YouTube Live"
    with pytest.raises(ConfigError, match="unknown destination settings \\['colour'\\]"):
        StreamConfig.from_doc({**doc, "colour": "red"})
    with pytest.raises(ConfigError, match="with a platform"):
        StreamConfig.from_doc({"stream_key": LEAK})


def test_replace_validates_and_keeps_the_id() -> None:
    config = youtube()
    changed = config.replace(quality="low")
    assert changed.quality is StreamQuality.LOW and changed.destination_id == config.destination_id
    with pytest.raises(ConfigError, match="rtmp_url"):
        config.replace(rtmp_url="file:/etc/passwd")


@pytest.mark.parametrize(("changes", "message"), [
    ({"enabled": "yes"}, "enabled must be true or false"),
    ({"max_retry_attempts": -1}, "max_retry_attempts must be empty or a whole number 0-1000"),
    ({"max_retry_attempts": True}, "max_retry_attempts"),
    ({"retry_delay_seconds": 0}, "retry_delay_seconds must be empty or a number of seconds above 0"),
    ({"retry_delay_seconds": float("nan")}, "retry_delay_seconds"),
    ({"name": "two\nlines"}, "name must be one line"),
    ({"name": "x" * 81}, "at most 80"),
])
def test_other_fields_are_validated(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        youtube(**changes)


# --- masking in text --------------------------------------------------------------------------


def test_mask_in_text_masks_raw_and_percent_encoded_occurrences() -> None:
    key = "sk live|key'1234"
    url = StreamConfig(StreamPlatform.TWITCH, key).publish_url(key)
    line = f"[rtmp @ 0x5] Cannot open {url} (key {key})"
    masked = mask_in_text(line, [key, "", "unused-secret"])
    assert key not in masked and url not in masked and "sk%20live" not in masked
    assert masked == "[rtmp @ 0x5] Cannot open rtmp://live.twitch.tv/app/sk l****1234 (key sk l****1234)"
    srt = StreamConfig(StreamPlatform.SRT, rtmp_url="srt://h:9000").publish_url("publish:a b")
    assert "publish" not in mask_in_text(srt, ["publish:a b"])


def test_mask_in_text_masks_the_longest_secret_first() -> None:
    assert mask_in_text("abcdefghijklmnop", ["abcdefghijkl", "abcdefghijklmnop"]) == "abcd****mnop"
    assert mask_in_text("nothing here", []) == "nothing here"


# --- the key file -----------------------------------------------------------------------------


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_key_store_round_trip_with_owner_only_mode(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "data")
    assert store.get("youtube-1") is None and store.problems == []
    store.set("youtube-1", LEAK)
    store.set("twitch-1", "live_1_abc")
    assert mode_of(store.path) == 0o600
    assert KeyStore(tmp_path / "data").get("youtube-1") == LEAK
    assert json.loads(store.path.read_text()) == {"twitch-1": "live_1_abc", "youtube-1": LEAK}
    assert store.delete("youtube-1") is True and store.delete("youtube-1") is False
    assert store.get("youtube-1") is None and store.get("twitch-1") == "live_1_abc"
    assert mode_of(store.path) == 0o600
    # No temp file left; the lock file (empty) lets a dashboard beside the backend add keys too.
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["keys.json", "keys.json.lock"]
    assert (store.path.parent / "keys.json.lock").read_bytes() == b""


def test_key_store_tightens_a_loose_mode_and_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"youtube-1": LEAK}))
    os.chmod(path, 0o644)
    store = KeyStore(tmp_path)
    assert mode_of(path) == 0o600
    assert len(store.problems) == 1 and "0o644" in store.problems[0]
    assert_hidden(LEAK, store.problems[0])
    assert store.get("youtube-1") == LEAK
    assert KeyStore(tmp_path).problems == []


def test_key_store_refuses_bad_keys_and_reports_a_corrupt_file_without_its_content(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    with pytest.raises(ConfigError, match="got a newline"):
        store.set("youtube-1", f"{LEAK}\n")
    with pytest.raises(ConfigError, match="destination_id"):
        store.set("../x", LEAK)
    store.path.write_text(f'{{"youtube-1": "{LEAK}"')
    with pytest.raises(StoreError) as caught:
        store.get("youtube-1")
    assert "keys.json" in str(caught.value)
    assert_hidden(LEAK, str(caught.value))
