"""The Streams page through AppTest, with the broadcast on (no debate runs, so no ffmpeg starts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from backend.storage import Store

APP = Path(__file__).resolve().parents[2] / "app.py"
STREAMS = "views/streams.py"


@pytest.fixture
def streams(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("AI_COUNCIL_BROADCAST", "on")
    monkeypatch.setenv("AI_COUNCIL_TURN_SECONDS", "600")  # the first debate is 2 min away: none goes on air
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.switch_page(STREAMS).run()
    assert not at.exception, at.exception
    return at


def choose_platform(at: AppTest, value: str) -> None:
    next(s for s in at.selectbox if s.label == "Platform").set_value(value).run()


def fill(at: AppTest, **fields: str) -> AppTest:
    labels = {"name": "Name", "url": "Ingest URL", "backup": "Backup URL (optional)", "key": "Stream key"}
    for field, value in fields.items():
        next(t for t in at.text_input if t.label == labels[field]).input(value)
    next(b for b in at.button if b.label == "Save destination").click()
    return at.run()


def test_the_page_renders_with_no_destination_and_explains_recording(streams: AppTest) -> None:
    assert [t.value for t in streams.title] == ["Streams"]
    captions = " ".join(c.value for c in streams.caption)
    assert "No destination yet" in captions and "No recording yet" in captions


def test_the_ingest_url_is_prefilled_from_the_platform_preset(streams: AppTest) -> None:
    url = next(t for t in streams.text_input if t.label == "Ingest URL")
    assert url.value == "rtmp://a.rtmp.youtube.com/live2"
    choose_platform(streams, "facebook")
    url = next(t for t in streams.text_input if t.label == "Ingest URL")
    assert url.value == "rtmps://live-api-s.facebook.com:443/rtmp/"


def test_saving_a_destination_keeps_the_key_out_of_the_page_and_the_store(streams: AppTest, data_dir: Path) -> None:
    choose_platform(streams, "twitch")
    fill(streams, name="Main channel", key="live_SECRET_0123456789abcdef")
    assert not streams.exception and [s.value for s in streams.success] == [
        "Main channel saved (rtmp://live.twitch.tv/app)."]
    page = repr([e for e in streams.main]) + repr(streams.session_state)
    assert "live_SECRET_0123456789abcdef" not in page
    [doc] = Store(data_dir).destinations.all()
    assert doc["name"] == "Main channel" and "SECRET" not in repr(doc)
    assert (data_dir / "keys.json").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(("platform", "fields", "message"), [
    ("youtube", {"key": ""}, "stream_key is required"),
    ("custom_rtmp", {"url": "file:/etc/passwd", "key": "abc"}, "rtmp_url must start with rtmp://"),
    ("custom_rtmp", {"url": "rtmp://", "key": "abc"}, "rtmp_url"),
    ("custom_rtmp", {"url": "http://example.com/live", "key": "abc"}, "rtmp_url"),
    ("custom_rtmps", {"url": "rtmp://example.com/live", "key": "abc"}, "rtmp_url"),
])
def test_a_bad_destination_shows_what_is_wrong_and_saves_nothing(
        streams: AppTest, data_dir: Path, platform: str, fields: dict, message: str) -> None:
    choose_platform(streams, platform)
    fill(streams, **fields)
    errors = [e.value for e in streams.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert Store(data_dir).destinations.all() == []
    assert not (data_dir / "keys.json").exists() or "abc" not in (data_dir / "keys.json").read_text()


def test_disable_enable_and_remove_a_destination(streams: AppTest, data_dir: Path) -> None:
    choose_platform(streams, "kick")
    fill(streams, key="sk_kick_0123456789")
    for button, check in (("Disable", lambda d: d["enabled"] is False), ("Enable", lambda d: d["enabled"] is True)):
        next(b for b in streams.button if b.label == button).click()
        streams.run()
        [doc] = Store(data_dir).destinations.all()
        assert check(doc)
    next(b for b in streams.button if b.label == "Remove").click()
    streams.run()
    assert Store(data_dir).destinations.all() == []
    assert "sk_kick" not in (data_dir / "keys.json").read_text()
