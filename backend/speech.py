"""Speech for the broadcast: each turn spoken by the espeak-ng program when it is present.

The encoder reads its sound as raw PCM (22.05 kHz, 16-bit mono, espeak-ng's own format) from its
standard input. ``AudioFeed`` holds the utterance on air, placed on the monotonic clock; each
encoder's pacing thread writes the samples of its own timeline (speech where it falls, silence
elsewhere), a little ahead of real time, so several quality tiers speak in step. Without an
engine the encoder uses a quiet tone bed instead (``media.encoder_args(audio="tone")``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import Mapping

from .errors import ConfigError

SAMPLE_RATE = 22050
BYTES_PER_SECOND = SAMPLE_RATE * 2  # 16-bit mono
LEAD_SECONDS = 0.3  # written ahead of real time so the encoder never waits for sound
VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+m7", "en-gb+f4")  # one per seat, in order


def speech_engine(env: Mapping[str, str] | None = None) -> str | None:
    """The espeak-ng program: ``AI_COUNCIL_TTS`` (a path, or ``off``), else espeak-ng on PATH."""
    env = os.environ if env is None else env
    named = env.get("AI_COUNCIL_TTS", "").strip()
    if named.lower() == "off":
        return None
    if named:
        found = shutil.which(named)
        if not found:
            raise ConfigError(f"AI_COUNCIL_TTS must be off or name the espeak-ng program, got {named!r}")
        return found
    return shutil.which("espeak-ng")


def pcm_from_wav(wav: bytes) -> bytes:
    """The samples of a WAV file (espeak-ng's --stdout header gives no usable length: read to the end)."""
    marker = wav.find(b"data")
    if not wav.startswith(b"RIFF") or marker < 0:
        raise ConfigError("the speech engine did not produce a WAV file")
    samples = wav[marker + 8:]
    return samples[: len(samples) - len(samples) % 2]


def synthesize(engine: str, text: str, voice: str = VOICES[0], words_per_minute: int = 165) -> bytes:
    """Speak ``text`` into PCM; the text goes on standard input, so no word can pass as an option."""
    result = subprocess.run([engine, "--stdout", "-v", voice, "-s", str(words_per_minute)],
                            input=text.encode("utf-8"), capture_output=True, timeout=30)
    if result.returncode != 0:
        raise ConfigError(f"{engine} failed: {result.stderr.decode('utf-8', 'replace').strip()[-200:]}")
    return pcm_from_wav(result.stdout)


def bytes_due(elapsed_seconds: float, written_bytes: int, lead_seconds: float = LEAD_SECONDS) -> int:
    """How many bytes to write now so that the stream stays ``lead_seconds`` ahead of real time."""
    target = int((elapsed_seconds + lead_seconds) * BYTES_PER_SECOND)
    due = max(0, target - written_bytes)
    return due - due % 2


class AudioFeed:
    """The utterance on air, placed in monotonic time; a new one cuts the last one off."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._start = 0.0
        self._pcm = b""

    def say(self, pcm: bytes, at: float | None = None) -> None:
        with self._lock:
            self._start, self._pcm = (time.monotonic() if at is None else at), pcm

    def window(self, start: float, size: int) -> bytes:
        """``size`` bytes of sound for the moment ``start`` (monotonic seconds) onwards."""
        with self._lock:
            offset = int((start - self._start) * BYTES_PER_SECOND)
            pcm = self._pcm
        offset -= offset % 2
        if offset >= len(pcm) or offset + size <= 0:
            return bytes(size)
        begin = max(0, offset)
        piece = pcm[begin: offset + size]
        return bytes(begin - offset) + piece + bytes(size - (begin - offset) - len(piece))


class Speaker:
    """Turns a turn's text into speech on the feed, in a background thread (synthesis takes time)."""

    def __init__(self, engine: str, feed: AudioFeed) -> None:
        self.engine, self.feed = engine, feed
        self._voices: dict[str, str] = {}
        self.last_error: str | None = None

    def voice(self, speaker: str) -> str:
        return self._voices.setdefault(speaker, VOICES[len(self._voices) % len(VOICES)])

    def say(self, speaker: str, text: str) -> None:
        voice = self.voice(speaker)
        threading.Thread(target=self._speak, args=(voice, text), name="speech", daemon=True).start()

    def _speak(self, voice: str, text: str) -> None:
        try:
            self.feed.say(synthesize(self.engine, text, voice))
        except (ConfigError, OSError, subprocess.TimeoutExpired) as exc:
            self.last_error = str(exc)  # the picture goes on without the voice
