"""Where a debate is broadcast: the platforms, their ingest presets and one validated destination.

This module only describes destinations; another one runs ffmpeg. Stream keys are secrets: a
``StreamConfig`` shows its key masked in its repr, in ``public_doc`` and in every error message.
Only ``to_doc`` (for the key-protected store) and ``publish_url`` (for ffmpeg's argv) carry it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import threading
import uuid
from dataclasses import asdict, dataclass, fields
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar
from urllib.parse import quote, urlsplit

from filelock import FileLock

from .debates import mask_secret
from .errors import ConfigError, StoreError
from .storage import atomic_replace


class StreamPlatform(str, Enum):
    YOUTUBE = "youtube"
    TWITCH = "twitch"
    FACEBOOK = "facebook"
    KICK = "kick"
    X = "x"
    LINKEDIN = "linkedin"
    CUSTOM_RTMP = "custom_rtmp"
    CUSTOM_RTMPS = "custom_rtmps"
    SRT = "srt"
    LOCAL_PREVIEW = "local_preview"


class StreamQuality(str, Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    ULTRA = "ultra"


@dataclass(frozen=True)
class QualityPreset:
    width: int
    height: int
    video_kbps: int
    fps: int
    audio_kbps: int


QUALITY_PRESETS: dict[StreamQuality, QualityPreset] = {
    StreamQuality.LOW: QualityPreset(854, 480, 1500, 30, 128),
    StreamQuality.MEDIUM: QualityPreset(1280, 720, 3000, 30, 128),
    StreamQuality.HIGH: QualityPreset(1920, 1080, 6000, 30, 160),
    StreamQuality.ULTRA: QualityPreset(3840, 2160, 15000, 60, 160),
}


@dataclass(frozen=True)
class PlatformPreset:
    label: str  # "YouTube Live"
    ingest_url: str | None  # pre-filled, editable; None: the operator must type one
    backup_url: str | None
    schemes: tuple[str, ...]  # accepted URL schemes; none: nothing is published over the network
    max_session_hours: float | None  # the platform ends longer sessions: re-publish before this
    key_env: str | None  # environment variable that conventionally holds the key
    needs_key: bool
    viewer_source: str | None  # "youtube" | "twitch" | None


PLATFORM_PRESETS: dict[StreamPlatform, PlatformPreset] = {
    StreamPlatform.YOUTUBE: PlatformPreset(
        "YouTube Live", "rtmp://a.rtmp.youtube.com/live2", "rtmp://b.rtmp.youtube.com/live2?backup=1",
        ("rtmp", "rtmps"), None, "YOUTUBE_STREAM_KEY", True, "youtube"),
    StreamPlatform.TWITCH: PlatformPreset(
        "Twitch", "rtmp://live.twitch.tv/app", None, ("rtmp", "rtmps"), 48, "TWITCH_STREAM_KEY", True, "twitch"),
    StreamPlatform.FACEBOOK: PlatformPreset(
        "Facebook Live", "rtmps://live-api-s.facebook.com:443/rtmp/", None, ("rtmps",), 8,
        "FACEBOOK_STREAM_KEY", True, None),
    StreamPlatform.KICK: PlatformPreset(
        "Kick", "rtmps://fa723fc1b171.global-contribute.live-video.net/app", None, ("rtmps",), None,
        "KICK_STREAM_KEY", True, None),
    StreamPlatform.X: PlatformPreset(
        "X", "rtmps://va.pscp.tv:443/x", None, ("rtmp", "rtmps"), None, "X_STREAM_KEY", True, None),
    StreamPlatform.LINKEDIN: PlatformPreset(
        "LinkedIn Live", None, None, ("rtmp", "rtmps"), 4, "LINKEDIN_STREAM_KEY", True, None),
    StreamPlatform.CUSTOM_RTMP: PlatformPreset("Custom RTMP", None, None, ("rtmp",), None, None, False, None),
    StreamPlatform.CUSTOM_RTMPS: PlatformPreset("Custom RTMPS", None, None, ("rtmps",), None, None, False, None),
    StreamPlatform.SRT: PlatformPreset("SRT", None, None, ("srt",), None, None, False, None),
    StreamPlatform.LOCAL_PREVIEW: PlatformPreset("Local preview", None, None, (), None, None, False, None),
}

STREAM_SCHEMES = ("rtmp", "rtmps", "srt")
MAX_KEY_CHARS = 512
MAX_NAME_CHARS = 80
MAX_URL_CHARS = 2048
_URL_FORM = "must start with rtmp://, rtmps:// or srt:// and name a host"
_REFERENCE = re.compile(r"(env|secret):(.*)", re.DOTALL)
_REFERENCE_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_LOOKS_LIKE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_DESTINATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_SECRET_PARAMS = frozenset({"key", "streamid", "passphrase", "password", "token"})
# SRT stream ids are access-control strings ("#!::r=live/a,m=publish", "publish:live/a") and ffmpeg
# passes them to the server without percent-decoding: keep their punctuation, encode the rest.
_SRT_STREAMID_SAFE = "#!:,=/@"
# ffmpeg protocols an operator (or an attacker) might try in a URL field, with why they are refused.
_PROTOCOL_HINTS = {
    "file": "ffmpeg's file: protocol writes local files",
    "pipe": "ffmpeg's pipe: protocol writes to a file descriptor",
    "concat": "ffmpeg's concat: protocol reads local files",
    "subfile": "ffmpeg's subfile: protocol reads local files",
    "tee": "ffmpeg's tee: protocol writes to several outputs, files included",
    "http": "HTTP is not a live ingest protocol here",
    "https": "HTTP is not a live ingest protocol here",
}
_CHARACTER_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\x00": "a NUL character"}
_MISSING_URL_HINTS = {StreamPlatform.LINKEDIN: "paste the stream URL from the LinkedIn Live event page"}

E = TypeVar("E", bound=Enum)


# --- showing URLs and keys without their secrets ----------------------------------------------


def redact_url(url: str) -> str:
    """``url`` as it may be shown: no userinfo password, no key/streamid/passphrase values."""
    if ":" not in url:  # not a URL at all: perhaps a key pasted into the wrong field
        return mask_secret(url)
    head, qmark, query = url.partition("?")
    scheme, slashes, rest = head.partition("://")
    if slashes:
        authority, slash, path = rest.partition("/")
        head = f"{scheme}://{_redact_userinfo(authority)}{slash}{path}"
    if qmark:
        query = "&".join(_redact_param(param) for param in query.split("&"))
    return f"{head}{qmark}{query}"


def _redact_userinfo(authority: str) -> str:
    if "@" not in authority:
        return authority
    userinfo, host = authority.rsplit("@", 1)
    user, colon, _password = userinfo.partition(":")
    return f"{user}:****@{host}" if colon else f"{user}@{host}"


def _redact_param(param: str) -> str:
    name, equals, _value = param.partition("=")
    return f"{name}=****" if equals and name.lower() in _SECRET_PARAMS else param


def _secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` this module may put in a URL."""
    return {secret, quote(secret, safe=""), quote(secret, safe=_SRT_STREAMID_SAFE)}


def mask_in_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` (e.g. an ffmpeg error line) with each secret, raw or percent-encoded, masked."""
    masks: dict[str, str] = {}
    for secret in secrets:
        if secret:
            for form in _secret_forms(secret):
                masks.setdefault(form, mask_secret(secret))
    # Longest first: a key that contains another key must be masked whole.
    for form in sorted(masks, key=len, reverse=True):
        text = text.replace(form, masks[form])
    return text


# --- field checks -----------------------------------------------------------------------------


def _coerce_enum(kind: type[E], field: str, value: object) -> E:
    candidate = value.strip().lower() if isinstance(value, str) else value
    try:
        return kind(candidate)
    except (ValueError, TypeError):
        valid = ", ".join(str(member.value) for member in kind)
        raise ConfigError(f"{field} must be one of {valid}, got {value!r}") from None


def _url_error(field: str, url: str, form: str = _URL_FORM, why: str = "") -> ConfigError:
    suffix = f" ({why})" if why else ""
    return ConfigError(f"{field} {form}, got {redact_url(url)!r}{suffix}")


def _scheme_list(preset: PlatformPreset) -> str:
    return " or ".join(f"{scheme}://" for scheme in preset.schemes)


def _scheme_form(preset: PlatformPreset) -> str:
    return f"for {preset.label} must start with {_scheme_list(preset)} and name a host"


def _check_url(field: str, value: object, preset: PlatformPreset) -> str | None:
    """A stream URL, stripped; ``None`` for an empty one."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{field} must be text such as rtmp://host/app, got {type(value).__name__}")
    url = value.strip()
    if len(url) > MAX_URL_CHARS:
        raise ConfigError(f"{field} must be at most {MAX_URL_CHARS} characters, got {len(url)}")
    if not url:
        return None
    if not preset.schemes:
        raise ConfigError(f"{field} must be empty for {preset.label}: the app serves it itself")
    protocol = url.split(":", 1)[0].lower() if ":" in url else ""
    if protocol in _PROTOCOL_HINTS:
        raise _url_error(field, url, why=_PROTOCOL_HINTS[protocol])
    if any(ch == "|" or ch.isspace() or not ch.isprintable() for ch in url):
        raise _url_error(field, url, why="one line, with no spaces, control characters or '|'")
    _check_url_parts(field, url, preset)
    _check_no_key_in_url(field, url, preset)
    return url


def _check_url_parts(field: str, url: str, preset: PlatformPreset) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _url_error(field, url, why="its host or port cannot be read") from None
    scheme = parts.scheme.lower()
    if scheme not in STREAM_SCHEMES or not parts.hostname or not url.lower().startswith(f"{scheme}://"):
        raise _url_error(field, url)
    if scheme not in preset.schemes:
        raise _url_error(field, url, _scheme_form(preset))
    if scheme == "srt" and port is None:
        raise _url_error(field, url, why="an SRT URL needs host:port")


def _check_no_key_in_url(field: str, url: str, preset: PlatformPreset) -> None:
    """Refuse the preset's ingest URL with a key appended: the key would then be shown as a URL."""
    stem = url.partition("?")[0].rstrip("/").lower()
    for known in (preset.ingest_url, preset.backup_url):
        known_stem = (known or "").partition("?")[0].rstrip("/").lower()
        if known_stem and stem.startswith(known_stem + "/"):
            raise ConfigError(f"{field} for {preset.label} must be the ingest URL alone, such as "
                              f"{preset.ingest_url}; put the stream key in stream_key")


def _describe_character(ch: str) -> str:
    return _CHARACTER_NAMES.get(ch, f"character U+{ord(ch):04X}")


def _check_key_text(label: str, key: str) -> None:
    """A literal key: one printable line, not too long, not a URL. The key is never in a message."""
    if len(key) > MAX_KEY_CHARS:
        raise ConfigError(f"{label} must be at most {MAX_KEY_CHARS} characters, got {len(key)}")
    bad = next((ch for ch in key if not ch.isprintable()), None)
    if bad is not None:
        raise ConfigError(f"{label} must be one line of printable characters (got {_describe_character(bad)})")
    url = _LOOKS_LIKE_URL.match(key)
    if url:
        raise ConfigError(f"{label} must be the key alone, not a URL (it starts with {url.group(0)}); "
                          "put the URL in rtmp_url")


def _required_message(preset: PlatformPreset) -> str:
    hint = f" (the key itself, or env:{preset.key_env})" if preset.key_env else ""
    return f"stream_key is required for {preset.label}{hint}"


def _check_stream_key(value: object, preset: PlatformPreset) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"stream_key must be text, got {type(value).__name__}")
    if not value.strip():
        if preset.needs_key:
            raise ConfigError(_required_message(preset))
        return ""
    if not preset.schemes:
        raise ConfigError(f"stream_key must be empty for {preset.label}: the app serves it itself")
    reference = _REFERENCE.fullmatch(value)
    if reference and not _REFERENCE_NAME.fullmatch(reference.group(2)):
        example = preset.key_env or "MY_STREAM_KEY"
        raise ConfigError("stream_key reference must be env:NAME or secret:NAME, NAME being capital "
                          f"letters, digits and _ (e.g. env:{example})")
    if not reference:
        _check_key_text("stream_key", value)
    return value


def _check_name(value: object, preset: PlatformPreset) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"name must be text, got {type(value).__name__}")
    name = value.strip() or preset.label
    if len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise ConfigError(f"name must be one line of at most {MAX_NAME_CHARS} printable characters, got {name!r}")
    return name


def _check_destination_id(value: object) -> str:
    if not isinstance(value, str) or not _DESTINATION_ID.fullmatch(value):
        raise ConfigError("destination_id must be 1-64 letters, digits, '-' or '_', starting with a "
                          f"letter or digit, got {value!r}")
    return value


def _check_optional_int(field: str, value: object, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{field} must be empty or a whole number {low}-{high}, got {value!r}")


def _check_optional_seconds(field: str, value: object, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= high:
        raise ConfigError(f"{field} must be empty or a number of seconds above 0 and at most {high:g}, "
                          f"got {value!r}")
    return float(value)


# --- publish URLs -----------------------------------------------------------------------------


def _rtmp_publish_url(base: str, key: str) -> str:
    """The key as one percent-encoded path segment; a query (YouTube's ``?backup=1``) follows it."""
    if not key:
        return base
    head, qmark, query = base.partition("?")
    return f"{head.rstrip('/')}/{quote(key, safe='')}{qmark}{query}"


def _srt_publish_url(base: str, key: str) -> str:
    """The key as the ``streamid`` query parameter, the URL's other parameters kept."""
    if not key:
        return base
    head, _qmark, query = base.partition("?")
    others = [param for param in query.split("&") if param and param.partition("=")[0] != "streamid"]
    params = [f"streamid={quote(key, safe=_SRT_STREAMID_SAFE)}", *others]
    return f"{head}?{'&'.join(params)}"


_PUBLISHERS: dict[str, Callable[[str, str], str]] = {
    "rtmp": _rtmp_publish_url,
    "rtmps": _rtmp_publish_url,
    "srt": _srt_publish_url,
}


# --- one destination --------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class StreamConfig:
    """One destination, as the seed README's StreamConfig (its fields) plus an id and a name."""

    platform: StreamPlatform
    stream_key: str = ""  # a literal key, or "env:NAME" / "secret:NAME" resolved at publish time
    rtmp_url: str | None = None  # None: the platform preset's ingest_url
    quality: StreamQuality = StreamQuality.HIGH
    enabled: bool = True
    backup_rtmp_url: str | None = None  # None: the preset's backup_url
    max_retry_attempts: int | None = None  # None: retry as long as the debate runs
    retry_delay_seconds: float | None = None  # first retry delay; None: the streamer's default
    name: str = ""  # display name; default the preset label
    destination_id: str = ""  # default "<platform>-<8 hex>": two channels of one platform never collide

    def __post_init__(self) -> None:
        platform = _coerce_enum(StreamPlatform, "platform", self.platform)
        preset = PLATFORM_PRESETS[platform]
        object.__setattr__(self, "platform", platform)
        object.__setattr__(self, "quality", _coerce_enum(StreamQuality, "quality", self.quality))
        object.__setattr__(self, "rtmp_url", _check_url("rtmp_url", self.rtmp_url, preset))
        object.__setattr__(self, "backup_rtmp_url", _check_url("backup_rtmp_url", self.backup_rtmp_url, preset))
        object.__setattr__(self, "stream_key", _check_stream_key(self.stream_key, preset))
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"enabled must be true or false, got {self.enabled!r}")
        _check_optional_int("max_retry_attempts", self.max_retry_attempts, 0, 1000)
        object.__setattr__(self, "retry_delay_seconds",
                           _check_optional_seconds("retry_delay_seconds", self.retry_delay_seconds, 3600))
        object.__setattr__(self, "name", _check_name(self.name, preset))
        destination_id = self.destination_id or f"{platform.value}-{uuid.uuid4().hex[:8]}"
        object.__setattr__(self, "destination_id", _check_destination_id(destination_id))

    @property
    def preset(self) -> PlatformPreset:
        return PLATFORM_PRESETS[self.platform]

    @property
    def preset_quality(self) -> QualityPreset:
        return QUALITY_PRESETS[self.quality]

    @property
    def ingest_url(self) -> str:
        """The URL to publish to, before the key is added."""
        url = self.rtmp_url or self.preset.ingest_url
        if url is None:
            raise ConfigError(self._no_url_message())
        return url

    @property
    def backup_url(self) -> str | None:
        return self.backup_rtmp_url or self.preset.backup_url

    @property
    def masked_key(self) -> str:
        """The key as it may be shown; a reference such as env:NAME is no secret and shows as is."""
        if _REFERENCE.fullmatch(self.stream_key):
            return self.stream_key
        return mask_secret(self.stream_key)

    def _no_url_message(self) -> str:
        preset = self.preset
        if not preset.schemes:
            return f"{preset.label} has no network URL: the app serves it itself"
        hint = _MISSING_URL_HINTS.get(self.platform, f"it must start with {_scheme_list(preset)} and name a host")
        return f"rtmp_url is required for {preset.label}: {hint}"

    def resolve_key(self, env: Mapping[str, str], secrets: Mapping[str, str] | None = None) -> str:
        """The literal key: the stored one, or the value its env:/secret: reference names."""
        reference = _REFERENCE.fullmatch(self.stream_key)
        if not reference:
            return self.stream_key
        source, name = reference.groups()
        values = env if source == "env" else (secrets or {})
        value = values.get(name)
        if not value:
            raise ConfigError(f"stream_key refers to {source}:{name}, which is not set")
        _check_key_text(f"the value of {source}:{name}", value)
        return value

    def publish_url(self, key: str, *, backup: bool = False) -> str:
        """The URL ffmpeg publishes to, ``key`` (already resolved) included. Never log it."""
        base = self._publish_base(backup)
        self._check_publish_key(key)
        return _PUBLISHERS[base.split("://", 1)[0].lower()](base, key)

    def _publish_base(self, backup: bool) -> str:
        if not self.preset.schemes:
            raise ConfigError(self._no_url_message())
        if not backup:
            return self.ingest_url
        if self.backup_url is None:
            raise ConfigError(f"{self.name} has no backup URL: set backup_rtmp_url")
        return self.backup_url

    def _check_publish_key(self, key: object) -> None:
        if not isinstance(key, str):
            raise ConfigError(f"stream_key must be text, got {type(key).__name__}")
        if not key:
            if self.preset.needs_key:
                raise ConfigError(_required_message(self.preset))
            return
        if key == self.stream_key and _REFERENCE.fullmatch(key):
            raise ConfigError(f"publish_url needs the key itself, not {key}: call resolve_key first")
        _check_key_text("stream_key", key)

    def display_url(self) -> str:
        """The ingest URL with its secrets removed, for pages and logs; empty when there is none."""
        url = self.rtmp_url or self.preset.ingest_url
        return redact_url(url) if url else ""

    def to_doc(self) -> dict[str, Any]:
        """JSON-safe, key included: only for the key-protected store."""
        doc = asdict(self)
        doc["platform"] = self.platform.value
        doc["quality"] = self.quality.value
        return doc

    def _shown_doc(self) -> dict[str, Any]:
        doc = self.to_doc()
        doc["stream_key"] = self.masked_key
        for field in ("rtmp_url", "backup_rtmp_url"):
            if doc[field]:
                doc[field] = redact_url(doc[field])
        return doc

    def public_doc(self) -> dict[str, Any]:
        """The destination as pages, exports and logs may show it: key masked, URLs redacted."""
        return {**self._shown_doc(), "label": self.preset.label, "display_url": self.display_url()}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "StreamConfig":
        if not isinstance(doc, Mapping) or "platform" not in doc:
            raise ConfigError("a destination must be a mapping with a platform, one of "
                              + ", ".join(platform.value for platform in StreamPlatform))
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(doc) - known)
        if unknown:
            raise ConfigError(f"unknown destination settings {unknown}; valid: {sorted(known)}")
        return cls(**doc)

    def replace(self, **changes: Any) -> "StreamConfig":
        return StreamConfig.from_doc({**self.to_doc(), **changes})

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={value!r}" for name, value in self._shown_doc().items())
        return f"StreamConfig({shown})"


# --- the key file -----------------------------------------------------------------------------


class KeyStore:
    """Literal stream keys by destination id, in ``<data>/keys.json`` readable by its owner only."""

    FILE_NAME = "keys.json"
    MODE = 0o600
    CONTENTS = "destination id to key"  # what the file maps, for the corrupt-file message

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.path = Path(data_dir) / self.FILE_NAME
        self.problems: list[str] = []
        self._lock = threading.Lock()
        self._tighten_mode()

    def _tighten_mode(self) -> None:
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return
        if mode & ~self.MODE:
            try:
                os.chmod(self.path, self.MODE)
            except OSError as exc:
                self.problems.append(f"{self.path} has mode {mode:#o} and cannot be made {self.MODE:#o}: "
                                     f"{exc.strerror}")
                return
            self.problems.append(f"{self.path} had mode {mode:#o}, looser than {self.MODE:#o}; "
                                 f"it is now {self.MODE:#o}")

    def get(self, destination_id: str) -> str | None:
        return self._read().get(destination_id)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One read-modify-write at a time, across threads and processes (a dashboard beside the
        backend adds keys to the same file)."""
        with self._lock, FileLock(f"{self.path}.lock", timeout=10):
            yield

    def set(self, destination_id: str, key: str) -> None:
        self._check_entry(destination_id, key)
        with self._locked():
            keys = self._read()
            keys[destination_id] = key
            self._write(keys)

    def _check_entry(self, destination_id: str, key: str) -> None:
        """Refuse a bad id or value before anything is written; a store of other secrets overrides it."""
        _check_destination_id(destination_id)
        if not isinstance(key, str) or not key:
            raise ConfigError("a stored stream key must be non-empty text")
        _check_key_text("stream_key", key)

    def delete(self, destination_id: str) -> bool:
        """Forget a key; False when there was none."""
        with self._locked():
            keys = self._read()
            if keys.pop(destination_id, None) is None:
                return False
            self._write(keys)
            return True

    def _read(self) -> dict[str, str]:
        try:
            payload = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            keys = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            keys = None  # the decoder's message may quote the file, keys included
        if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
            raise StoreError(f"{self.path} must be a JSON object of {self.CONTENTS}")
        return keys

    def _write(self, keys: dict[str, str]) -> None:
        """Atomically, through the store's one write path for files (created 0o600)."""
        payload = json.dumps(keys, indent=2, sort_keys=True).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_replace(self.path, payload)  # a new inode, created 0o600
        except OSError as exc:
            raise StoreError(f"cannot write {self.path}: {exc.strerror}") from None


def is_key_reference(value: str) -> bool:
    """``env:NAME`` or ``secret:NAME``: a pointer to a key kept elsewhere, not a secret itself."""
    return _REFERENCE.fullmatch(value) is not None
