"""ffmpeg argument lists, progress parsing and scene text, as data (no process started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend import media
from backend.errors import ConfigError
from backend.streaming import backoff_delay, explain_ffmpeg_error

SETTINGS = media.EncodeSettings(width=1280, height=720, fps=30, video_kbps=3000)


def value_after(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_encoder_keyframe_every_two_seconds_constant_bitrate_aac_48k(tmp_path: Path) -> None:
    args = media.encoder_args("ffmpeg", tmp_path, SETTINGS, "/fonts/a.ttf")
    assert value_after(args, "-g") == value_after(args, "-keyint_min") == "60"
    assert value_after(args, "-sc_threshold") == "0"
    assert value_after(args, "-force_key_frames") == "expr:gte(t,n_forced*2)"
    assert value_after(args, "-b:v") == value_after(args, "-maxrate") == value_after(args, "-bufsize") == "3000k"
    assert value_after(args, "-c:a") == "aac" and value_after(args, "-ar") == "48000"
    assert args[-3:] == ["-muxdelay", "0", "pipe:1"] and value_after(args, "-f") == "lavfi"
    assert "color=c=0x14161c:s=1280x720:r=30" in args


def test_scene_filter_reloads_text_files_and_escapes_paths() -> None:
    graph = media.scene_filter(Path("/data/scene: odd,dir"), SETTINGS, "/fonts/it's.ttf")
    assert graph.count("reload=1") == 4 and "text=%{localtime}" in graph
    assert r"textfile=/data/scene\: odd\,dir/title.txt" in graph
    assert r"fontfile=/fonts/it\'s.ttf" in graph


def test_output_key_is_one_argument_never_part_of_a_shell_string() -> None:
    key = "k|ey; rm -rf / [x] a=b 'q'"
    args = media.output_args("ffmpeg", "rtmp://live.example.com/app", playpath=key)
    assert value_after(args, "-rtmp_playpath") == key
    assert args[-3:] == ["-f", "flv", "rtmp://live.example.com/app"]
    assert value_after(args, "-progress") == "pipe:1" and value_after(args, "-c") == "copy"


def test_srt_goes_out_as_mpegts_without_a_playpath() -> None:
    args = media.output_args("ffmpeg", "srt://127.0.0.1:9000?streamid=abc")
    assert "-rtmp_playpath" not in args and args[-2:] == ["mpegts", "srt://127.0.0.1:9000?streamid=abc"]


def test_recorder_segments_continue_numbering_after_a_restart(tmp_path: Path) -> None:
    args = media.recorder_args("ffmpeg", tmp_path / "debate-%05d.ts", 600, start_number=3)
    assert value_after(args, "-segment_time") == "600" and value_after(args, "-segment_start_number") == "3"
    assert args[-1] == str(tmp_path / "debate-%05d.ts")


def test_progress_block_parsing() -> None:
    block = media.parse_progress(["frame=188", "fps=29.97", "bitrate= 861.4kbits/s", "total_size=682215",
                                  "out_time_us=6336000", "speed=1.01x", "progress=continue"])
    assert media.bitrate_kbps(block) == 861.4 and media.out_seconds(block) == 6.336
    assert media.speed(block) == 1.01
    assert media.bitrate_kbps({"bitrate": "N/A"}) is None and media.out_seconds({}) is None


def test_long_words_are_wrapped_and_cut_with_an_ellipsis() -> None:
    text = media.wrap_words("word " * 400, width=40, max_lines=5)
    lines = text.split("\n")
    assert len(lines) == 5 and all(len(line) <= 40 for line in lines) and lines[-1].endswith("…")


def test_scene_text_files_are_replaced_whole(tmp_path: Path) -> None:
    scene = media.SceneText(tmp_path / "scene")
    scene.show(title="Topic", speaker="Ada", words="Hello there", footer="Round 1")
    assert (tmp_path / "scene" / "title.txt").read_text() == "Topic"
    assert not list((tmp_path / "scene").glob(".*.tmp"))


def test_ffmpeg_binary_comes_from_the_wheel_or_the_named_program(tmp_path: Path) -> None:
    assert Path(media.ffmpeg_binary({})).is_file()
    with pytest.raises(ConfigError, match="AI_COUNCIL_FFMPEG must name an executable ffmpeg"):
        media.ffmpeg_binary({"AI_COUNCIL_FFMPEG": str(tmp_path / "missing")})
    assert Path(media.font_file({})).is_file()
    with pytest.raises(ConfigError, match="AI_COUNCIL_FONT"):
        media.font_file({"AI_COUNCIL_FONT": "/nope.ttf"})


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff_delay(n, 1.0, 10.0, rng) for n in (1, 2, 3, 4, 5, 6)]
    for n, delay in zip((1, 2, 3, 4), delays):
        assert 0.8 * 2 ** (n - 1) <= delay <= 1.2 * 2 ** (n - 1)
    assert all(8.0 <= delay <= 12.0 for delay in delays[4:])


@pytest.mark.parametrize(("line", "words"), [
    ("[rtmp @ 0x1] Server error: Already publishing", "already publishing"),
    ("Error opening output files: Connection refused", "refused the connection"),
])
def test_ffmpeg_errors_are_explained_in_words(line: str, words: str) -> None:
    assert words in explain_ffmpeg_error(line)


def ts_packet(pid: int, random_access: bool) -> bytes:
    header = bytes([0x47, (pid >> 8) & 0x1F, pid & 0xFF, 0x30])  # adaptation field + payload
    adaptation = bytes([1, 0x40 if random_access else 0x00])
    return (header + adaptation).ljust(media.MPEGTS_PACKET, b"\xff")


def test_keyframes_are_found_by_the_video_pids_random_access_flag() -> None:
    audio_key = ts_packet(0x101, True)
    video_plain, video_key = ts_packet(0x100, False), ts_packet(0x100, True)
    assert media.has_keyframe(audio_key + video_plain + video_key)
    assert not media.has_keyframe(audio_key + video_plain)
    assert not media.has_keyframe(video_key[:100])  # a partial packet is not read


def test_platform_session_limits_become_a_republish_before_the_limit() -> None:
    from backend.destinations import StreamConfig, StreamPlatform
    from backend.streaming import MultiPlatformStreamer

    streamer = MultiPlatformStreamer(scene_dir=Path("/tmp/ai-council-test-scene"))
    facebook = StreamConfig(platform=StreamPlatform.FACEBOOK, stream_key="FB-1234567890abcdef")
    twitch = StreamConfig(platform=StreamPlatform.TWITCH, stream_key="live_1234567890abcdef")
    custom = StreamConfig(platform=StreamPlatform.CUSTOM_RTMP, stream_key="k", rtmp_url="rtmp://h/app")
    assert streamer._policy_for(facebook).max_session_seconds == 8 * 3600 * 0.95
    assert streamer._policy_for(twitch).max_session_seconds == 48 * 3600 * 0.95
    assert streamer._policy_for(custom).max_session_seconds is None


# --- rates over the last seconds, not since the start ----------------------------------------------


def test_recent_rates_measure_the_last_seconds_not_the_average_since_the_start() -> None:
    from backend.media import ProgressPoint, recent_rates

    # 60 s at 1500 kbps and real time, then 10 s at 500 kbps and half speed: ffmpeg's averages
    # since the start would still say about 1360 kbps and 0.93x.
    points = [ProgressPoint(t, int(t * 187_500), float(t)) for t in range(61)]
    points += [ProgressPoint(60 + t, 60 * 187_500 + int(t * 62_500), 60 + t / 2) for t in range(1, 11)]
    kbps, speed = recent_rates(points, window=5)
    assert kbps == 500.0 and speed == 0.5


def test_recent_rates_wait_for_a_second_of_points_and_know_when_no_size_is_reported() -> None:
    from backend.media import ProgressPoint, recent_rates

    assert recent_rates([]) == (None, None)
    assert recent_rates([ProgressPoint(0.0, 0, 0.0), ProgressPoint(0.5, 90_000, 0.5)]) == (None, None)
    assert recent_rates([ProgressPoint(0.0, None, 0.0), ProgressPoint(2.0, None, 2.0)]) == (None, 1.0)
