"""Speech plumbing as data: pacing, the utterance window, WAV parsing, engine choice."""

from __future__ import annotations

import struct

import pytest

from backend import speech
from backend.errors import ConfigError

BPS = speech.BYTES_PER_SECOND


def test_bytes_due_keeps_the_stream_a_little_ahead_of_real_time() -> None:
    assert speech.bytes_due(0.0, 0) == int(0.3 * BPS) - int(0.3 * BPS) % 2
    assert speech.bytes_due(1.0, int(1.3 * BPS)) == 0  # already ahead
    assert speech.bytes_due(2.0, BPS) == (int(2.3 * BPS) - BPS) // 2 * 2  # whole 16-bit samples


def test_the_feed_places_the_utterance_in_time_and_pads_with_silence() -> None:
    feed = speech.AudioFeed()
    pcm = bytes(range(1, 201)) * 10  # 2000 bytes of non-zero "speech"
    feed.say(pcm, at=100.0)
    before = feed.window(99.0, 100)
    assert before == bytes(100)
    straddling = feed.window(100.0 - 50 / BPS, 100)  # 50 bytes of silence, then speech
    assert straddling[:50] == bytes(50) and straddling[50:] == pcm[:50]
    after = feed.window(100.0 + 1990 / BPS, 100)
    assert after[:10] == pcm[1990:] and after[10:] == bytes(90)
    feed.say(b"\x01\x02" * 10, at=101.0)  # a new turn cuts the last one off
    assert feed.window(100.0 + 10 / BPS, 4) == bytes(4)


def test_pcm_comes_from_the_data_chunk_of_a_streamed_wav() -> None:
    samples = struct.pack("<4h", 1, -1, 300, -300)
    wav = b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 22050, 44100, 2, 16) + \
        b"data\xff\xff\xff\xff" + samples + b"\x00"
    assert speech.pcm_from_wav(wav) == samples
    with pytest.raises(ConfigError, match="WAV"):
        speech.pcm_from_wav(b"not a wav")


def test_engine_choice_off_named_or_missing(tmp_path) -> None:
    assert speech.speech_engine({"AI_COUNCIL_TTS": "off"}) is None
    with pytest.raises(ConfigError, match="AI_COUNCIL_TTS must be off or name the espeak-ng program"):
        speech.speech_engine({"AI_COUNCIL_TTS": str(tmp_path / "nope")})


def test_each_speaker_keeps_a_voice_of_their_own() -> None:
    speaker = speech.Speaker("espeak-ng", speech.AudioFeed())
    voices = [speaker.voice(name) for name in ("Ada", "Miriam", "Rafael", "Ada")]
    assert voices[0] == voices[3] and len(set(voices[:3])) == 3
