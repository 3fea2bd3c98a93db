"""Prometheus metrics for Grafana: ``/metrics`` in the text format, built from a snapshot per scrape.

The exporter never imports the supervisor. It calls a ``snapshot()`` function on every scrape and
turns the document it returns into metric families (a custom ``Collector`` in its own
``CollectorRegistry``, never the global one). The snapshot's shape; every section, and every key
inside one, may be missing, and a missing one exports nothing rather than failing the scrape::

    {
      "debates": {"completed": int, "failed": int, "running": int,
                  "durations_seconds": [float, ...]},  # finished debates' durations (the histogram)
      "streams": {"live": int,                         # destinations currently live
                  "destinations": [{"destination_id": str, "name": str, "platform": str,
                                    "state": str,      # idle|connecting|live|reconnecting|error|failed|stopped
                                    "bitrate_kbps": float | None, "target_kbps": float | None,
                                    "bytes_sent": int | None, "reconnects": int | None}]},
      "health": {"component-name": "healthy" | "degraded" | "unhealthy" | "critical" | "unknown"},
      "alerts_open": {"info": int, "warning": int, "error": int, "critical": int},
    }

Validation is light and local: a malformed value drops only what it would have fed (one field,
one destination, one component, or the histogram), is logged, and counts the scrape in
``ai_council_scrape_errors_total``, as does a snapshot function that raises. A scrape always
answers 200. Only the fields above are exported: names and ids, never keys or URLs.
"""

from __future__ import annotations

import errno
import logging
import math
import socket
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Iterator, Mapping
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, generate_latest, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.utils import floatToGoString

from .errors import ConfigError
from .health import AlertSeverity, HealthStatus

log = logging.getLogger(__name__)

SnapshotFn = Callable[[], Mapping[str, Any]]

PREFIX = "ai_council_"
METRICS_PATH = "/metrics"
THREAD_PREFIX = "ai-council-metrics"
# Debates last minutes to an hour: half a minute up to an hour, then +Inf.
DURATION_BUCKETS: tuple[float, ...] = (30, 60, 120, 300, 600, 900, 1800, 3600)
# Every state a destination reports (StreamStatus's values, plus "failed"): one 0/1 series each.
DESTINATION_STATES: tuple[str, ...] = ("idle", "connecting", "live", "reconnecting", "error", "failed", "stopped")
HEALTH_VALUES: dict[HealthStatus, float] = {
    HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2, HealthStatus.CRITICAL: 3,
    HealthStatus.UNKNOWN: -1,
}
DESTINATION_LABELS = ["destination", "name", "platform"]


# ---- the snapshot, read and checked ----------------------------------------------------------


@dataclass(frozen=True)
class DestinationReading:
    """One destination's exported figures; None where the snapshot had none (that sample is omitted)."""

    destination_id: str
    name: str = ""
    platform: str = ""
    state: str | None = None
    bitrate_kbps: float | None = None
    target_kbps: float | None = None
    bytes_sent: int | None = None
    reconnects: int | None = None


@dataclass(frozen=True)
class Snapshot:
    """The checked snapshot: what each metric family is built from."""

    completed: int | None = None
    failed: int | None = None
    running: int | None = None
    durations_seconds: tuple[float, ...] | None = None
    live: int | None = None
    destinations: tuple[DestinationReading, ...] = ()
    health: Mapping[str, HealthStatus] = field(default_factory=dict)
    alerts_open: Mapping[AlertSeverity, int] | None = None


def _plain(value: object) -> object:
    """An enum member as its value (``str(StreamStatus.LIVE)`` is not ``"live"``)."""
    return value.value if isinstance(value, Enum) else value


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _count(section: Mapping[str, Any], key: str, where: str, problems: list[str]) -> int | None:
    value = section.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.append(f"{where}.{key} must be a whole number 0 or more, got {value!r}")
        return None
    return value


def _measure(section: Mapping[str, Any], key: str, where: str, problems: list[str]) -> float | None:
    value = section.get(key)
    if value is None:
        return None
    if not _is_number(value):
        problems.append(f"{where}.{key} must be empty or a finite number 0 or more, got {value!r}")
        return None
    return float(value)


def _label(section: Mapping[str, Any], key: str, where: str, problems: list[str]) -> str | None:
    value = _plain(section.get(key, ""))
    if not isinstance(value, str):
        problems.append(f"{where}.{key} must be text, got {value!r}")
        return None
    return value


def _section(doc: Mapping[str, Any], key: str, problems: list[str]) -> Mapping[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be a mapping, got {type(value).__name__}")
        return None
    return value


def _durations(debates: Mapping[str, Any], problems: list[str]) -> tuple[float, ...] | None:
    values = debates.get("durations_seconds")
    if values is None:
        return None
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        problems.append(f"debates.durations_seconds must be a list of seconds, got {type(values).__name__}")
        return None
    values = list(values)
    bad = [value for value in values if not _is_number(value)]
    if bad:  # a histogram missing some debates would lie: none at all
        problems.append(f"debates.durations_seconds must hold finite seconds 0 or more, got {bad[0]!r}")
        return None
    return tuple(float(value) for value in values)


def _destination(doc: object, index: int, problems: list[str]) -> DestinationReading | None:
    where = f"streams.destinations[{index}]"
    if not isinstance(doc, Mapping):
        problems.append(f"{where} must be a mapping, got {type(doc).__name__}")
        return None
    destination_id = _plain(doc.get("destination_id"))
    if not isinstance(destination_id, str) or not destination_id:
        problems.append(f"{where}.destination_id must be non-empty text, got {destination_id!r}")
        return None
    where = f"streams.destinations[{destination_id}]"
    name, platform = _label(doc, "name", where, problems), _label(doc, "platform", where, problems)
    if name is None or platform is None:
        return None
    state = _plain(doc.get("state"))
    if state is not None and (not isinstance(state, str) or not state):
        problems.append(f"{where}.state must be non-empty text, got {state!r}")
        state = None
    return DestinationReading(
        destination_id=destination_id, name=name, platform=platform, state=state,
        bitrate_kbps=_measure(doc, "bitrate_kbps", where, problems),
        target_kbps=_measure(doc, "target_kbps", where, problems),
        bytes_sent=_count(doc, "bytes_sent", where, problems),
        reconnects=_count(doc, "reconnects", where, problems))


def _destinations(streams: Mapping[str, Any], problems: list[str]) -> tuple[DestinationReading, ...]:
    docs = streams.get("destinations")
    if docs is None:
        return ()
    if isinstance(docs, (str, bytes, Mapping)) or not isinstance(docs, Iterable):
        problems.append(f"streams.destinations must be a list, got {type(docs).__name__}")
        return ()
    readings: dict[str, DestinationReading] = {}
    for index, doc in enumerate(docs):
        reading = _destination(doc, index, problems)
        if reading is None:
            continue
        if reading.destination_id in readings:  # duplicate series would make Prometheus refuse the scrape
            problems.append(f"streams.destinations has {reading.destination_id!r} twice; the first is kept")
            continue
        readings[reading.destination_id] = reading
    return tuple(readings.values())


def _health(health: Mapping[str, Any], problems: list[str]) -> dict[str, HealthStatus]:
    statuses: dict[str, HealthStatus] = {}
    for component, value in health.items():
        if not isinstance(component, str) or not component:
            problems.append(f"health has a component named {component!r}; names are non-empty text")
            continue
        try:
            statuses[component] = HealthStatus(_plain(value))
        except ValueError:
            valid = "|".join(status.value for status in HealthStatus)
            problems.append(f"health[{component}] must be one of {valid}, got {value!r}")
    return statuses


def parse_snapshot(doc: object) -> tuple[Snapshot, list[str]]:
    """The checked snapshot and the problems found (each dropped only what it would have fed)."""
    problems: list[str] = []
    if not isinstance(doc, Mapping):
        return Snapshot(), [f"the snapshot must be a mapping, got {type(doc).__name__}"]
    values: dict[str, Any] = {}
    debates = _section(doc, "debates", problems)
    if debates is not None:
        values.update({key: _count(debates, key, "debates", problems) for key in ("completed", "failed", "running")})
        values["durations_seconds"] = _durations(debates, problems)
    streams = _section(doc, "streams", problems)
    if streams is not None:
        values["live"] = _count(streams, "live", "streams", problems)
        values["destinations"] = _destinations(streams, problems)
    health = _section(doc, "health", problems)
    if health is not None:
        values["health"] = _health(health, problems)
    alerts = _section(doc, "alerts_open", problems)
    if alerts is not None:
        values["alerts_open"] = {severity: _count(alerts, severity.value, "alerts_open", problems) or 0
                                 for severity in AlertSeverity}
    return Snapshot(**values), problems


# ---- metric families ---------------------------------------------------------------------------


def _histogram(durations: tuple[float, ...]) -> HistogramMetricFamily:
    buckets = [(floatToGoString(bound), float(sum(1 for d in durations if d <= bound)))
               for bound in DURATION_BUCKETS]
    buckets.append(("+Inf", float(len(durations))))
    return HistogramMetricFamily(PREFIX + "debate_duration_seconds",
                                 "How long finished debates took, in seconds.",
                                 buckets=buckets, sum_value=float(sum(durations)))


def _destination_families(destinations: tuple[DestinationReading, ...]) -> list[Metric]:
    bitrate = GaugeMetricFamily(PREFIX + "destination_bitrate_kbps",
                                "Measured output bitrate of a destination, kbit/s.", labels=DESTINATION_LABELS)
    target = GaugeMetricFamily(PREFIX + "destination_target_bitrate_kbps",
                               "Bitrate a destination is encoded for, kbit/s.", labels=DESTINATION_LABELS)
    sent = CounterMetricFamily(PREFIX + "destination_bytes_sent", "Bytes sent to a destination.",
                               labels=DESTINATION_LABELS)
    reconnects = CounterMetricFamily(PREFIX + "destination_reconnects", "Reconnections to a destination.",
                                     labels=DESTINATION_LABELS)
    state = GaugeMetricFamily(PREFIX + "destination_state",
                              "1 for the state a destination is in, 0 for the other known states.",
                              labels=[*DESTINATION_LABELS, "state"])
    for reading in destinations:
        labels = [reading.destination_id, reading.name, reading.platform]
        for family, value in ((bitrate, reading.bitrate_kbps), (target, reading.target_kbps),
                              (sent, reading.bytes_sent), (reconnects, reading.reconnects)):
            if value is not None:
                family.add_metric(labels, float(value))
        if reading.state is not None:
            known = DESTINATION_STATES if reading.state in DESTINATION_STATES else (*DESTINATION_STATES, reading.state)
            for name in known:
                state.add_metric([*labels, name], 1.0 if name == reading.state else 0.0)
    return [bitrate, target, sent, reconnects, state]


def metric_families(snapshot: Snapshot) -> list[Metric]:
    """The families for one checked snapshot; a family with no samples is left out."""
    families: list[Metric] = []
    debates = CounterMetricFamily(PREFIX + "debates", "Finished debates by outcome.", labels=["outcome"])
    for outcome, value in (("completed", snapshot.completed), ("failed", snapshot.failed)):
        if value is not None:
            debates.add_metric([outcome], float(value))
    families.append(debates)
    if snapshot.running is not None:
        families.append(GaugeMetricFamily(PREFIX + "debates_running", "Debates running now.",
                                          value=float(snapshot.running)))
    if snapshot.durations_seconds is not None:
        families.append(_histogram(snapshot.durations_seconds))
    if snapshot.live is not None:
        families.append(GaugeMetricFamily(PREFIX + "streams_live", "Destinations live now.",
                                          value=float(snapshot.live)))
    families.extend(_destination_families(snapshot.destinations))
    status = GaugeMetricFamily(PREFIX + "health_status",
                               "Component health: 0=healthy, 1=degraded, 2=unhealthy, 3=critical, -1=unknown.",
                               labels=["component"])
    up = GaugeMetricFamily(PREFIX + "health_up", "1 when the component is healthy, else 0.", labels=["component"])
    for component, health in snapshot.health.items():
        status.add_metric([component], HEALTH_VALUES[health])
        up.add_metric([component], 1.0 if health is HealthStatus.HEALTHY else 0.0)
    families.extend([status, up])
    if snapshot.alerts_open is not None:
        alerts = GaugeMetricFamily(PREFIX + "alerts_open", "Open alerts by severity.", labels=["severity"])
        for severity in AlertSeverity:
            alerts.add_metric([severity.value], float(snapshot.alerts_open.get(severity, 0)))
        families.append(alerts)
    return [family for family in families if family.samples]


class SnapshotCollector:
    """A prometheus_client collector: calls ``snapshot()`` on every scrape; a failure is counted, never raised."""

    def __init__(self, snapshot: SnapshotFn) -> None:
        if not callable(snapshot):
            raise ConfigError(f"snapshot must be a function returning the snapshot, got {snapshot!r}")
        self._snapshot = snapshot
        self._lock = threading.Lock()
        self._errors = 0
        self._last_problem: str | None = None

    @property
    def scrape_errors(self) -> int:
        with self._lock:
            return self._errors

    def collect(self) -> Iterator[Metric]:
        families: list[Metric] = []
        try:
            snapshot, problems = parse_snapshot(self._snapshot())
            families = metric_families(snapshot)
        except Exception as exc:  # the scrape still answers; the counter and the log tell
            problems, families = [f"the metrics snapshot failed: {type(exc).__name__}: {exc}"], []
        with self._lock:
            if problems:
                self._errors += 1
            errors, first_time = self._errors, bool(problems) and problems[0] != self._last_problem
            self._last_problem = problems[0] if problems else None
        if problems:  # the same problem every 15 s is said once, then quietly
            log.log(logging.WARNING if first_time else logging.DEBUG, "metrics scrape: %s", "; ".join(problems))
        yield from families
        yield CounterMetricFamily(PREFIX + "scrape_errors",
                                  "Scrapes whose snapshot failed or was partly malformed (see the log).",
                                  value=float(errors))


def new_registry(snapshot: SnapshotFn) -> CollectorRegistry:
    """A registry of its own holding one ``SnapshotCollector`` (the global registry is untouched)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return registry


def render(snapshot: SnapshotFn) -> bytes:
    """One scrape's page in the Prometheus text format (for tests and the dashboard)."""
    return generate_latest(new_registry(snapshot))


# ---- the HTTP endpoint -------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not news."""


def _only_metrics(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == METRICS_PATH:
            return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [f"not found: the metrics are at {METRICS_PATH}\n".encode()]
    return serve


def check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"metrics port must be a whole number 0-65535 (0 = off), got {port!r}")
    return port


class MetricsServer:
    """``/metrics`` over HTTP on ``address:port`` in a thread of its own; port 0 means off."""

    def __init__(self, snapshot: SnapshotFn, port: int, address: str = "127.0.0.1") -> None:
        self.port = check_port(port)
        if not isinstance(address, str) or not address:
            raise ConfigError(f"metrics address must be a host name or IP address, got {address!r}")
        self.address = address
        self.registry = new_registry(snapshot)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def serving(self) -> bool:
        return self._thread is not None

    @property
    def url(self) -> str | None:
        """Where Prometheus scrapes, while serving; None otherwise."""
        if not self.serving:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}{METRICS_PATH}"

    def start(self) -> int:
        """Serve and return the bound port (0: off, nothing started). Already serving: the same port."""
        with self._lock:
            if self._thread is not None or self.port == 0:
                return self.port
            try:
                info = socket.getaddrinfo(self.address, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            except socket.gaierror as exc:
                raise ConfigError(f"metrics address {self.address!r} does not resolve: {exc}") from None
            family, host = info[0][0], str(info[0][4][0])  # IPv6 addresses need an AF_INET6 socket

            class Server(ThreadingWSGIServer):
                address_family = family

            try:
                server = make_server(host, self.port, _only_metrics(make_wsgi_app(self.registry)),
                                     server_class=Server, handler_class=_QuietHandler)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise ConfigError(f"port {self.port} is already in use") from None
                raise ConfigError(f"cannot serve metrics on {self.address}:{self.port}: {exc}") from None
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2},
                                      name=f"{THREAD_PREFIX}-{self.port}", daemon=True)
            thread.start()
            self._server, self._thread = server, thread
            log.info("serving Prometheus metrics at %s", self.url)
            return self.port

    def stop(self) -> None:
        """Shut the server down, close its socket and join its thread; safe to call again."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None or thread is None:
            return
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if thread.is_alive():
            log.warning("the metrics thread %s did not end within 5 s", thread.name)
