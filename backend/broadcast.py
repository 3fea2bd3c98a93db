"""The show: a debate becomes a live broadcast on every enabled destination and a local recording.

``Broadcast`` observes the scheduler: when a debate starts it puts the topic on screen and goes
live; each turn replaces the speaker and the words; when it ends the outputs stop. It also keeps
the destinations (their settings in the Store, literal keys in the owner-only key file).
"""

from __future__ import annotations

import logging
import re
import subprocess
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

from . import media, speech
from .debates import Turn
from .destinations import KeyStore, StreamConfig, is_key_reference, mask_in_text
from .errors import ConfigError, CouncilError
from .models import ScheduledDebate
from .storage import Store
from .bitrate import AdaptiveBitrateManager, NetworkSample, TierChange, measure_rtt_ms
from .streaming import MultiPlatformStreamer, explain_ffmpeg_error, recording_space_problem
from .viewers import FROM_DESTINATION, SECRET_ARGUMENTS, ViewerReading, ViewerSource, source_from_doc

log = logging.getLogger(__name__)

BETWEEN_MODES = ("stop", "slate")  # between debates: outputs stop, or stay live showing the next debate
RECORDING_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}\.ts")
TEST_SECONDS = 5


@dataclass(frozen=True)
class Recording:
    name: str
    size_bytes: int
    modified: datetime
    seconds: float | None  # how long it plays; None while unknown (only the newest are measured)


class RecordingShelf:
    """The recordings folder as pages see it, in the backend's process or a dashboard beside it."""

    def __init__(self, folder: Path, env: Mapping[str, str]) -> None:
        self.folder, self._env = folder, env
        self._durations: dict[tuple[str, int, float], float | None] = {}

    def list(self, measure: int = 20) -> list[Recording]:
        """Newest first; the newest ``measure`` get their playing time (cached by name, size and time)."""
        if not self.folder.is_dir():
            return []
        files = sorted(self.folder.glob("*.ts"), key=lambda p: p.stat().st_mtime, reverse=True)
        return [self._recording(path, index < measure) for index, path in enumerate(files)]

    def _recording(self, path: Path, measure: bool) -> Recording:
        info = path.stat()
        key = (path.name, info.st_size, info.st_mtime)
        if measure and key not in self._durations:
            self._durations[key] = media.media_seconds(media.ffmpeg_binary(self._env), path)
        modified = datetime.fromtimestamp(info.st_mtime).astimezone()
        return Recording(path.name, info.st_size, modified, self._durations.get(key))

    def path(self, name: str) -> Path:
        """The file for a download; names are checked, so no path trick reaches outside the folder."""
        if not RECORDING_NAME.fullmatch(name) or not (self.folder / name).is_file():
            raise ConfigError(f"no recording named {name!r}")
        return self.folder / name


def check_viewer_source(doc: Mapping[str, Any]) -> None:
    """A viewer source as it may be stored: secrets only as references, every other argument
    valid (checked with stand-ins for what only the backend's process can resolve)."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"a viewer source must be an object with a kind, got {type(doc).__name__}")
    for name in SECRET_ARGUMENTS:
        if name in doc and not (isinstance(doc[name], str) and is_key_reference(doc[name])):
            raise ConfigError(f"{name} must be a reference such as env:YOUTUBE_API_KEY or secret:NAME; "
                              "secrets are not stored in the destination")
    build_viewer_source(doc, resolve=lambda reference: "stand-in", destination_key=lambda: "stand-in")


def build_viewer_source(doc: Mapping[str, Any], resolve: Callable[[str], str],
                        destination_key: Callable[[], str]) -> ViewerSource:
    """The source a stored document describes: its secret references resolved, and the argument a
    destination supplies (nginx-rtmp's stream: the key it publishes with) filled in when left out."""
    resolved = {name: resolve(value) if name in SECRET_ARGUMENTS else value for name, value in doc.items()}
    implied = FROM_DESTINATION.get(str(doc.get("kind")))
    if implied and not resolved.get(implied):
        resolved[implied] = destination_key()
    return source_from_doc(resolved)


class Broadcast:
    """Destinations, the streamer, the recording and the preview, driven by the debates."""

    def __init__(self, data_dir: Path, store: Store, env: Mapping[str, str],
                 secrets: Mapping[str, str] | None = None, encode_preset: str = "veryfast",
                 min_free_mb: int = 1024, on_problem: Callable[[str, str], None] | None = None,
                 between: str = "stop", next_up: Callable[[], str] = lambda: "",
                 on_recovered: Callable[[str, str], None] | None = None,
                 clock_zone: Callable[[], str | None] = lambda: None) -> None:
        if between not in BETWEEN_MODES:
            raise ConfigError(f"between debates must be one of {', '.join(BETWEEN_MODES)}, got {between!r}")
        self.between, self._next_up = between, next_up
        self._store, self._env, self._secrets = store, env, secrets or {}
        self._min_free_bytes = min_free_mb * 1024 * 1024
        self._on_problem = on_problem or (lambda condition, message: log.warning("%s", message))
        self._on_recovered = on_recovered or (lambda condition, message: None)
        self.recordings_dir = data_dir / "recordings"
        self.preview_path = data_dir / "preview" / "preview.jpg"
        self.keys = KeyStore(data_dir)
        owner = str(data_dir.resolve())
        for pid in media.end_leftovers(owner):
            log.warning("ended ffmpeg %d left running by an earlier process on %s", pid, data_dir)
        engine = speech.speech_engine(env)
        self.speaker = speech.Speaker(engine, speech.AudioFeed()) if engine else None
        self.streamer = MultiPlatformStreamer(scene_dir=data_dir / "scene", env=env, secrets=secrets,
                                              encode_preset=encode_preset, preview_path=self.preview_path,
                                              owner=owner, audio=self.speaker.feed if self.speaker else None,
                                              clock_zone=clock_zone)
        self.problems: list[str] = list(self.keys.problems)
        self.bitrate = AdaptiveBitrateManager()
        self.viewer_readings: dict[str, ViewerReading] = {}
        self.shelf = RecordingShelf(self.recordings_dir, env)
        self.rtt_ms: dict[str, float | None] = {}  # TCP connect time to each ingest host, measured
        self._reading = threading.Lock()
        for doc in store.destinations.all():
            self._load(doc)
        self.show_slate()

    def start(self) -> None:
        """In slate mode the broadcast is on air around the clock, from start-up on."""
        if self.between == "slate":
            self.streamer.start()

    def show_slate(self) -> None:
        self.streamer.scene.show(title="AI Council", speaker="Between debates",
                                 words=self._next_up() or "No debate is planned yet.", footer="AI Council · live")

    # ---- following the debates (DebateObserver) --------------------------------------------------

    def debate_started(self, debate: ScheduledDebate) -> None:
        self.streamer.scene.show(title=debate.topic, speaker="The council takes its seats",
                                 footer=f"AI Council · live · {debate.debate_id}")
        path = self._recording_path(debate)
        try:
            if self.streamer.streaming and path is not None:  # slate mode: already on air
                self.streamer.start_recording(path, min_free_bytes=self._min_free_bytes)
            else:
                self.streamer.start(recording_path=path, min_free_bytes=self._min_free_bytes)
        except (CouncilError, OSError) as exc:  # e.g. no ffmpeg: the debate still runs, without video
            self.streamer.stop()
            self._on_problem("go_live", f"{debate.debate_id} runs without video or recording: {exc}")

    def _recording_path(self, debate: ScheduledDebate) -> Path | None:
        """Where to record this debate; None (no recording, said aloud) when the disk is nearly full."""
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        problem = recording_space_problem(self.recordings_dir, self._min_free_bytes)
        if problem is not None:
            self._on_problem("disk_full", f"not recording {debate.debate_id}: {problem}")
            return None
        self._on_recovered("disk_full", f"recording {debate.debate_id}: the recordings disk has room again")
        return self.recordings_dir / debate.debate_id

    def watch_recording(self) -> bool:
        """Stop a recording whose disk fell below the guard (the outputs stay on air); True if it did."""
        recorder = self.streamer.recorder
        problem = self.streamer.recording_space_problem()
        if problem is None or recorder is None:
            return False
        self.streamer.stop_recording()
        self._on_problem("disk_full", f"recording {recorder.name} stopped: {problem}; the destinations stay on air")
        return True

    def prune_recordings(self, now: datetime, keep_days: int) -> int:
        """Delete recordings older than ``keep_days``; returns how many files went."""
        cutoff = now.timestamp() - keep_days * 86400
        old = [p for p in self.recordings_dir.glob("*.ts") if p.stat().st_mtime < cutoff]
        for path in old:
            path.unlink(missing_ok=True)
        return len(old)

    def turn_spoken(self, debate: ScheduledDebate, turn: Turn) -> None:
        self.streamer.scene.show(
            title=debate.topic, speaker=f"{turn.speaker} · {turn.stance} ({turn.confidence:.0%})",
            words=turn.text, footer=f"AI Council · round {turn.round} · turn {debate.turns}")
        if self.speaker is not None:
            self.speaker.say(turn.speaker, turn.text)

    def debate_ended(self, debate: ScheduledDebate) -> None:
        if self.between == "slate":
            self.streamer.stop_recording()  # the outputs stay live, showing the slate
        else:
            self.streamer.stop()
            for destination in self.streamer.destinations.values():
                self.bitrate.forget(destination.destination_id)
                destination.tier = None  # each broadcast starts at the configured quality
        self.show_slate()

    def stop(self) -> None:
        self.streamer.stop()

    # ---- adaptive bitrate ------------------------------------------------------------------------

    def adapt(self, now: datetime) -> list[TierChange]:
        """Feed each live output's measured signals to the bitrate manager; apply its tier changes."""
        changes = []
        for destination in list(self.streamer.destinations.values()):
            if destination.consumer is None or not self.streamer.streaming:
                continue
            metrics = destination.metrics
            sample = NetworkSample(at=now, speed=metrics.speed, reconnects=metrics.reconnects,
                                   rtt_ms=self.rtt_ms.get(destination.destination_id),
                                   dropped_chunks=metrics.dropped_chunks)
            change = self.bitrate.observe(destination.destination_id, sample, destination.config.quality)
            if change is not None:
                self.streamer.retier(destination.destination_id, change.new)
                changes.append(change)
        return changes

    # ---- destinations ----------------------------------------------------------------------------

    def destinations(self) -> list[StreamConfig]:
        return [d.config for d in self.streamer.destinations.values()]

    def save_destination(self, config: StreamConfig) -> StreamConfig:
        """Store a new or changed destination (a literal key goes to the key file only) and apply it."""
        doc = config.to_doc()
        previous = self._store.destinations.get(config.destination_id) or {}
        if previous.get("viewer_source"):
            doc["viewer_source"] = previous["viewer_source"]
        if config.stream_key and not is_key_reference(config.stream_key):
            self.keys.set(config.destination_id, config.stream_key)
            doc = {**doc, "stream_key": "", "key_in_keystore": True}
        self._store.destinations.upsert(doc)
        self.streamer.add_destination(config)
        return config

    def remove_destination(self, destination_id: str) -> None:
        self.streamer.remove_destination(destination_id)
        self._store.destinations.delete([destination_id])
        self.keys.delete(destination_id)

    def set_enabled(self, destination_id: str, enabled: bool) -> StreamConfig:
        config = self._config(destination_id).replace(enabled=enabled)
        return self.save_destination(config)

    def _config(self, destination_id: str) -> StreamConfig:
        destination = self.streamer.destinations.get(destination_id)
        if destination is None:
            raise ConfigError(f"no destination with id {destination_id!r}")
        return destination.config

    def config_of(self, doc: Mapping[str, Any]) -> StreamConfig:
        """A destination from its stored (or queued) document, its key from the key file."""
        values = {k: v for k, v in doc.items() if k not in {"key_in_keystore", "viewer_source"}}
        if doc.get("key_in_keystore"):
            values["stream_key"] = self.keys.get(str(doc.get("destination_id"))) or ""
        return StreamConfig.from_doc(values)

    def _load(self, doc: dict[str, Any]) -> None:
        try:
            self.streamer.add_destination(self.config_of(doc))
        except ConfigError as exc:
            self.problems.append(f"destination {doc.get('destination_id')!r} could not be loaded: {exc}")

    # ---- viewer counts ---------------------------------------------------------------------------

    def set_viewer_source(self, destination_id: str, doc: dict[str, Any] | None) -> None:
        """Where this destination's viewer count comes from; secrets only as env:/secret: references."""
        self._config(destination_id)
        stored = self._store.destinations.get(destination_id)
        if stored is None:
            raise ConfigError(f"no destination with id {destination_id!r}")
        if doc is not None:
            check_viewer_source(doc)
            self._viewer_source(destination_id, doc)  # validates, with the references resolved
        self._store.destinations.upsert({**stored, "viewer_source": doc})
        self.viewer_readings.pop(destination_id, None)

    def viewer_source_doc(self, destination_id: str) -> dict[str, Any] | None:
        stored = self._store.destinations.get(destination_id) or {}
        return stored.get("viewer_source")

    @staticmethod
    def _measure_rtt(config: StreamConfig) -> float | None:
        """Round trip to the ingest host (a TCP connect), a signal for adaptive bitrate."""
        try:
            parts = urlsplit(config.ingest_url)
        except ConfigError:
            return None
        default = {"rtmp": 1935, "rtmps": 443, "srt": 9000}.get(parts.scheme, 1935)
        if parts.scheme == "srt" or not parts.hostname:  # SRT is UDP: no TCP connect to time
            return None
        try:
            return measure_rtt_ms(parts.hostname, parts.port or default)
        except ConfigError:
            return None

    def _viewer_source(self, destination_id: str, doc: dict[str, Any]) -> ViewerSource:
        def destination_key() -> str:
            key = self._config(destination_id).stream_key
            return self._resolve(key) if is_key_reference(key) else key

        return build_viewer_source(doc, self._resolve, destination_key)

    def _resolve(self, reference: str) -> str:
        kind, _, name = reference.partition(":")
        value = (self._env if kind == "env" else self._secrets).get(name)
        if not value:
            raise ConfigError(f"{reference} is not set")
        return value

    def refresh_viewers(self) -> None:
        """Read viewer counts and ingest round trips in the background (network must not hold the loop)."""
        if not self.streamer.streaming or not self._reading.acquire(blocking=False):
            return
        threading.Thread(target=self._read_viewers, name="viewer-counts", daemon=True).start()

    def _read_viewers(self) -> None:
        try:
            for destination in list(self.streamer.destinations.values()):
                self.rtt_ms[destination.destination_id] = self._measure_rtt(destination.config)
                doc = self.viewer_source_doc(destination.destination_id)
                if doc is None or destination.consumer is None:
                    continue
                try:
                    reading = self._viewer_source(destination.destination_id, doc).read()
                except ConfigError as exc:
                    reading = ViewerReading(None, str(doc.get("kind")), str(exc))
                self.viewer_readings[destination.destination_id] = reading
                destination.consumer.metrics.viewers = reading.viewers
        finally:
            self._reading.release()

    # ---- the "Test" button -----------------------------------------------------------------------

    def test_destination(self, destination_id: str, seconds: int = TEST_SECONDS) -> tuple[bool, str]:
        """Publish a few seconds of test picture; say in plain words what happened."""
        config = self._config(destination_id)
        key = config.resolve_key(self._env, self._secrets)
        binary = media.ffmpeg_binary(self._env)
        if config.ingest_url.startswith("srt://"):
            args = media.probe_publish_args(binary, config.publish_url(key), seconds)
        else:
            args = media.probe_publish_args(binary, config.ingest_url.rstrip("/"), seconds, playpath=key)
        try:
            result = subprocess.run(args, capture_output=True, timeout=seconds + 25, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return False, f"{config.display_url()} did not answer within {seconds + 25} s."
        if result.returncode == 0:
            return True, f"Published {seconds} s of test picture to {config.display_url()}: the server accepted it."
        lines = [mask_in_text(line, [key]) for line in result.stderr.decode("utf-8", "replace").splitlines()]
        reason = next((explain_ffmpeg_error(line) for line in lines if explain_ffmpeg_error(line) != line),
                      lines[-1] if lines else f"ffmpeg exited with code {result.returncode}")
        return False, f"{config.display_url()} refused the test: {reason}"

    # ---- recordings and preview ------------------------------------------------------------------

    def recordings(self, measure: int = 20) -> list[Recording]:
        return self.shelf.list(measure)

    def recording_path(self, name: str) -> Path:
        return self.shelf.path(name)

    def preview_jpeg(self) -> bytes | None:
        try:
            return self.preview_path.read_bytes() if self.streamer.streaming else None
        except FileNotFoundError:
            return None
