"""ffmpeg as data: the binary, the argument lists, the scene's text files, progress parsing.

Everything here is a pure function of its inputs except ``spawn`` (the one place that starts an
ffmpeg process) and ``SceneText`` (which writes the small text files the encoder re-reads).
Argument lists are lists: a stream key or URL is one argv element and never passes a shell.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .errors import ConfigError

MPEGTS_PACKET = 188
# Our own encoder's stream needs no long look: it starts at a keyframe (the GOP cache) with
# in-band H.264 headers, and every AAC frame carries its own.
FAST_PROBE = ("-analyzeduration", "500000", "-probesize", "500000", "-fflags", "+nobuffer")


@dataclass(frozen=True)
class EncodeSettings:
    """One quality tier: what the encoder produces once for every destination on that tier."""

    width: int
    height: int
    fps: int
    video_kbps: int
    audio_kbps: int = 128
    preset: str = "veryfast"  # x264 speed; tests use ultrafast


def ffmpeg_binary(env: Mapping[str, str] | None = None) -> str:
    """``AI_COUNCIL_FFMPEG`` if set, else the binary shipped in the imageio-ffmpeg wheel."""
    env = os.environ if env is None else env
    named = env.get("AI_COUNCIL_FFMPEG", "").strip()
    if named:
        found = shutil.which(named) or (named if Path(named).is_file() else None)
        if not found or not os.access(found, os.X_OK):
            raise ConfigError(f"AI_COUNCIL_FFMPEG must name an executable ffmpeg, got {named!r}")
        return found
    import imageio_ffmpeg  # imported late: it looks for the binary on import of get_ffmpeg_exe

    return imageio_ffmpeg.get_ffmpeg_exe()


def font_file(env: Mapping[str, str] | None = None) -> str:
    """The TrueType font for drawtext: ``AI_COUNCIL_FONT``, else Source Sans Pro from its wheel."""
    env = os.environ if env is None else env
    named = env.get("AI_COUNCIL_FONT", "").strip()
    if named:
        if not Path(named).is_file():
            raise ConfigError(f"AI_COUNCIL_FONT must name a .ttf or .otf file, got {named!r}")
        return named
    import font_source_sans_pro  # a wheel that ships the font files: no system fonts needed

    return str(Path(font_source_sans_pro.__file__).parent / "files" / "SourceSansPro-Semibold.ttf")


# ---- the scene ----------------------------------------------------------------------------------


def _escape_filter_value(value: str) -> str:
    """Escape a value inside a filtergraph option (paths may hold ':' or ',')."""
    for char in ("\\", ":", "'", ",", ";", "[", "]", "="):
        value = value.replace(char, "\\" + char)
    return value


def _drawtext(textfile: Path, font: str | None, size: int, x: str, y: str, colour: str = "white") -> str:
    options = [f"textfile={_escape_filter_value(str(textfile))}", "reload=1", f"fontsize={size}",
               f"fontcolor={colour}", f"x={x}", f"y={y}", "expansion=none"]
    if font:
        options.insert(0, f"fontfile={_escape_filter_value(font)}")
    return "drawtext=" + ":".join(options)


def _clock(font: str | None, size: int, x: str, y: str) -> str:
    """The date and time, drawn by ffmpeg itself on every frame, in the zone of its ``TZ``."""
    options = ["text=%{localtime}", f"fontsize={size}", "fontcolor=0xb0b8c8", f"x={x}", f"y={y}"]
    if font:
        options.insert(0, f"fontfile={_escape_filter_value(font)}")
    return "drawtext=" + ":".join(options)


def scene_filter(folder: Path, settings: EncodeSettings, font: str | None) -> str:
    """The video filter: a title bar with the topic, the speaker, the words, a footer and a clock."""
    unit = max(12, settings.height // 24)
    bar = f"drawbox=x=0:y=0:w=iw:h={unit * 3}:color=0x1f3b73@1:t=fill"
    parts = [
        bar,
        _drawtext(folder / "title.txt", font, int(unit * 1.3), "(w-text_w)/2", str(unit)),
        _drawtext(folder / "speaker.txt", font, int(unit * 1.2), str(unit * 2), str(unit * 5), "0xf5b942"),
        _drawtext(folder / "words.txt", font, unit, str(unit * 2), str(unit * 7)),
        _drawtext(folder / "footer.txt", font, int(unit * 0.8), str(unit * 2), f"h-{unit * 2}", "0xb0b8c8"),
        _clock(font, int(unit * 0.8), f"w-text_w-{unit * 2}", f"h-{unit * 2}"),
    ]
    return ",".join(parts)


def encoder_args(
    binary: str, folder: Path, settings: EncodeSettings, font: str | None, audio: str = "tone"
) -> list[str]:
    """Scene + sound -> H.264/AAC MPEG-TS on stdout, with settings every platform accepts.

    A keyframe every 2 s exactly, constant bitrate with a buffer of one second, 48 kHz stereo AAC.
    Headers stay in-band (no global header) so an output that joins mid-stream can start at the
    next keyframe; the flv muxers of the outputs build their own global headers from them.
    """
    size, fps, kbps = f"{settings.width}x{settings.height}", settings.fps, settings.video_kbps
    sound = {  # "speech": raw PCM from our pacing thread on stdin (see speech.py)
        "speech": ["-f", "s16le", "-ar", "22050", "-ac", "1", "-i", "pipe:0"],
        "tone": ["-re", "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=48000,volume=0.03"],
        "silence": ["-re", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo"],
    }[audio]
    return [
        binary, "-hide_banner", "-loglevel", "warning", *([] if audio == "speech" else ["-nostdin"]),
        "-re", "-f", "lavfi", "-i", f"color=c=0x14161c:s={size}:r={fps}",
        *sound,
        "-filter_complex", f"[0:v]{scene_filter(folder, settings, font)},format=yuv420p[v]",
        "-map", "[v]", "-map", "1:a",
        "-c:v", "libx264", "-preset", settings.preset, "-tune", "zerolatency", "-profile:v", "high",
        "-b:v", f"{kbps}k", "-minrate", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps}k",
        "-g", str(fps * 2), "-keyint_min", str(fps * 2), "-sc_threshold", "0",
        "-force_key_frames", "expr:gte(t,n_forced*2)", "-x264-params", "nal-hrd=cbr",
        "-c:a", "aac", "-b:a", f"{settings.audio_kbps}k", "-ar", "48000", "-ac", "2",
        "-f", "mpegts", "-muxdelay", "0", "pipe:1",
    ]


def output_args(binary: str, url: str, playpath: str | None = None) -> list[str]:
    """MPEG-TS on stdin -> one destination, stream copy, with machine-readable progress on stdout.

    For RTMP the stream key goes in ``-rtmp_playpath``, one argv element that ffmpeg sends as it
    is (inside the URL it would need escaping that ffmpeg does not undo).
    """
    muxer = "mpegts" if url.startswith("srt://") else "flv"
    key = ["-rtmp_playpath", playpath] if playpath is not None else []
    return [  # errors only: joining mid-stream, the parser warns until the next keyframe
        binary, "-hide_banner", "-loglevel", "error", "-nostdin", "-nostats",
        "-progress", "pipe:1", "-stats_period", "0.5",
        *FAST_PROBE, "-f", "mpegts", "-i", "pipe:0", "-map", "0", "-c", "copy",
        "-rw_timeout", "10000000", *key, "-f", muxer, url,
    ]


def recorder_args(binary: str, pattern: Path, segment_seconds: int, start_number: int = 0) -> list[str]:
    """MPEG-TS on stdin -> segments of ``segment_seconds`` that play while being written.

    A restarted recorder continues at ``start_number`` instead of overwriting earlier segments.
    """
    return [
        binary, "-hide_banner", "-loglevel", "warning", "-nostdin", "-nostats",
        "-progress", "pipe:1", "-stats_period", "0.5",
        "-f", "mpegts", "-i", "pipe:0", "-map", "0", "-c", "copy",
        "-f", "segment", "-segment_time", str(segment_seconds), "-segment_format", "mpegts",
        "-segment_start_number", str(start_number), "-reset_timestamps", "1", str(pattern),
    ]


def preview_args(binary: str, target: Path, every_seconds: int = 3, width: int = 640) -> list[str]:
    """MPEG-TS on stdin -> one JPEG of the outgoing picture, replaced every few seconds."""
    return [
        binary, "-hide_banner", "-loglevel", "error", "-nostdin", "-nostats",
        "-progress", "pipe:1", "-stats_period", "0.5",
        "-f", "mpegts", "-i", "pipe:0", "-map", "0:v", "-vf", f"fps=1/{every_seconds},scale={width}:-2",
        "-q:v", "5", "-update", "1", "-atomic_writing", "1", "-y", str(target),
    ]


def probe_publish_args(binary: str, url: str, seconds: int, playpath: str | None = None) -> list[str]:
    """A few seconds of test picture and tone published to a destination ("Test" button)."""
    key = ["-rtmp_playpath", playpath] if playpath is not None else []
    muxer = "mpegts" if url.startswith("srt://") else "flv"
    return [
        binary, "-hide_banner", "-loglevel", "error", "-nostdin",
        "-re", "-f", "lavfi", "-i", "testsrc2=s=640x360:r=30", "-re", "-f", "lavfi", "-i",
        "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
        "-g", "60", "-b:v", "800k", "-c:a", "aac", "-b:a", "96k", "-ar", "48000",
        "-rw_timeout", "10000000", *key, "-f", muxer, url,
    ]


OWNER_VARIABLE = "AI_COUNCIL_FFMPEG_OWNER"


def spawn(args: Sequence[str], owner: str | None = None, tz: str | None = None) -> subprocess.Popen[bytes]:
    """The one place that starts ffmpeg: its own process group, pipes for data, progress and errors.

    ``owner`` (the data directory) is put in the child's environment, so that a later start can
    find and end what a crashed process left running (``end_leftovers``); ``tz`` (a POSIX rule,
    see ``timeutil.posix_tz``) is the zone of the on-screen clock.
    """
    extra = {**({OWNER_VARIABLE: owner} if owner else {}), **({"TZ": tz} if tz else {})}
    env = {**os.environ, **extra} if extra else None
    return subprocess.Popen(
        list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, bufsize=0, env=env)


def release(process: subprocess.Popen[bytes]) -> None:
    """Close an ended ffmpeg's pipes now, once its reader threads are done (else each waits for
    the garbage collector: seven descriptors a debate)."""
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            try:
                pipe.close()
            except OSError:
                pass


def end_leftovers(owner: str) -> list[int]:
    """Kill the ffmpeg processes a previous run for ``owner`` left behind; returns their pids."""
    import psutil

    ended = []
    for process in psutil.process_iter(["pid", "name"]):
        try:
            if "ffmpeg" in (process.info["name"] or "") and process.environ().get(OWNER_VARIABLE) == owner:
                process.kill()
                ended.append(process.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return ended


# ---- MPEG-TS -----------------------------------------------------------------------------------

VIDEO_PID = 0x100  # ffmpeg's mpegts muxer numbers streams from 0x100; our encoder maps video first


def has_keyframe(chunk: bytes, pid: int = VIDEO_PID) -> bool:
    """True when a TS packet of ``pid`` in ``chunk`` sets random_access_indicator (a keyframe starts)."""
    for start in range(0, len(chunk) - MPEGTS_PACKET + 1, MPEGTS_PACKET):
        if chunk[start] != 0x47 or ((chunk[start + 1] & 0x1F) << 8 | chunk[start + 2]) != pid:
            continue
        has_adaptation = chunk[start + 3] & 0x20
        if has_adaptation and chunk[start + 4] > 0 and chunk[start + 5] & 0x40:
            return True
    return False


def media_seconds(binary: str, path: Path) -> float | None:
    """How long a recording plays: its packets are read (not decoded) to the end; None if unreadable."""
    result = subprocess.run([binary, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0", "-c", "copy",
                             "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", result.stderr)
    if not times:
        return None
    hours, minutes, seconds = times[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


# ---- progress -----------------------------------------------------------------------------------


def parse_progress(lines: Iterable[str]) -> dict[str, str]:
    """One ``-progress`` block (key=value lines up to ``progress=continue|end``) as a dict."""
    block: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if sep:
            block[key] = value
    return block


def bitrate_kbps(block: Mapping[str, str]) -> float | None:
    """``bitrate=  3012.4kbits/s`` -> 3012.4; 'N/A' -> None."""
    raw = block.get("bitrate", "").strip().removesuffix("kbits/s").strip()
    try:
        return float(raw)
    except ValueError:
        return None


def out_seconds(block: Mapping[str, str]) -> float | None:
    """Media time written so far (``out_time_us``, falling back to ``out_time_ms``, both in µs)."""
    for key in ("out_time_us", "out_time_ms"):
        try:
            return int(block[key]) / 1_000_000
        except (KeyError, ValueError):
            continue
    return None


@dataclass(frozen=True)
class ProgressPoint:
    """One ``-progress`` block as a point in time: what had gone out by then."""

    at: float  # monotonic seconds
    bytes_sent: int | None  # None where the muxer reports no size (the segment recorder)
    media_seconds: float


RATE_WINDOW_SECONDS = 5.0
MIN_RATE_SPAN_SECONDS = 1.0


def recent_rates(points: Sequence[ProgressPoint], window: float = RATE_WINDOW_SECONDS
                 ) -> tuple[float | None, float | None]:
    """Bitrate (kbps) and send speed (media seconds per second) over the last ``window`` seconds.

    ffmpeg's own ``bitrate=`` and ``speed=`` are averages since the process started: they climb
    for a minute after going live and hide a destination that has just fallen behind. None until
    the points span a second (and bitrate None where the muxer reports no size).
    """
    if len(points) < 2:
        return None, None
    last = points[-1]
    first = next(point for point in points if last.at - point.at <= window)
    span = last.at - first.at
    if span < MIN_RATE_SPAN_SECONDS:
        return None, None
    speed_now = max(0.0, last.media_seconds - first.media_seconds) / span
    if last.bytes_sent is None or first.bytes_sent is None:
        return None, round(speed_now, 3)
    return round(max(0, last.bytes_sent - first.bytes_sent) * 8 / 1000 / span, 1), round(speed_now, 3)


def speed(block: Mapping[str, str]) -> float | None:
    raw = block.get("speed", "").strip().removesuffix("x")
    try:
        return float(raw)
    except ValueError:
        return None


# ---- the scene's words --------------------------------------------------------------------------


def wrap_words(text: str, width: int = 60, max_lines: int = 9) -> str:
    """Long turns wrapped for the picture; beyond ``max_lines`` the last line ends with an ellipsis."""
    lines = textwrap.wrap(" ".join(text.split()), width=width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, width - 1)].rstrip() + "…"
    return "\n".join(lines)


class SceneText:
    """The text files the encoder re-reads every frame; each is replaced atomically."""

    FILES = ("title.txt", "speaker.txt", "words.txt", "footer.txt")

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.FILES:
            if not (folder / name).exists():
                self._write(name, " ")

    def show(self, *, title: str, speaker: str = "", words: str = "", footer: str = "", width: int = 60) -> None:
        self._write("title.txt", title or " ")
        self._write("speaker.txt", speaker or " ")
        self._write("words.txt", wrap_words(words, width) if words else " ")
        self._write("footer.txt", footer or " ")

    def _write(self, name: str, text: str) -> None:
        temporary = self.folder / f".{name}.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.folder / name)
