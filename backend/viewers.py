"""How many people watch each destination: one reading per source, real or marked unknown.

A count comes from the server or platform that serves the viewers, or it is ``None`` (unknown);
it is never 0 for unknown and never estimated. Four sources are built in:

* ``NginxRtmpStats``: nginx's RTMP module, its ``rtmp_stat`` XML page (players on one stream).
* ``MediaMTXPaths``: MediaMTX's control API v3 (readers of one path).
* ``YouTubeLiveViewers``: the YouTube Data API v3 ``videos`` list (``concurrentViewers``).
* ``TwitchHelixViewers``: the Twitch Helix ``streams`` endpoint (``viewer_count``).

The nginx source is tested against a real nginx with the RTMP module. The YouTube and Twitch
clients cannot be exercised against the real services here (there is no internet access): they
are tested against recorded response shapes of those APIs, served by a local HTTP server.

``read()`` never raises for network or answer-shape problems; the reading says why it is unknown.
Secrets (YouTube API key, Twitch token, MediaMTX password) never appear in a repr, a detail or an
error. An RTMP stream name (and a MediaMTX path's last segment) is usually the stream key itself,
so it is shown masked too.
"""

from __future__ import annotations

import base64
import contextlib
import http
import http.client
import inspect
import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit
from xml.etree import ElementTree

from .debates import mask_secret
from .destinations import mask_in_text, redact_url
from .errors import ConfigError

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # a stat page with thousands of clients stays well below this
MAX_TIMEOUT_SECONDS = 120.0
_DETAIL_CHARS = 200
_DIGITS = re.compile(r"[0-9]+")
_VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TWITCH_LOGIN = re.compile(r"[A-Za-z0-9_]{1,25}")


@dataclass(frozen=True)
class ViewerReading:
    viewers: int | None  # None: unknown (source unreachable, stream not found, not live)
    source: str  # "nginx-rtmp" | "mediamtx" | "youtube" | "twitch"
    detail: str  # plain words, never a secret: "3 players on live/abc", "stream not found"


class ViewerSource(Protocol):
    name: str

    def read(self) -> ViewerReading:
        """The current count; network and shape problems give ``viewers=None`` with the reason."""
        ...


class _NoAnswer(Exception):
    """The server gave no HTTP answer: refused, unreachable, timed out, oversized."""


class _BadAnswer(Exception):
    """The answer cannot give a count; the message says why in plain words."""


# --- checking constructor arguments (messages never carry a secret's value) -----------------------


def _check_text(field: str, value: object, *, secret: bool = False, spaces: bool = False) -> str:
    """Stripped non-empty text; one word unless ``spaces`` (a password may hold spaces)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{field} must be non-empty text, got {_shown_type(value, secret)}")
    text = value.strip() if not spaces else value
    if any(not ch.isprintable() or (ch.isspace() and not spaces) for ch in text):
        shown = "" if secret else f", got {text!r}"
        form = "one line of printable characters" if spaces else "one word with no spaces or control characters"
        raise ConfigError(f"{field} must be {form}{shown}")
    return text


def _shown_type(value: object, secret: bool) -> str:
    if isinstance(value, str):
        return "empty text"
    return type(value).__name__ if secret else repr(value)


def _check_pattern(field: str, value: object, pattern: re.Pattern[str], form: str) -> str:
    text = _check_text(field, value)
    if not pattern.fullmatch(text):
        raise ConfigError(f"{field} must be {form}, got {text!r}")
    return text


def _check_url(field: str, value: object) -> str:
    url = _check_text(field, value)
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading it validates the port
    except ValueError:
        raise ConfigError(f"{field} must be an http:// or https:// URL, got {redact_url(url)!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{field} must be an http:// or https:// URL, got {redact_url(url)!r}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{field} must not carry credentials, got {redact_url(url)!r}")
    return url.rstrip("/")


def _check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT_SECONDS:
        raise ConfigError(f"timeout must be a number of seconds above 0 and at most {MAX_TIMEOUT_SECONDS:g}, "
                          f"got {value!r}")
    return float(value)


def _check_segments(field: str, value: object) -> str:
    """A slash-separated name such as ``live/abc``, without empty segments."""
    text = _check_text(field, value, secret=True)
    if any(not segment for segment in text.split("/")):
        raise ConfigError(f"{field} must be a name such as live/abc, with no empty segment")
    return text


def masked_name(name: str) -> str:
    """``name`` as it may be shown: its last segment (usually the stream key) masked."""
    head, slash, last = name.rpartition("/")
    return f"{head}{slash}{mask_secret(last)}"


# --- HTTP --------------------------------------------------------------------------------------


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would resend the Authorization header to wherever a redirect points: refuse to follow."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


def _where(url: str) -> str:
    """Host and port only: the full URL may carry an API key in its query."""
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2]


def _http_get(url: str, headers: Mapping[str, str], timeout: float) -> tuple[int, bytes]:
    """Status and body of a GET; error statuses are answers too. Raises ``_NoAnswer`` otherwise."""
    request = urllib.request.Request(url, headers=dict(headers), method="GET")
    try:
        return _exchange(request, timeout)
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        raise _NoAnswer(_network_reason(exc, url, timeout)) from None


def _exchange(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    opener = urllib.request.build_opener(_RefuseRedirects)
    try:
        response = opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        response = exc  # an error status is an answer too: its body says why
    with contextlib.closing(response):
        return int(response.getcode()), _read_capped(response, request.full_url)


def _read_capped(response: Any, url: str) -> bytes:
    body: bytes = response.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise _NoAnswer(f"{_where(url)} answered with more than {MAX_ANSWER_BYTES // 1024 // 1024} MB")
    return body


def _network_reason(exc: BaseException, url: str, timeout: float) -> str:
    cause = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(cause, TimeoutError):
        return f"{_where(url)} did not answer within {timeout:g} s"
    text = getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
    return f"could not reach {_where(url)}: {text}"


# --- reading answers ---------------------------------------------------------------------------


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _DETAIL_CHARS else text[:_DETAIL_CHARS - 1] + "…"


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        raise _BadAnswer("answer is not valid JSON") from None


def _server_message(body: bytes) -> str | None:
    """The error text of the JSON error shapes these APIs use (Google, Twitch, MediaMTX)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    error = doc.get("error")
    for candidate in (error.get("message") if isinstance(error, dict) else None, doc.get("message"), error):
        if isinstance(candidate, str) and candidate.strip():
            return candidate
    return None


def _status_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "no reason given"


def _expect_ok(status: int, body: bytes) -> None:
    """Raises ``_BadAnswer("HTTP 403: <the server's message>")`` for any status but 200."""
    if status == 200:
        return
    if 300 <= status < 400:
        raise _BadAnswer(f"HTTP {status}: redirected elsewhere, not followed")
    raise _BadAnswer(f"HTTP {status}: {_server_message(body) or _status_phrase(status)}")


def _count(value: object, what: str) -> int:
    """A whole number of viewers, from a JSON number or a string of digits (YouTube's form)."""
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise _BadAnswer(f"{what} is not a whole number: {value!r}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# --- the sources ---------------------------------------------------------------------------------


class _HttpSource:
    """One GET per reading; subclasses say where and how to read the answer."""

    name = "http"
    timeout: float

    def read(self) -> ViewerReading:
        try:
            status, body = _http_get(self._url(), self._headers(), self.timeout)
        except _NoAnswer as exc:
            return self._reading(None, str(exc))
        return self.interpret(status, body)

    def interpret(self, status: int, body: bytes) -> ViewerReading:
        """The reading an answer gives; public so recorded answers can be checked without a server."""
        try:
            viewers, detail = self._parse(status, body)
        except _BadAnswer as exc:
            viewers, detail = None, str(exc)
        except (KeyError, IndexError, TypeError, ValueError, AttributeError):
            # read() must never raise for a shape problem, even one the parser did not foresee.
            viewers, detail = None, "answer has an unexpected shape"
        return self._reading(viewers, detail)

    def _reading(self, viewers: int | None, detail: str) -> ViewerReading:
        return ViewerReading(viewers, self.name, _one_line(mask_in_text(detail, self._secrets())))

    def _url(self) -> str:
        raise NotImplementedError

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def _secrets(self) -> Iterable[str]:
        return ()

    def _parse(self, status: int, body: bytes) -> tuple[int | None, str]:
        raise NotImplementedError


class NginxRtmpStats(_HttpSource):
    """Players on one stream of nginx-rtmp, from its ``rtmp_stat all`` XML page."""

    name = "nginx-rtmp"

    def __init__(self, stat_url: str, application: str, stream: str, timeout: float = 5.0) -> None:
        self.stat_url = _check_url("stat_url", stat_url)
        self.application = _check_text("application", application)
        self.stream = _check_text("stream", stream, secret=True)
        self.timeout = _check_timeout(timeout)

    def __repr__(self) -> str:
        return (f"NginxRtmpStats(stat_url={self.stat_url!r}, application={self.application!r}, "
                f"stream={mask_secret(self.stream)!r}, timeout={self.timeout:g})")

    @property
    def shown_name(self) -> str:
        return f"{self.application}/{mask_secret(self.stream)}"

    def _url(self) -> str:
        return self.stat_url

    def _headers(self) -> dict[str, str]:
        return {"Accept": "application/xml, text/xml"}

    def _parse(self, status: int, body: bytes) -> tuple[int | None, str]:
        _expect_ok(status, body)
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise _BadAnswer("stat page is not valid XML") from None
        if root.tag != "rtmp":
            raise _BadAnswer(f"not an nginx-rtmp stat page (its root is <{root.tag}>, not <rtmp>)")
        found = self._find_stream(root)
        if found is None:
            return None, f"stream not found ({self.shown_name})"
        return self._players(found)

    def _find_stream(self, root: ElementTree.Element) -> ElementTree.Element | None:
        for application in root.iter("application"):
            if application.findtext("name") != self.application:
                continue
            for stream in application.iterfind("live/stream"):
                if stream.findtext("name") == self.stream:
                    return stream
        return None

    def _players(self, stream: ElementTree.Element) -> tuple[int | None, str]:
        clients = _count((stream.findtext("nclients") or "").strip(), "nclients")
        publishers = sum(1 for client in stream.iterfind("client") if client.find("publishing") is not None)
        # Without client elements the stream's own <publishing/> still tells of its one publisher.
        if not publishers and stream.find("publishing") is not None:
            publishers = 1
        players = clients - publishers
        if players < 0:
            raise _BadAnswer(f"stat page counts {clients} clients but {publishers} publishers")
        if not publishers:
            return None, f"not publishing ({_plural(players, 'player')} waiting on {self.shown_name})"
        return players, f"{_plural(players, 'player')} on {self.shown_name}"


class MediaMTXPaths(_HttpSource):
    """Readers of one MediaMTX path, from ``GET {api_url}/v3/paths/get/{path}``."""

    name = "mediamtx"

    def __init__(self, api_url: str, path: str, timeout: float = 5.0, username: str | None = None,
                 password: str | None = None) -> None:
        self.api_url = _check_url("api_url", api_url)
        self.path = _check_segments("path", path)
        self.timeout = _check_timeout(timeout)
        if (username is None) != (password is None):
            raise ConfigError("username and password go together: give both or neither")
        self.username = None if username is None else _check_text("username", username)
        self._password = None if password is None else _check_text("password", password, secret=True,
                                                                     spaces=True)

    def __repr__(self) -> str:
        password = mask_secret(self._password) or None
        return (f"MediaMTXPaths(api_url={self.api_url!r}, path={masked_name(self.path)!r}, "
                f"timeout={self.timeout:g}, username={self.username!r}, password={password!r})")

    def _url(self) -> str:
        return f"{self.api_url}/v3/paths/get/{quote(self.path, safe='/')}"

    def _headers(self) -> dict[str, str]:
        headers = super()._headers()
        if self.username is not None and self._password is not None:
            pair = f"{self.username}:{self._password}".encode()
            headers["Authorization"] = f"Basic {base64.b64encode(pair).decode('ascii')}"
        return headers

    def _secrets(self) -> Iterable[str]:
        return (self._password,) if self._password else ()

    def _parse(self, status: int, body: bytes) -> tuple[int | None, str]:
        if status == 404:  # MediaMTX answers 404 for a path nobody publishes to or configured
            return None, f"path not found ({masked_name(self.path)})"
        _expect_ok(status, body)
        doc = _json(body)
        if not isinstance(doc, dict) or not isinstance(doc.get("ready"), bool):
            raise _BadAnswer("answer is not a MediaMTX path (no true/false 'ready')")
        if not doc["ready"]:
            return None, f"not publishing ({masked_name(self.path)})"
        readers = doc.get("readers")
        if not isinstance(readers, list):
            raise _BadAnswer("answer has no 'readers' list")
        return len(readers), f"{_plural(len(readers), 'reader')} on {masked_name(self.path)}"


class YouTubeLiveViewers(_HttpSource):
    """``concurrentViewers`` of one live video, from the YouTube Data API v3 (one quota unit a read)."""

    name = "youtube"

    def __init__(self, video_id: str, api_key: str, base_url: str = "https://www.googleapis.com/youtube/v3",
                 timeout: float = 10.0) -> None:
        self.video_id = _check_pattern("video_id", video_id, _VIDEO_ID,
                                       "the video id alone, e.g. the part after watch?v=")
        self._api_key = _check_text("api_key", api_key, secret=True)
        self.base_url = _check_url("base_url", base_url)
        self.timeout = _check_timeout(timeout)

    def __repr__(self) -> str:
        return (f"YouTubeLiveViewers(video_id={self.video_id!r}, api_key={mask_secret(self._api_key)!r}, "
                f"base_url={self.base_url!r}, timeout={self.timeout:g})")

    def _url(self) -> str:
        query = urlencode({"part": "liveStreamingDetails", "id": self.video_id, "key": self._api_key})
        return f"{self.base_url}/videos?{query}"

    def _secrets(self) -> Iterable[str]:
        return (self._api_key,)

    def _parse(self, status: int, body: bytes) -> tuple[int | None, str]:
        _expect_ok(status, body)
        doc = _json(body)
        items = doc.get("items") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise _BadAnswer("answer is not a YouTube video list (no 'items')")
        if not items:
            return None, f"video not found ({self.video_id})"
        details = items[0].get("liveStreamingDetails") if isinstance(items[0], dict) else None
        if not isinstance(details, dict):
            return None, "not a live stream (no liveStreamingDetails)"
        if "concurrentViewers" in details:
            viewers = _count(details["concurrentViewers"], "concurrentViewers")
            return viewers, f"{viewers} watching now (YouTube concurrentViewers)"
        return None, _why_no_youtube_count(details)


def _why_no_youtube_count(details: Mapping[str, Any]) -> str:
    """YouTube leaves concurrentViewers out when not live, ended, hidden, or nobody is watching."""
    if details.get("actualEndTime"):
        return "stream has ended"
    if not details.get("actualStartTime"):
        return "not live yet"
    # The API documents the field as present only with current viewers and an unhidden count:
    # its absence is not proof of zero, so the count stays unknown.
    return "live, but YouTube gives no viewer count (none watching, or the count is hidden)"


class TwitchHelixViewers(_HttpSource):
    """``viewer_count`` of one channel's live stream, from Twitch Helix ``GET /streams``."""

    name = "twitch"

    def __init__(self, user_login: str, client_id: str, token: str, base_url: str = "https://api.twitch.tv/helix",
                 timeout: float = 10.0) -> None:
        self.user_login = _check_pattern("user_login", user_login, _TWITCH_LOGIN,
                                         "a Twitch login: up to 25 letters, digits or _").lower()
        self.client_id = _check_text("client_id", client_id)
        self._token = _check_text("token", token, secret=True)
        self.base_url = _check_url("base_url", base_url)
        self.timeout = _check_timeout(timeout)

    def __repr__(self) -> str:
        return (f"TwitchHelixViewers(user_login={self.user_login!r}, client_id={self.client_id!r}, "
                f"token={mask_secret(self._token)!r}, base_url={self.base_url!r}, timeout={self.timeout:g})")

    def _url(self) -> str:
        return f"{self.base_url}/streams?{urlencode({'user_login': self.user_login})}"

    def _headers(self) -> dict[str, str]:
        return {**super()._headers(), "Client-Id": self.client_id, "Authorization": f"Bearer {self._token}"}

    def _secrets(self) -> Iterable[str]:
        return (self._token,)

    def _parse(self, status: int, body: bytes) -> tuple[int | None, str]:
        _expect_ok(status, body)
        doc = _json(body)
        data = doc.get("data") if isinstance(doc, dict) else None
        if not isinstance(data, list):
            raise _BadAnswer("answer is not a Twitch stream list (no 'data')")
        if not data:
            return None, f"channel is offline ({self.user_login})"
        stream = data[0]
        if not isinstance(stream, dict):
            raise _BadAnswer("answer's first stream is not an object")
        if stream.get("type") != "live":  # Helix sets type to "" when it had an error for this stream
            return None, "Twitch reports no live stream type for this channel"
        viewers = _count(stream.get("viewer_count"), "viewer_count")
        return viewers, f"{viewers} watching now (Twitch viewer_count)"


VIEWER_SOURCES: dict[str, Callable[..., ViewerSource]] = {
    NginxRtmpStats.name: NginxRtmpStats,
    MediaMTXPaths.name: MediaMTXPaths,
    YouTubeLiveViewers.name: YouTubeLiveViewers,
    TwitchHelixViewers.name: TwitchHelixViewers,
}


SECRET_ARGUMENTS = ("api_key", "token", "password")  # stored only as env:NAME or secret:NAME references
# The argument a destination supplies when it is left out: nginx-rtmp lists a stream under the key it
# was published with, so the destination's own key (never stored in the source) is the right name.
FROM_DESTINATION = {NginxRtmpStats.name: "stream"}


@dataclass(frozen=True)
class SourceField:
    """One argument of a viewer source as a form shows it (read from the source's constructor)."""

    name: str
    required: bool
    default: Any  # what an empty optional field means; None when there is none
    secret: bool  # an env:/secret: reference, never the value
    number: bool


def source_fields(kind: str) -> list[SourceField]:
    """The fields of one kind of viewer source, in the constructor's order (one a destination
    supplies is optional)."""
    factory = VIEWER_SOURCES.get(kind)
    if factory is None:
        raise ConfigError(f"viewer source kind must be one of {', '.join(sorted(VIEWER_SOURCES))}, got {kind!r}")
    fields = []
    for name, parameter in inspect.signature(factory).parameters.items():
        required = parameter.default is inspect.Parameter.empty and FROM_DESTINATION.get(kind) != name
        default = None if parameter.default is inspect.Parameter.empty else parameter.default
        fields.append(SourceField(name, required, default, name in SECRET_ARGUMENTS,
                                  isinstance(default, (int, float)) and not isinstance(default, bool)))
    return fields


def source_doc_from_form(kind: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The stored doc for what a form holds: text trimmed, empty optional fields left out (their
    default applies), numbers as numbers. Checking the values is ``source_from_doc``'s job."""
    doc: dict[str, Any] = {"kind": kind}
    for field in source_fields(kind):
        value = values.get(field.name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":
            if field.required:
                raise ConfigError(f"{kind} viewer source needs {field.name}")
            continue
        if field.number:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise ConfigError(f"{field.name} must be a number of seconds") from None
            if value == field.default:
                continue
        doc[field.name] = value
    return doc


def source_from_doc(doc: Mapping[str, Any]) -> ViewerSource:
    """A source from ``{"kind": "nginx-rtmp", ...constructor arguments}``; bad input is a ConfigError."""
    if not isinstance(doc, Mapping):
        raise ConfigError(f"a viewer source must be an object with a kind, got {type(doc).__name__}")
    kind = doc.get("kind")
    factory = VIEWER_SOURCES.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ConfigError(f"viewer source kind must be one of {', '.join(sorted(VIEWER_SOURCES))}, got {kind!r}")
    arguments = {name: value for name, value in doc.items() if name != "kind"}
    _check_argument_names(str(kind), factory, arguments)
    return factory(**arguments)


def _check_argument_names(kind: str, factory: Callable[..., ViewerSource], arguments: Mapping[str, Any]) -> None:
    """Names only in the messages: the values may be secrets."""
    parameters = inspect.signature(factory).parameters
    accepted = ", ".join(parameters)
    unknown = sorted(str(name) for name in arguments if name not in parameters)
    if unknown:
        raise ConfigError(f"{kind} viewer source takes {accepted}; unknown: {', '.join(unknown)}")
    missing = [name for name, parameter in parameters.items()
               if parameter.default is inspect.Parameter.empty and name not in arguments]
    if missing:
        raise ConfigError(f"{kind} viewer source needs {', '.join(missing)} (it takes {accepted})")
