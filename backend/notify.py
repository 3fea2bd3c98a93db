"""Alert notices to people through apprise: Slack, Discord, Telegram, e-mail, JSON webhooks...

A notifier is a ``NotifierConfig`` (id, name, on/off, lowest severity it hears about) plus an
apprise URL. The URL is a secret (it carries tokens and passwords): it is kept apart, in
``<data>/notifiers.json`` readable by its owner only, and is only ever shown masked, in pages,
logs, error messages and ``Delivery.detail`` alike. The settings are in ``notifier_settings.json``.

``Notifiers.send`` never blocks and never raises: one worker thread delivers, each notifier at
most ``RateLimit.max_messages`` per window (what is held back is counted and said later), each
delivery bounded by ``Timeouts``. Every outcome becomes a ``Delivery`` passed to ``on_delivery``.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import apprise

from .alerting import Notification
from .destinations import KeyStore
from .errors import ConfigError, StoreError
from .health import AlertSeverity
from .storage import atomic_replace
from .timeutil import Clock, to_iso, utc_now

log = logging.getLogger(__name__)

SETTINGS_FILE = "notifier_settings.json"
MAX_NAME_CHARS = 60
MAX_URL_CHARS = 2048
MAX_DETAIL_CHARS = 300
MAX_HELD_ALERTS = 1000  # alerts remembered as never announced, per notifier
APP_NAME = "AI Council Automation"
URL_EXAMPLES = ("json://host/path, slack://TokenA/TokenB/TokenC, discord://webhook_id/webhook_token, "
                "tgram://bot_token/chat_id or mailto://user:password@example.com")
URL_FORM = f"not a notification URL apprise understands: use e.g. {URL_EXAMPLES}"
SEVERITIES = tuple(AlertSeverity)  # least severe first
_NOTIFIER_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
# apprise's generic webhooks: their path and their +header / -param / :payload values may be secret.
_WEBHOOK_SCHEMES = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})
_SECRET_PARAM_PREFIXES = ("+", "-", ":")
_URL_PIECES = re.compile(r"[/:@?&=#;,+\s]+")
_URL_IN_TEXT = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]{0,30})://[^\s'\"<>]+")
_NOTIFY_TYPES = {AlertSeverity.INFO: apprise.NotifyType.INFO, AlertSeverity.WARNING: apprise.NotifyType.WARNING,
                 AlertSeverity.ERROR: apprise.NotifyType.FAILURE, AlertSeverity.CRITICAL: apprise.NotifyType.FAILURE}


# --- apprise's own log lines --------------------------------------------------------------------


class _AppriseLogGuard(logging.Filter):
    """On apprise's logger: drops its lines on a thread inside ``_quiet()`` (a URL being parsed,
    whose errors quote it whole); in the others masks every URL ("JSON POST URL: http://...") and
    every secret piece of the URLs sent to ("Max retries exceeded with url: /hook/<token>")."""

    def __init__(self) -> None:
        super().__init__()
        self.local = threading.local()
        self.pieces: frozenset[str] = frozenset()

    def remember(self, url: str) -> None:
        """Mask the secret pieces of ``url`` in apprise's lines from now on (its workers may outlive a call)."""
        if url not in self.pieces:
            self.pieces = frozenset(_secret_pieces(url)) | self.pieces

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(self.local, "depth", 0):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: logging reports it itself, with no message to leak
            return True
        masked = _mask_pieces(message, self.pieces)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_GUARD = _AppriseLogGuard()
logging.getLogger(apprise.LOGGER_NAME).addFilter(_GUARD)


@contextmanager
def _quiet() -> Iterator[None]:
    _GUARD.local.depth = getattr(_GUARD.local, "depth", 0) + 1
    try:
        yield
    finally:
        _GUARD.local.depth -= 1


# --- URLs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeouts:
    """How long one delivery may take: to connect, to get an answer, and in all (retries included)."""

    connect_seconds: float = 3.0
    read_seconds: float = 4.0  # apprise's own default; a URL's ?cto= / ?rto= may only shorten them
    total_seconds: float = 10.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 300:
                raise ConfigError(f"{f.name} must be a number of seconds above 0 and at most 300, got {value!r}")


def _instantiate(url: str, timeouts: Timeouts | None = None) -> apprise.NotifyBase | None:
    """apprise's plugin for ``url`` (None when it understands no such URL), timeouts capped."""
    asset = apprise.AppriseAsset(storage_mode="memory",
                                 service_timeout=(timeouts or Timeouts()).total_seconds)
    with _quiet():
        try:
            plugin = apprise.Apprise.instantiate(url, asset=asset)
        except Exception:  # apprise suppresses its errors; anything left is still "not understood"
            return None
    if plugin is not None and timeouts is not None:
        # A ?cto= / ?rto= in the URL may shorten these, never lengthen them.
        plugin.socket_connect_timeout = min(plugin.socket_connect_timeout, timeouts.connect_seconds)
        plugin.socket_read_timeout = min(plugin.socket_read_timeout, timeouts.read_seconds)
    return plugin


def _fallback_mask(url: str) -> str:
    scheme, slashes, _rest = url.partition("://")
    return f"{scheme}://****" if slashes and re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]{0,30}", scheme) else "****"


def _mask_param(param: str) -> str:
    name, equals, _value = param.partition("=")
    return f"{name}=****" if equals and unquote(name).startswith(_SECRET_PARAM_PREFIXES) else param


def _mask_generic_parts(shown: str) -> str:
    """apprise's privacy form keeps a webhook's path and custom parameters: mask them too."""
    parts = urlsplit(shown)
    path = parts.path
    if parts.scheme.lower() in _WEBHOOK_SCHEMES:
        path = "/".join(apprise.URLBase.pprint(unquote(piece), privacy=True) if piece else piece
                        for piece in path.split("/"))
    query = "&".join(_mask_param(param) for param in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(path=path, query=query))


def mask_url(url: str) -> str:
    """``url`` as it may be shown: apprise's privacy form, or ``scheme://****`` when it has none."""
    if not isinstance(url, str):
        return "****"
    plugin = _instantiate(url.strip())
    if plugin is None:
        return _fallback_mask(url.strip())
    try:
        return _mask_generic_parts(plugin.url(privacy=True))
    except Exception:  # a plugin that cannot print itself shows nothing of the URL
        return _fallback_mask(url.strip())


def validate_url(url: object) -> str:
    """The masked form of a URL apprise can send to; a ConfigError that never quotes it otherwise."""
    if not isinstance(url, str):
        raise ConfigError(f"the notification URL must be text, got {type(url).__name__}")
    url = url.strip()
    if not url:
        raise ConfigError(f"the notification URL is empty: give one such as {URL_EXAMPLES}")
    if len(url) > MAX_URL_CHARS:
        raise ConfigError(f"the notification URL must be at most {MAX_URL_CHARS} characters, got {len(url)}")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ConfigError("the notification URL must be one line with no spaces or control characters")
    if _instantiate(url) is None:
        raise ConfigError(f"{_fallback_mask(url)} is {URL_FORM}")
    return mask_url(url)


def _secret_pieces(url: str) -> list[str]:
    """``url`` and each piece of it (4+ characters) its masked form does not show, longest first."""
    shown = set(_URL_PIECES.split(unquote(mask_url(url))))
    rest = url.partition("://")[2]
    pieces = {piece for text in (rest, unquote(rest)) for piece in _URL_PIECES.split(text)
              if len(piece) >= 4 and piece not in shown}
    return sorted({url, rest, *pieces} - {""}, key=len, reverse=True)


def _mask_pieces(text: str, pieces: Iterable[str]) -> str:
    for piece in sorted(pieces, key=len, reverse=True):  # a piece inside another is masked with it
        for form in {piece, quote(piece, safe=""), quote(piece)}:
            text = text.replace(form, "****")
    return _URL_IN_TEXT.sub(r"\1://****", text)


def mask_in_detail(text: str, url: str) -> str:
    """``text`` (an apprise reason) with any URL and every secret part of ``url``, raw or encoded, masked."""
    return _mask_pieces(text, _secret_pieces(url))


# --- one notifier's settings --------------------------------------------------------------------


def _coerce_severity(value: object) -> AlertSeverity:
    candidate = value.strip().lower() if isinstance(value, str) else value
    try:
        return AlertSeverity(candidate)
    except ValueError:
        valid = ", ".join(s.value for s in AlertSeverity)
        raise ConfigError(f"min_severity must be one of {valid}, got {value!r}") from None


def _check_notifier_id(value: object) -> str:
    if not isinstance(value, str) or not _NOTIFIER_ID.fullmatch(value):
        raise ConfigError("notifier_id must be 1-40 lowercase letters, digits, '-' or '_', starting with a "
                          f"letter or digit, got {value!r}")
    return value


@dataclass(frozen=True)
class NotifierConfig:
    """Who hears about alerts, and from which severity on. The URL is kept apart: it is a secret."""

    notifier_id: str  # e.g. "ops-slack"
    name: str  # e.g. "Ops channel on Slack"
    enabled: bool = True
    min_severity: AlertSeverity = AlertSeverity.WARNING

    def __post_init__(self) -> None:
        _check_notifier_id(self.notifier_id)
        name = self.name.strip() if isinstance(self.name, str) else self.name
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
            raise ConfigError(f"name must be one line of 1-{MAX_NAME_CHARS} printable characters, got {self.name!r}")
        object.__setattr__(self, "name", name)
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"enabled must be true or false, got {self.enabled!r}")
        object.__setattr__(self, "min_severity", _coerce_severity(self.min_severity))

    def to_doc(self) -> dict[str, Any]:
        return {"notifier_id": self.notifier_id, "name": self.name, "enabled": self.enabled,
                "min_severity": self.min_severity.value}

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> "NotifierConfig":
        known = sorted(f.name for f in fields(cls))
        if not isinstance(doc, Mapping):
            raise ConfigError(f"a notifier must be a mapping with {known}, got {type(doc).__name__}")
        unknown = sorted(set(doc) - set(known))
        if unknown:
            raise ConfigError(f"unknown notifier settings {unknown}; valid: {known}")
        return cls(**doc)


def hears(config: NotifierConfig, notification: Notification) -> bool:
    """Whether ``config`` is told about ``notification``: enabled and the alert severe enough.

    A resolved notice is compared by the alert's severity, like its firing notice was.
    """
    severity = notification.alert.severity or AlertSeverity.WARNING
    return config.enabled and SEVERITIES.index(severity) >= SEVERITIES.index(config.min_severity)


def notice_title(notification: Notification) -> str:
    """"[ERROR] scheduler", "[RESOLVED] scheduler"."""
    alert = notification.alert
    label = "RESOLVED" if notification.kind == "resolved" else (alert.severity or AlertSeverity.WARNING).value.upper()
    return f"[{label}] {alert.component}"


# --- the rate limit (pure) ----------------------------------------------------------------------


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_messages`` messages per notifier in any ``window_seconds``."""

    max_messages: int = 5
    window_seconds: float = 300.0

    def __post_init__(self) -> None:
        if isinstance(self.max_messages, bool) or not isinstance(self.max_messages, int) \
                or not 1 <= self.max_messages <= 1000:
            raise ConfigError(f"max_messages must be a whole number 1-1000, got {self.max_messages!r}")
        window = self.window_seconds
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not math.isfinite(window) \
                or not 0 < window <= 86400:
            raise ConfigError(f"window_seconds must be a number of seconds above 0 and at most 86400, got {window!r}")


@dataclass(frozen=True)
class RateState:
    """One notifier's recent messages, and what it held back since its last one."""

    sent: tuple[datetime, ...] = ()  # when the messages still inside the window went out
    held: int = 0  # notices held back since the last message
    held_alerts: tuple[str, ...] = ()  # alerts whose firing notice was held and of which nothing was said

    def recent(self, limit: RateLimit, now: datetime) -> tuple[datetime, ...]:
        window = timedelta(seconds=limit.window_seconds)
        return tuple(moment for moment in self.sent if now - moment < window)


def admit(state: RateState, limit: RateLimit, now: datetime, alert_id: str = "",
          kind: str = "firing") -> tuple[RateState, int | None]:
    """The next state, and None to hold the notice back or the count of held notices to mention.

    Over the limit a notice is held back and counted. The next message that goes out carries
    that count (``held_back_line``) and resets it. A resolved notice for an alert of which nothing
    was said (its firing notice was held back) is dropped without counting: people were never
    told it began, and the count already covers it.
    """
    recent = state.recent(limit, now)
    if kind == "resolved" and alert_id in state.held_alerts:
        rest = tuple(a for a in state.held_alerts if a != alert_id)
        return replace(state, sent=recent, held_alerts=rest), None
    if len(recent) >= limit.max_messages:
        held_alerts = state.held_alerts
        if kind == "firing" and alert_id and alert_id not in held_alerts:
            held_alerts = (*held_alerts, alert_id)[-MAX_HELD_ALERTS:]
        return RateState(sent=recent, held=state.held + 1, held_alerts=held_alerts), None
    rest = tuple(a for a in state.held_alerts if a != alert_id)  # said now: its resolution will be said too
    return RateState(sent=(*recent, now), held=0, held_alerts=rest), state.held


def owed_summary(state: RateState, limit: RateLimit, now: datetime) -> tuple[RateState, int]:
    """When notices were held back and the limit allows a message again: a summary of them is owed."""
    recent = state.recent(limit, now)
    if not state.held or len(recent) >= limit.max_messages:
        return state, 0
    return RateState(sent=(*recent, now), held=0, held_alerts=state.held_alerts), state.held


def held_back_line(count: int) -> str:
    if count == 1:
        return "(1 more alert was held back by the rate limit)"
    return f"({count} more alerts were held back by the rate limit)"


# --- deliveries ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One message to one notifier and how it went; ``detail`` never shows the URL's secrets."""

    notifier_id: str
    name: str
    when: datetime
    ok: bool
    kind: str  # firing | escalated | reminder | resolved | summary | test
    alert_id: str  # empty for a summary or a test
    detail: str  # "delivered in 0.1 s" or apprise's reason, masked

    def to_doc(self) -> dict[str, Any]:
        return {"notifier_id": self.notifier_id, "name": self.name, "when": to_iso(self.when), "ok": self.ok,
                "kind": self.kind, "alert_id": self.alert_id, "detail": self.detail}


@dataclass(frozen=True)
class _Message:
    title: str
    body: str
    notify_type: apprise.NotifyType
    kind: str
    alert_id: str = ""


class NotifierUrls(KeyStore):
    """apprise URLs by notifier id, in ``<data>/notifiers.json`` readable by its owner only."""

    FILE_NAME = "notifiers.json"
    CONTENTS = "notifier id to apprise URL"

    def _check_entry(self, destination_id: str, key: str) -> None:
        _check_notifier_id(destination_id)
        validate_url(key)


def _failure_reason(result: apprise.AppriseResult) -> str:
    lines: list[str] = []
    for entry in result.logs():
        if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message not in lines:
            lines.append(entry.message)
    return "; ".join(lines) or f"apprise reported {result.status.name.lower()}"


_STOP = object()


class Notifiers:
    """The configured notifiers of one data directory, and the one thread that talks to them."""

    QUEUE_SIZE = 100
    IDLE_SECONDS = 1.0  # how often an idle worker checks for owed rate-limit summaries

    def __init__(self, data_dir: Path, clock: Clock = utc_now,
                 on_delivery: Callable[[Delivery], None] | None = None, *,
                 rate_limit: RateLimit = RateLimit(), timeouts: Timeouts = Timeouts()) -> None:
        self.data_dir = Path(data_dir)
        self.settings_path = self.data_dir / SETTINGS_FILE
        self.urls = NotifierUrls(self.data_dir)
        self.clock = clock
        self.on_delivery = on_delivery
        self.rate_limit = rate_limit
        self.timeouts = timeouts
        self._lock = threading.Lock()
        self._rates: dict[str, RateState] = {}  # worker thread only
        self._queue: queue.Queue[object] = queue.Queue(maxsize=self.QUEUE_SIZE)
        self._worker: threading.Thread | None = None
        self._closed = threading.Event()

    # ---- settings ----

    def configs(self) -> list[NotifierConfig]:
        """The notifiers, in the order they were added; an unreadable entry is skipped and logged."""
        try:
            payload = self.settings_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StoreError(f"cannot read {self.settings_path}: {exc.strerror}") from None
        try:
            docs = json.loads(payload).get("notifiers")
        except (ValueError, UnicodeDecodeError, AttributeError):
            docs = None
        if not isinstance(docs, list):
            raise StoreError(f'{self.settings_path} must be a JSON object {{"notifiers": [...]}}')
        configs = []
        for doc in docs:
            try:
                configs.append(NotifierConfig.from_doc(doc))
            except (ConfigError, TypeError) as exc:
                log.warning("skipping a notifier in %s: %s", self.settings_path, exc)
        return configs

    def config(self, notifier_id: str) -> NotifierConfig:
        configs = self.configs()
        for config in configs:
            if config.notifier_id == notifier_id:
                return config
        known = [config.notifier_id for config in configs]
        raise ConfigError(f"no notifier has the id {notifier_id!r}; known: {known}")

    def save(self, config: NotifierConfig, url: str | None = None) -> None:
        """Add or replace a notifier; ``url`` None keeps the stored one. Nothing changes on error."""
        if not isinstance(config, NotifierConfig):
            raise ConfigError(f"a notifier must be a NotifierConfig, got {type(config).__name__}")
        with self._lock:
            if url is not None:
                validate_url(url)
            elif self.urls.get(config.notifier_id) is None:
                raise ConfigError(f"notifier {config.notifier_id!r} has no URL yet: give one such as {URL_EXAMPLES}")
            configs = self.configs()
            if url is not None:
                self.urls.set(config.notifier_id, url.strip())
            ids = [c.notifier_id for c in configs]
            if config.notifier_id in ids:
                configs[ids.index(config.notifier_id)] = config
            else:
                configs.append(config)
            self._write_configs(configs)

    def remove(self, notifier_id: str) -> bool:
        """Forget a notifier and its URL; False when there was none."""
        with self._lock:
            configs = self.configs()
            kept = [c for c in configs if c.notifier_id != notifier_id]
            if len(kept) != len(configs):
                self._write_configs(kept)
            had_url = self.urls.delete(notifier_id)
        self._rates.pop(notifier_id, None)
        return had_url or len(kept) != len(configs)

    def masked_url(self, notifier_id: str) -> str | None:
        url = self.urls.get(notifier_id)
        return None if url is None else mask_url(url)

    def held(self, notifier_id: str) -> int:
        """Notices held back by the rate limit since the notifier's last message."""
        return self._rates.get(notifier_id, RateState()).held

    def _write_configs(self, configs: list[NotifierConfig]) -> None:
        payload = json.dumps({"notifiers": [c.to_doc() for c in configs]}, indent=2).encode()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            atomic_replace(self.settings_path, payload)
        except OSError as exc:
            raise StoreError(f"cannot write {self.settings_path}: {exc.strerror}") from None

    # ---- sending ----

    def send(self, notification: Notification) -> None:
        """Hand ``notification`` to the worker; never blocks, never raises (a full queue drops it)."""
        if self._closed.is_set():
            log.warning("notifiers are closed: not sending %s for %s", notification.kind, notification.alert.alert_id)
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="notifiers", daemon=True)
                self._worker.start()
        try:
            self._queue.put_nowait(notification)
        except queue.Full:
            log.warning("notification queue full (%d): dropped %s for %s", self.QUEUE_SIZE, notification.kind,
                        notification.alert.alert_id)

    def send_test(self, notifier_id: str) -> Delivery:
        """Send a test message now, whether the notifier is enabled or not, outside the rate limit."""
        config = self.config(notifier_id)
        body = (f"This is a test notification from {APP_NAME}: alerts for notifier '{config.name}' "
                f"({config.min_severity.value} and worse) will arrive here.")
        message = _Message(f"[TEST] {APP_NAME}", body, apprise.NotifyType.INFO, "test")
        return self._deliver(config, message)

    def close(self, timeout: float | None = None) -> None:
        """Stop the worker (queued notices are dropped) and wait for it, at most ``timeout`` seconds."""
        self._closed.set()
        try:
            self._queue.put_nowait(_STOP)
        except queue.Full:
            pass  # the worker sees _closed after its current delivery
        worker = self._worker
        if worker is not None:
            worker.join(self.timeouts.total_seconds + 2 if timeout is None else timeout)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                job = self._queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                job = None
            if self._closed.is_set() or job is _STOP:
                return
            try:
                if isinstance(job, Notification):
                    self._fan_out(job)
                self._send_summaries()
            except Exception:  # the worker must outlive any one bad notice or store error
                log.exception("notifier worker failed on a notice")

    def _fan_out(self, notification: Notification) -> None:
        alert = notification.alert
        severity = alert.severity or AlertSeverity.WARNING
        notify_type = apprise.NotifyType.SUCCESS if notification.kind == "resolved" else _NOTIFY_TYPES[severity]
        for config in self.configs():
            if not hears(config, notification):
                continue
            state = self._rates.get(config.notifier_id, RateState())
            state, held = admit(state, self.rate_limit, self.clock(), alert.alert_id, notification.kind)
            self._rates[config.notifier_id] = state
            if held is None:
                log.info("notifier %s: %s for %s held back by the rate limit (%d held)", config.notifier_id,
                         notification.kind, alert.alert_id, state.held)
                continue
            body = notification.text + (f"\n\n{held_back_line(held)}" if held else "")
            self._deliver(config, _Message(notice_title(notification), body, notify_type, notification.kind,
                                           alert.alert_id))

    def _send_summaries(self) -> None:
        owing = [notifier_id for notifier_id, state in self._rates.items() if state.held]
        if not owing:
            return
        configs = {c.notifier_id: c for c in self.configs() if c.enabled}
        for notifier_id in owing:
            config = configs.get(notifier_id)
            if config is None:  # removed or disabled meanwhile: nobody to tell
                self._rates.pop(notifier_id, None)
                continue
            state, held = owed_summary(self._rates[notifier_id], self.rate_limit, self.clock())
            self._rates[notifier_id] = state
            if held:
                body = f"{held_back_line(held)}; see the alerts in {APP_NAME}."
                self._deliver(config, _Message(f"[NOTICE] {APP_NAME}", body, apprise.NotifyType.WARNING, "summary"))

    def _deliver(self, config: NotifierConfig, message: _Message) -> Delivery:
        """One apprise call; its outcome, whatever happens, as a Delivery (logged and reported)."""
        url = ""
        started = time.monotonic()
        try:
            url = self.urls.get(config.notifier_id) or ""
            ok, detail = self._notify(url, message)
        except Exception as exc:  # a failing notifier never raises into the caller
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - started
        if ok:
            detail = f"delivered in {elapsed:.1f} s"
        else:
            detail = f"{mask_in_detail(detail, url) if url else detail} (after {elapsed:.1f} s)"
            detail = detail if len(detail) <= MAX_DETAIL_CHARS else detail[:MAX_DETAIL_CHARS - 1] + "…"
        delivery = Delivery(config.notifier_id, config.name, self.clock(), ok, message.kind, message.alert_id, detail)
        what = f"{message.kind} {message.alert_id}".strip()
        if ok:
            log.info("notifier %s: %s %s", config.notifier_id, what, detail)
        else:
            log.warning("notifier %s: %s not delivered: %s", config.notifier_id, what, detail)
        self._report(delivery)
        return delivery

    def _notify(self, url: str, message: _Message) -> tuple[bool, str]:
        if not url:
            return False, "no URL is stored for this notifier"
        plugin = _instantiate(url, self.timeouts)
        _GUARD.remember(url)
        if plugin is None:
            return False, "the stored URL is not one apprise understands"
        sender = apprise.Apprise(asset=plugin.asset)
        sender.add(plugin)
        result = sender.notify(body=message.body, title=message.title, notify_type=message.notify_type,
                               body_format=apprise.NotifyFormat.TEXT, timeout=self.timeouts.total_seconds)
        return (True, "") if result else (False, _failure_reason(result))

    def _report(self, delivery: Delivery) -> None:
        if self.on_delivery is None:
            return
        try:
            self.on_delivery(delivery)
        except Exception:
            log.exception("on_delivery failed for %s", delivery.notifier_id)
