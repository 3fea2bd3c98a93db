"""Encode once, fan out, supervise every output: the seed's MultiPlatformStreamer, for real.

One encoder per quality tier turns the scene into MPEG-TS. A fan-out thread hands each chunk to
every consumer of that tier (destinations and the recorder) through the consumer's own bounded
queue: a slow or dead consumer loses its own chunks and never stalls the others. Each consumer is
an ffmpeg that copies the stream to its destination, under its own supervisor: connect timeout,
stall detection, backoff with jitter, a switch to the backup URL after repeated failures, and its
own ``-progress`` statistics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import queue
import random
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from . import media, memory, speech
from .speech import AudioFeed
from .destinations import QUALITY_PRESETS, StreamConfig, StreamPlatform, StreamQuality, mask_in_text
from .errors import ConfigError
from .timeutil import posix_tz

log = logging.getLogger(__name__)

CHUNK_BYTES = media.MPEGTS_PACKET * 348  # about 64 KiB, whole TS packets
BACKUP_AFTER_FAILURES = 3
SESSION_SHARE = 0.95  # re-publish at 95 % of a platform's session limit (Facebook 8 h: after 7.6 h)
GOP_CACHE_CHUNKS = 128  # far more than one 2-second GOP at any preset
MIN_FREE_FLOOR_BYTES = 2**20  # a recorder never writes on with less free space than this
END_GRACE_SECONDS = 5.0  # an output's ffmpeg gets this long to finish after the end of its input
_WAKE = b""  # put in a consumer's queue to wake its writer


class StreamStatus(str, Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass
class StreamMetrics:
    """What one output measured; ``viewers`` is None when no source can tell (unknown, not 0)."""

    status: StreamStatus = StreamStatus.IDLE
    bitrate_kbps: float | None = None
    fps: float | None = None
    dropped_frames: int = 0
    bytes_sent: int = 0
    uptime_seconds: float = 0.0
    reconnects: int = 0
    dropped_chunks: int = 0  # chunks the fan-out dropped because this output lagged behind
    speed: float | None = None
    last_error: str | None = None
    viewers: int | None = None
    using_backup: bool = False
    recent_errors: list[str] = field(default_factory=list)  # the last few, newest last

    def note_error(self, message: str) -> None:
        self.last_error = message
        if not self.recent_errors or self.recent_errors[-1] != message:
            self.recent_errors = [*self.recent_errors[-4:], message]

    def to_doc(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


@dataclass(frozen=True)
class OutputPolicy:
    """How one output is kept alive: timeouts, backoff, and how much it may lag before losing chunks."""

    stall_seconds: float = 10.0
    connect_timeout: float = 15.0
    retry_base: float = 0.5
    retry_cap: float = 1.5  # a returning server is published to again within about 1.5 s
    max_attempts: int | None = None  # None: retry for as long as the broadcast runs
    queue_chunks: int = 256  # about 16 MiB, many seconds of media at any preset
    max_session_seconds: float | None = None  # the platform ends longer sessions: re-publish before
    owner: str | None = None  # tag for the ffmpeg processes (the data directory): see media.end_leftovers

    def replace(self, **changes: Any) -> "OutputPolicy":
        return dataclasses.replace(self, **changes)


def backoff_delay(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with ±20 % jitter (so many outputs do not retry in lock-step)."""
    return min(cap, base * 2 ** max(0, failures - 1)) * rng.uniform(0.8, 1.2)


def explain_ffmpeg_error(line: str) -> str:
    """ffmpeg's last words, in plain words where we know them (secrets already masked)."""
    lowered = line.lower()
    if "already publishing" in lowered or "already publish" in lowered:
        return f"the server says this stream key is already publishing (another encoder is live on it): {line}"
    if "connection refused" in lowered:
        return f"the server refused the connection (is it running, is the URL right?): {line}"
    if "connection timed out" in lowered or "timed out" in lowered:
        return f"the server did not answer in time: {line}"
    if "no space left on device" in lowered:
        return f"the disk is full: {line}"
    if "broken pipe" in lowered or "connection reset" in lowered:
        return f"the server closed the connection: {line}"
    return line


def _kill_group(process: subprocess.Popen[bytes], grace: float = 3.0) -> None:
    """Stop an ffmpeg and anything it started; never leave an orphan."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Consumer:
    """One ffmpeg reading the shared MPEG-TS on stdin, kept alive by its own supervisor thread."""

    def __init__(
        self,
        name: str,
        make_args: Callable[[int], list[str]],
        policy: OutputPolicy = OutputPolicy(),
        *,
        secrets: Callable[[], Iterable[str]] = lambda: (),
    ) -> None:
        self.name = name
        self.metrics = StreamMetrics()
        self._make_args = make_args
        self._secrets = secrets
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=policy.queue_chunks)
        self.policy = policy
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._last_progress = 0.0
        self._live_since: float | None = None
        self._bytes_before = 0
        self._uptime_before = 0.0
        self._media_time = 0.0
        self._points: deque[media.ProgressPoint] = deque(maxlen=64)  # this run's recent progress
        self.primer: Callable[[Consumer], None] | None = None  # set by the encoder it is attached to
        self._rng = random.Random()

    # -- the fan-out side: never blocks --

    def feed(self, chunk: bytes) -> None:
        try:
            self._queue.put_nowait(chunk)
        except queue.Full:
            self.metrics.dropped_chunks += 1

    # -- life cycle --

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"output-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """End the output cleanly: its ffmpeg sees the end of its input and finishes the stream or file."""
        self._stop.set()
        self._wake_writer()
        if self._thread is not None:
            self._thread.join(timeout)
        process = self._process
        if process is not None:
            _kill_group(process, grace=0)  # only if the supervisor thread could not end it
        self.metrics.status = StreamStatus.STOPPED

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def _supervise(self) -> None:
        failures = 0
        while not self._stop.is_set():
            outcome = self._run_once(failures)
            if self._stop.is_set():
                break
            self.metrics.reconnects += 1
            if outcome == "republish":  # planned (a platform's session limit): at once, not a failure
                continue
            failures = 1 if outcome == "was_live" else failures + 1  # a live spell starts the count anew
            if self.policy.max_attempts is not None and failures >= self.policy.max_attempts:
                self.metrics.status = StreamStatus.ERROR
                log.warning("output %s gave up after %d attempts: %s", self.name, failures, self.metrics.last_error)
                return
            self.metrics.status = StreamStatus.RECONNECTING
            self._stop.wait(backoff_delay(failures, self.policy.retry_base, self.policy.retry_cap, self._rng))

    def _run_once(self, failures: int) -> str:
        """One ffmpeg from start to end: 'republish', 'was_live' or 'failed'."""
        try:
            args = self._make_args(failures)
        except ConfigError as exc:
            self.metrics.note_error(str(exc))
            return "failed"
        self._restart_queue()
        process = media.spawn(args, self.policy.owner)
        self._process = process
        self.metrics.status = StreamStatus.CONNECTING if failures == 0 else StreamStatus.RECONNECTING
        self._last_progress, self._live_since, self._media_time = time.monotonic(), None, 0.0
        self._points.clear()
        ending = threading.Event()
        readers = [threading.Thread(target=self._read_progress, args=(process,), daemon=True, name=f"{self.name}-progress"),
                   threading.Thread(target=self._read_errors, args=(process,), daemon=True, name=f"{self.name}-errors"),
                   threading.Thread(target=self._write, args=(process, ending), daemon=True, name=f"{self.name}-writer")]
        for reader in readers:
            reader.start()
        planned = self._watch(process)
        if planned or self._stop.is_set():
            self._end(process, ending)
        else:  # it ended by itself, or hung (stalled, never connected): no grace to wait out
            ending.set()
            _kill_group(process)
        for reader in readers:
            reader.join(5)
        media.release(process)
        self._bytes_before, self._uptime_before = self.metrics.bytes_sent, self.metrics.uptime_seconds
        self.metrics.bitrate_kbps = self.metrics.fps = self.metrics.speed = None
        return "republish" if planned else "was_live" if self._live_since is not None else "failed"

    def _watch(self, process: subprocess.Popen[bytes]) -> bool:
        """Wait for the process to end, or end it when it stalls or never connects.

        Returns True when it was ended on purpose, to re-publish before a session limit.
        """
        while not self._stop.is_set() and process.poll() is None:
            quiet = time.monotonic() - self._last_progress
            if self._live_since is None and quiet > self.policy.connect_timeout:
                self.metrics.note_error(f"no connection within {self.policy.connect_timeout:.0f} s")
                return False
            if self._live_since is not None and quiet > self.policy.stall_seconds:
                self.metrics.note_error(f"stalled: no progress for {quiet:.0f} s")
                return False
            limit = self.policy.max_session_seconds
            if self._live_since is not None and limit and time.monotonic() - self._live_since > limit:
                log.info("output %s: re-publishing before the platform's %.0f s session limit", self.name, limit)
                return True
            self._stop.wait(0.25)
        return False

    def _restart_queue(self) -> None:
        """A fresh process starts at the latest keyframe (the encoder's primer), not at stale chunks."""
        primer = self.primer
        if primer is not None:
            primer(self)
        else:
            self._drain_queue()

    def reset_queue(self, chunks: list[bytes]) -> None:
        self._drain_queue()
        for chunk in chunks:
            self.feed(chunk)

    def _drain_queue(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return

    def _end(self, process: subprocess.Popen[bytes], ending: threading.Event) -> None:
        """A planned end: end of input first, so ffmpeg writes its trailer and unpublishes (a signal
        would leave the server and the file mid-stream, and an ffmpeg blocked reading a quiet pipe
        ignores SIGTERM); signals only if it has not ended within the grace."""
        ending.set()
        self._wake_writer()
        try:
            process.wait(END_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("output %s did not end within %.0f s of its input's end: killed", self.name, END_GRACE_SECONDS)
        _kill_group(process)

    def _wake_writer(self) -> None:
        try:
            self._queue.put_nowait(_WAKE)
        except queue.Full:
            pass  # a full queue wakes the writer anyway

    def _write(self, process: subprocess.Popen[bytes], ending: threading.Event) -> None:
        """The only thread that touches the ffmpeg's stdin; closing it is the end of the output."""
        assert process.stdin is not None
        try:
            while process.poll() is None and not ending.is_set() and not self._stop.is_set():
                try:
                    chunk = self._queue.get(timeout=0.5)
                except queue.Empty:
                    continue
                if chunk:  # not a wake-up
                    process.stdin.write(chunk)
        except (BrokenPipeError, OSError, ValueError):
            pass
        finally:
            try:
                process.stdin.close()
            except (BrokenPipeError, OSError):
                pass

    def _read_progress(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        block: list[str] = []
        for raw in iter(process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            block.append(line)
            if line.startswith("progress="):
                self._apply_progress(media.parse_progress(block))
                block = []

    def _apply_progress(self, block: Mapping[str, str]) -> None:
        sized = block.get("total_size", "N/A") != "N/A"
        written = int(block.get("total_size", "0") or 0) if sized else 0
        media_time = media.out_seconds(block) or 0.0
        # Progress is media time moving on (the segment muxer reports no size) or bytes going out.
        advanced = media_time > self._media_time or self._bytes_before + written > self.metrics.bytes_sent
        self._media_time = max(self._media_time, media_time)
        self.metrics.bytes_sent = max(self.metrics.bytes_sent, self._bytes_before + written)
        self._points.append(media.ProgressPoint(time.monotonic(), written if sized else None, self._media_time))
        kbps, self.metrics.speed = media.recent_rates(self._points)
        # Over the last seconds; where the muxer gives no size, ffmpeg's average since the start.
        self.metrics.bitrate_kbps = kbps if sized else media.bitrate_kbps(block)
        self.metrics.dropped_frames = int(block.get("drop_frames", "0") or 0)
        fps = block.get("fps")
        self.metrics.fps = float(fps) if fps and fps != "N/A" else None
        if advanced:
            now = time.monotonic()
            self._last_progress = now
            if self._live_since is None:
                self._live_since = now
                self.metrics.status = StreamStatus.LIVE
                self.metrics.last_error = None
            self.metrics.uptime_seconds = self._uptime_before + (now - self._live_since)

    def _read_errors(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        explained = False  # a line we can explain beats the generic lines ffmpeg prints after it
        for raw in iter(process.stderr.readline, b""):
            line = mask_in_text(raw.decode("utf-8", "replace").strip(), list(self._secrets()))
            if not line or "Failed to update header" in line:
                continue
            log.info("output %s: %s", self.name, line)
            explanation = explain_ffmpeg_error(line)
            if explanation != line or not explained:
                self.metrics.note_error(explanation)
                explained = explained or explanation != line


class Encoder:
    """One ffmpeg rendering the scene for one quality tier; its output goes to every consumer."""

    def __init__(self, tier: StreamQuality, args: list[str], retry_cap: float = 10.0,
                 owner: str | None = None, audio: AudioFeed | None = None, tz: str | None = None) -> None:
        self.tier, self._owner, self._audio, self.tz = tier, owner, audio, tz
        self._args = args
        self._consumers: tuple[Consumer, ...] = ()
        self._gop: list[bytes] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._retry_cap = retry_cap
        self.restarts = 0
        self.last_error: str | None = None

    def attach(self, consumer: Consumer) -> None:
        """Add a consumer; it (and each restart of it) begins with the chunks since the last keyframe."""
        with self._lock:
            consumer.primer = self.prime
            self._consumers = (*self._consumers, consumer)

    def prime(self, consumer: Consumer) -> None:
        with self._lock:
            consumer.reset_queue(list(self._gop))

    def detach(self, consumer: Consumer) -> None:
        with self._lock:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)

    @property
    def consumers(self) -> tuple[Consumer, ...]:
        return self._consumers

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._supervise, name=f"encoder-{self.tier.value}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._process is not None:
            _kill_group(self._process)
        if self._thread is not None:
            self._thread.join(timeout)

    def _supervise(self) -> None:
        rng = random.Random()
        while not self._stop.is_set():
            self._process = media.spawn(self._args, self._owner, self.tz)
            helpers = [threading.Thread(target=self._read_errors, args=(self._process,), daemon=True)]
            if self._audio is not None:
                helpers.append(threading.Thread(target=self._feed_audio, args=(self._process, self._audio),
                                                daemon=True, name=f"audio-{self.tier.value}"))
            for helper in helpers:
                helper.start()
            self._fan_out(self._process)
            _kill_group(self._process)
            for helper in helpers:
                helper.join(5)
            media.release(self._process)
            if self._stop.is_set():
                return
            self.restarts += 1
            log.warning("encoder %s stopped (%s); restarting", self.tier.value, self.last_error)
            self._stop.wait(backoff_delay(self.restarts, 0.5, self._retry_cap, rng))

    def _fan_out(self, process: subprocess.Popen[bytes]) -> None:
        """Read whole TS packets and hand each chunk to every consumer (never blocking on one)."""
        assert process.stdout is not None
        pending = b""
        while not self._stop.is_set():
            data = process.stdout.read(CHUNK_BYTES)
            if not data:
                return
            pending += data
            usable = len(pending) - len(pending) % media.MPEGTS_PACKET
            chunk, pending = pending[:usable], pending[usable:]
            with self._lock:
                self._remember(chunk)
                for consumer in self._consumers:
                    consumer.feed(chunk)

    def _remember(self, chunk: bytes) -> None:
        """Keep the chunks since the latest keyframe (the GOP cache that lets outputs start at once)."""
        if media.has_keyframe(chunk):
            self._gop = [chunk]
        elif len(self._gop) < GOP_CACHE_CHUNKS:
            self._gop.append(chunk)

    def _read_errors(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        for raw in iter(process.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self.last_error = line

    def _feed_audio(self, process: subprocess.Popen[bytes], feed: AudioFeed) -> None:
        """Write this encoder's sound in real time: speech where the feed has it, silence elsewhere."""
        assert process.stdin is not None
        started, written = time.monotonic(), 0
        while process.poll() is None and not self._stop.is_set():
            size = speech.bytes_due(time.monotonic() - started, written)
            if size:
                try:
                    process.stdin.write(feed.window(started + written / speech.BYTES_PER_SECOND, size))
                except (BrokenPipeError, OSError, ValueError):
                    return
                written += size
            self._stop.wait(0.05)


@dataclass
class StreamDestination:
    """A configured destination and, while streaming, its output."""

    config: StreamConfig
    consumer: Consumer | None = None
    tier: StreamQuality | None = None  # the adaptive tier when it differs from config.quality

    @property
    def destination_id(self) -> str:
        return self.config.destination_id

    @property
    def metrics(self) -> StreamMetrics:
        return self.consumer.metrics if self.consumer is not None else StreamMetrics(
            status=StreamStatus.IDLE if self.config.enabled else StreamStatus.STOPPED)

    def public_doc(self) -> dict[str, Any]:
        tier = (self.tier or self.config.quality).value
        return {**self.config.public_doc(), "streaming_quality": tier, "metrics": self.metrics.to_doc()}


def recording_space_problem(folder: Path, min_free_bytes: int) -> str | None:
    """Why not to record (on) into ``folder``, measured: its disk's free space below the guard
    (at least 1 MiB); None when there is room."""
    guard = max(min_free_bytes, MIN_FREE_FLOOR_BYTES)
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        return f"the recordings folder is unreadable: {exc.strerror or exc}"
    if free >= guard:
        return None
    return f"{free / 2**20:.1f} MB free on the recordings disk, below the {guard / 2**20:.0f} MB guard"


class StreamRecorder:
    """Local recording: MPEG-TS segments that play while they are being written."""

    def __init__(self, path: Path, segment_seconds: int = 600, min_free_bytes: int = 0) -> None:
        base = path.with_suffix("") if path.suffix else path
        base.parent.mkdir(parents=True, exist_ok=True)
        self.pattern = base.parent / f"{base.name}-%05d.ts"
        self.name = base.name
        self.segment_seconds = segment_seconds
        self.min_free_bytes = max(min_free_bytes, MIN_FREE_FLOOR_BYTES)

    def space_problem(self) -> str | None:
        return recording_space_problem(self.pattern.parent, self.min_free_bytes)

    def files(self) -> list[Path]:
        stem = self.pattern.name.split("-%")[0]
        return sorted(self.pattern.parent.glob(f"{stem}-*.ts"))


class MultiPlatformStreamer:
    """Simultaneous streaming to many destinations, with the seed README's API."""

    def __init__(
        self,
        *,
        scene_dir: Path | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        encode_preset: str = "veryfast",
        stall_seconds: float = 10.0,
        connect_timeout: float = 15.0,
        retry_base: float = 0.5,
        retry_cap: float = 1.5,
        tier_override: media.EncodeSettings | None = None,
        preview_path: Path | None = None,
        owner: str | None = None,
        audio: AudioFeed | None = None,
        clock_zone: Callable[[], str | None] = lambda: None,
    ) -> None:
        memory.keep_big_buffers_out_of_the_heap()  # the chunks below would fragment the heap (see memory.py)
        self.audio = audio  # None: a quiet tone bed instead of speech
        self._clock_zone = clock_zone  # the IANA zone of the on-screen clock (None: the machine's)
        self.preview_path = preview_path
        self._preview: Consumer | None = None
        self.destinations: dict[str, StreamDestination] = {}
        self._env = os.environ if env is None else env
        self._secrets = secrets or {}
        self._scene_dir = scene_dir or Path(os.environ.get("TMPDIR", "/tmp")) / f"ai-council-scene-{os.getpid()}"
        self.scene = media.SceneText(self._scene_dir)
        self._encode_preset = encode_preset
        self._tier_override = tier_override
        self._policy = OutputPolicy(stall_seconds=stall_seconds, connect_timeout=connect_timeout,
                                    retry_base=retry_base, retry_cap=retry_cap, owner=owner)
        self._encoders: dict[StreamQuality, Encoder] = {}
        self._recorder: tuple[StreamRecorder, Consumer] | None = None
        self._last_recorder: StreamRecorder | None = None
        self._lock = threading.RLock()
        self.streaming = False

    # ---- destinations ---------------------------------------------------------------------------

    def add_destination(self, config: StreamConfig) -> StreamDestination:
        """Add (or replace, by id) a destination; while streaming, only this one is touched."""
        if not isinstance(config, StreamConfig):
            raise ConfigError(f"add_destination needs a StreamConfig, got {type(config).__name__}")
        with self._lock:
            if config.destination_id in self.destinations:
                self._stop_output(self.destinations[config.destination_id])
            destination = StreamDestination(config)
            self.destinations[config.destination_id] = destination
            if self.streaming and config.enabled:
                self._start_output(destination)
        return destination

    def remove_destination(self, destination_id: str) -> None:
        with self._lock:
            destination = self._get(destination_id)
            self._stop_output(destination)
            del self.destinations[destination_id]

    def enable_destination(self, destination_id: str) -> None:
        self.add_destination(self._get(destination_id).config.replace(enabled=True))

    def disable_destination(self, destination_id: str) -> None:
        self.add_destination(self._get(destination_id).config.replace(enabled=False))

    def _get(self, destination_id: str) -> StreamDestination:
        try:
            return self.destinations[destination_id]
        except KeyError:
            raise ConfigError(f"no destination with id {destination_id!r}") from None

    # ---- going live -----------------------------------------------------------------------------

    def start(self, recording_path: Path | None = None, segment_seconds: int = 600,
              min_free_bytes: int = 0) -> None:
        """Go live on every enabled destination at once, and record locally when a path is given."""
        with self._lock:
            if self.streaming:
                return
            self.streaming = True
            if self.preview_path is not None:
                self._start_preview(self.preview_path)
            for destination in self.destinations.values():
                if destination.config.enabled:
                    self._start_output(destination)
            if recording_path is not None:
                self.start_recording(recording_path, segment_seconds, min_free_bytes)

    def start_recording(self, recording_path: Path, segment_seconds: int = 600, min_free_bytes: int = 0) -> None:
        """Record what goes out from now on (while streaming); a running recording is ended first.

        The recorder does not (re)start while its disk has less than ``min_free_bytes`` free (at
        least 1 MiB), so a full disk leaves no empty segments behind; see ``recording_space_problem``.
        """
        with self._lock:
            self.stop_recording()
            self._start_recorder(StreamRecorder(Path(recording_path), segment_seconds, min_free_bytes))

    def recording_space_problem(self) -> str | None:
        """The running recording's disk below its guard (then stop it: the outputs go on)."""
        recording = self._recorder
        return recording[0].space_problem() if recording is not None else None

    def stop_recording(self) -> None:
        with self._lock:
            if self._recorder is not None:
                for encoder in self._encoders.values():
                    encoder.detach(self._recorder[1])
                self._recorder[1].stop()
                self._recorder = None

    def stop(self) -> None:
        """Stop every output, the recorder and the encoders; no ffmpeg is left running."""
        with self._lock:
            self.streaming = False
            for destination in self.destinations.values():
                self._stop_output(destination)
            self.stop_recording()
            if self._preview is not None:
                self._preview.stop()
            self._preview = None
            for encoder in self._encoders.values():
                encoder.stop()
            self._encoders.clear()

    async def start_streaming(self, recording_path: Path | None = None) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.start, recording_path)

    async def stop_streaming(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.stop)

    @property
    def recorder(self) -> StreamRecorder | None:
        """The current recording, or the last one after ``stop()``."""
        return self._last_recorder

    def _settings(self, tier: StreamQuality) -> media.EncodeSettings:
        if self._tier_override is not None:
            return self._tier_override
        preset = QUALITY_PRESETS[tier]
        return media.EncodeSettings(preset.width, preset.height, preset.fps, preset.video_kbps,
                                    preset.audio_kbps, self._encode_preset)

    def _encoder(self, tier: StreamQuality) -> Encoder:
        encoder = self._encoders.get(tier)
        if encoder is None:
            args = media.encoder_args(media.ffmpeg_binary(self._env), self._scene_dir, self._settings(tier),
                                      media.font_file(self._env), "speech" if self.audio else "tone")
            zone = self._clock_zone()
            encoder = self._encoders[tier] = Encoder(tier, args, owner=self._policy.owner, audio=self.audio,
                                                     tz=posix_tz(zone) if zone else None)
            encoder.start()
        return encoder

    def retier(self, destination_id: str, tier: StreamQuality) -> None:
        """Stream one destination at another tier (adaptive bitrate); only that output restarts."""
        with self._lock:
            destination = self._get(destination_id)
            if destination.tier is tier:
                return
            destination.tier = tier
            if self.streaming and destination.config.enabled:
                self._stop_output(destination)
                self._start_output(destination)

    def _start_output(self, destination: StreamDestination) -> None:
        config = destination.config
        if config.platform is StreamPlatform.LOCAL_PREVIEW:  # no network: it is the preview itself
            destination.consumer = self._preview
            return
        binary = media.ffmpeg_binary(self._env)

        def make_args(failures: int) -> list[str]:
            use_backup = bool(config.backup_url) and (failures // BACKUP_AFTER_FAILURES) % 2 == 1
            consumer.metrics.using_backup = use_backup
            return self._output_args(binary, config, use_backup)

        consumer = Consumer(config.destination_id, make_args, self._policy_for(config),
                            secrets=lambda: [self._key_or_empty(config)])
        destination.consumer = consumer
        self._encoder(destination.tier or config.quality).attach(consumer)
        consumer.start()

    def _output_args(self, binary: str, config: StreamConfig, backup: bool) -> list[str]:
        key = self._key(config)
        if config.ingest_url.startswith("srt://"):
            return media.output_args(binary, config.publish_url(key, backup=backup))
        url = (config.backup_url if backup else None) or config.ingest_url
        return media.output_args(binary, url.rstrip("/"), playpath=key)

    def _policy_for(self, config: StreamConfig) -> OutputPolicy:
        """The seed's ``max_retry_attempts`` / ``retry_delay_seconds`` and the platform's session limit."""
        policy = self._policy.replace(max_attempts=config.max_retry_attempts)
        hours = config.preset.max_session_hours
        if hours:
            policy = policy.replace(max_session_seconds=hours * 3600 * SESSION_SHARE)
        return policy if config.retry_delay_seconds is None else policy.replace(retry_base=config.retry_delay_seconds)

    def _stop_output(self, destination: StreamDestination) -> None:
        consumer = destination.consumer
        if consumer is not None and consumer is self._preview:  # shared: stop() ends the preview
            destination.consumer = None
            return
        if consumer is None:
            return
        for encoder in self._encoders.values():
            encoder.detach(consumer)
        consumer.stop()

    def _start_recorder(self, recorder: StreamRecorder) -> None:
        binary = media.ffmpeg_binary(self._env)

        def make_args(failures: int) -> list[str]:
            problem = recorder.space_problem()
            if problem is not None:
                raise ConfigError(f"not recording: {problem}")
            return media.recorder_args(binary, recorder.pattern, recorder.segment_seconds,
                                       start_number=len(recorder.files()))

        consumer = Consumer("recorder", make_args, self._policy)
        self._recorder, self._last_recorder = (recorder, consumer), recorder
        self._start_local(consumer)

    def _start_preview(self, target: Path) -> None:
        binary = media.ffmpeg_binary(self._env)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._preview = Consumer("preview", lambda _: media.preview_args(binary, target), self._policy)
        self._start_local(self._preview)

    def _start_local(self, consumer: Consumer) -> None:
        """Recorder and preview follow the best tier in use (MEDIUM when no destination is enabled)."""
        tiers = [d.config.quality for d in self.destinations.values() if d.config.enabled]
        best = max(tiers, key=lambda tier: QUALITY_PRESETS[tier].height, default=StreamQuality.MEDIUM)
        self._encoder(best).attach(consumer)
        consumer.start()

    def _key(self, config: StreamConfig) -> str:
        return config.resolve_key(self._env, self._secrets)

    def _key_or_empty(self, config: StreamConfig) -> str:
        try:
            return self._key(config)
        except ConfigError:
            return ""

    # ---- statistics -----------------------------------------------------------------------------

    def get_statistics(self) -> dict[str, Any]:
        """The seed's keys: live destinations, total viewers (None when unknown), average bitrate."""
        with self._lock:
            metrics = [d.metrics for d in self.destinations.values()]
        live = [m for m in metrics if m.status is StreamStatus.LIVE]
        rates = [m.bitrate_kbps for m in live if m.bitrate_kbps is not None]
        viewers = [m.viewers for m in live if m.viewers is not None]
        return {
            "live_destinations": len(live),
            "total_destinations": len(metrics),
            "total_viewers": sum(viewers) if viewers else None,
            "average_bitrate_kbps": round(sum(rates) / len(rates), 1) if rates else None,
            "bytes_sent": sum(m.bytes_sent for m in metrics),
            "reconnects": sum(m.reconnects for m in metrics),
            "streaming": self.streaming,
            "recording": self._recorder[1].metrics.to_doc() if self._recorder else None,
        }

    def ffmpeg_pids(self) -> list[int]:
        """Every ffmpeg this streamer runs now (for tests and the health page)."""
        pids = [d.consumer.pid for d in self.destinations.values() if d.consumer is not None]
        pids += [e._process.pid for e in self._encoders.values() if e._process and e._process.poll() is None]
        if self._recorder is not None:
            pids.append(self._recorder[1].pid)
        return [pid for pid in pids if pid is not None]
