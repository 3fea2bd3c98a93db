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
    # Said although the section it was done in went with the last destination.
    assert [s.value for s in streams.success] == ["Kick removed, with its stored key."]
    assert "sk_kick" not in (data_dir / "keys.json").read_text()


def open_viewer_source(at: AppTest, kind: str) -> AppTest:
    next(s for s in at.selectbox if s.label == "Source").set_value(kind).run()
    return at


def save_viewer_source(at: AppTest, label: str = "Save viewer source", **fields: str) -> AppTest:
    for name, value in fields.items():
        next(t for t in at.text_input if t.label.startswith(name)).input(value)
    next(b for b in at.button if b.label == label).click()
    return at.run()


def test_a_viewer_source_is_set_up_with_a_form_per_kind_and_secrets_stay_references(
        streams: AppTest, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    choose_platform(streams, "youtube")
    fill(streams, name="Main", key="live_SECRET_0123456789abcdef")
    source = next(s for s in streams.selectbox if s.label == "Source")
    assert source.value == "youtube"  # the platform's own API is suggested
    labels = [t.label for t in streams.text_input]
    assert {"Video id", "API key", "API base URL (optional)"} <= set(labels), labels

    save_viewer_source(streams, **{"Video id": "abc123def45", "API key": "AIza-PASTED-VALUE-123"})
    errors = [e.value for e in streams.error]
    assert errors == ["api_key must be a reference such as env:YOUTUBE_API_KEY or secret:NAME; secrets are not "
                      "stored in the destination"], errors
    [doc] = Store(data_dir).destinations.all()
    assert doc.get("viewer_source") is None and "AIza-PASTED" not in (data_dir / "state.json").read_text()

    monkeypatch.setenv("YT_TEST_KEY", "AIza-REAL-VALUE-456")  # the reference is resolved when it is checked
    save_viewer_source(streams, **{"Video id": "abc123def45", "API key": "env:YT_TEST_KEY"})
    assert [s.value for s in streams.success] == ["Viewer source saved: the count is read every 30 s."]
    [doc] = Store(data_dir).destinations.all()
    assert doc["viewer_source"] == {"kind": "youtube", "video_id": "abc123def45", "api_key": "env:YT_TEST_KEY"}
    assert "AIza-REAL" not in (data_dir / "state.json").read_text()


def test_an_nginx_source_needs_no_stream_name_and_none_removes_it(streams: AppTest, data_dir: Path) -> None:
    choose_platform(streams, "custom_rtmp")
    fill(streams, name="Local", url="rtmp://127.0.0.1:1935/live", key="local-key-abcdef")
    open_viewer_source(streams, "nginx-rtmp")
    stream = next(t for t in streams.text_input if t.label.startswith("Stream name"))
    assert stream.placeholder == "empty: this destination's stream key"
    save_viewer_source(streams, **{"Stat page URL": "ftp://127.0.0.1/stat", "Application": "live"})
    assert len(streams.error) == 1 and "stat_url" in streams.error[0].value
    save_viewer_source(streams, **{"Stat page URL": "http://127.0.0.1:8080/stat", "Application": "live"})
    assert not streams.error, [e.value for e in streams.error]
    [doc] = Store(data_dir).destinations.all()
    assert doc["viewer_source"] == {"kind": "nginx-rtmp", "stat_url": "http://127.0.0.1:8080/stat",
                                    "application": "live"}
    assert "local-key" not in repr(doc)

    open_viewer_source(streams, "none")
    save_viewer_source(streams, label="Remove viewer source")
    assert [s.value for s in streams.success] == ["Viewer source removed: the count shows as unknown."]
    [doc] = Store(data_dir).destinations.all()
    assert doc["viewer_source"] is None


def test_beside_a_backend_process_the_page_sends_its_changes_to_it(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backend import Supervisor
    from backend.config import load_settings
    from tests.conftest import wait_for

    monkeypatch.setenv("AI_COUNCIL_BROADCAST", "on")
    monkeypatch.setenv("AI_COUNCIL_TURN_SECONDS", "600")
    owner = Supervisor(load_settings()).start()  # stands for `python -m backend`: it holds the directory
    (data_dir / "recordings").mkdir(exist_ok=True)
    (data_dir / "recordings" / "debate_20260101T030000_0123abcd-00000.ts").write_bytes(b"\x47" * 188 * 10)
    try:
        at = AppTest.from_file(str(APP), default_timeout=30).run()
        at.switch_page(STREAMS).run()
        assert not at.exception, at.exception
        assert any("another process" in i.value for i in at.info)
        assert [s.value for s in at.selectbox if s.label == "Recording"] == ["debate_20260101T030000_0123abcd-00000.ts"]
        choose_platform(at, "custom_rtmp")
        fill(at, name="Beside", url="rtmp://127.0.0.1:1935/live", key="beside-KEY-9f8e7d")
        assert [s.value for s in at.success] == [
            "Beside saved (rtmp://127.0.0.1:1935/live) (sent to the backend; it shows within a few seconds)."]
        wait_for(lambda: [d["name"] for d in Store(data_dir).destinations.all()] == ["Beside"], 20,
                 "the backend to apply it")
        wait_for(lambda: "Beside" in owner.broadcast.streamer.destinations[
            Store(data_dir).destinations.all()[0]["destination_id"]].config.name, 5, "the backend to load it")
        at.run()
        assert "beside-KEY" not in repr([e for e in at.main]) + repr(at.session_state)
        test = next(b for b in at.button if b.label == "Test")
        assert test.disabled  # it publishes from the backend's process
        next(b for b in at.button if b.label == "Disable").click()
        at.run()
        wait_for(lambda: Store(data_dir).destinations.all()[0]["enabled"] is False, 20, "the backend to disable it")
    finally:
        owner.stop()
