"""The predefined health checks: each one measures, and its message carries the figure.

In the seed project seven of the eight checks returned True whatever happened; here every check
looks at the real thing (the filesystem, psutil, the cgroup, the supervisor's thread and clock,
the streamer's ffmpeg metrics, a store round trip, an HTTP GET, espeak-ng, ffmpeg) and says what
it found: ``"memory 71.3 % used (warning at 85 %, critical at 95 %)"``. The limits live in
``Thresholds``. ``predefined_checks`` binds them to one Supervisor as zero-argument callables for
``HealthMonitor.register_check``. The status decisions are small pure functions, tested alone.
"""

from __future__ import annotations

import http.client
import math
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import psutil

from .destinations import QUALITY_PRESETS, QualityPreset, redact_url
from .errors import ConfigError
from .health import STATUS_ORDER, CheckResult, HealthStatus, worst
from .media import ffmpeg_binary
from .models import DebateStatus, ScheduledDebate
from .speech import BYTES_PER_SECOND, speech_engine, synthesize
from .streaming import StreamMetrics, StreamStatus
from .timeutil import real_seconds, to_iso, utc_now

if TYPE_CHECKING:  # only for annotations: the supervisor imports half the package
    from .storage import Store
    from .supervisor import JobHealth, Supervisor

__all__ = [
    "PREDEFINED", "CgroupMemory", "Thresholds", "check_api_endpoints", "check_cpu", "check_database_health",
    "check_disk_space", "check_event_ingestion", "check_ffmpeg", "check_memory_usage",
    "check_scheduler_health", "check_streaming_health", "check_tts_availability", "parse_cgroup_limit",
    "predefined_checks", "read_cgroup_memory",
]

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_SAMPLE_SECONDS = 0.2
PROBE_KEY = "health_probe"  # the settings key the database check writes and reads back
TTS_PHRASE = "Check."
FFMPEG_TIMEOUT_SECONDS = 10.0
MAX_PARALLEL_PROBES = 8
CORE_JOBS = frozenset({"tick"})  # a failing loop step means no debate starts: worse than a failing chore

Finding = tuple[HealthStatus, str]  # one observation: how bad, and the sentence with its figure


# --- thresholds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Range:
    """A valid interval for one threshold; the low end is excluded unless ``low_open`` is False."""

    low: float
    high: float
    low_open: bool = True

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        low = "more than" if self.low_open else "at least"
        return f"a number {low} {_num(self.low)} and at most {_num(self.high)}"


_PERCENT = _Range(0, 100)
_FRACTION = _Range(0, 1)
_DAY = 86400.0
_RANGES: dict[str, _Range] = {
    "disk_warn_percent": _PERCENT, "disk_crit_percent": _PERCENT,
    "memory_warn_percent": _PERCENT, "memory_crit_percent": _PERCENT,
    "cpu_warn_percent": _PERCENT,
    "tick_max_age_seconds": _Range(0, _DAY),
    "overdue_grace_seconds": _Range(0, _DAY, low_open=False),
    "bitrate_min_ratio": _FRACTION,
    "drop_rate_warn": _FRACTION,
    "db_write_warn_ms": _Range(0, 60_000),
    "event_max_age_seconds": _Range(0, 30 * _DAY),
    "api_timeout_seconds": _Range(0, 300),
    "api_slow_ms": _Range(0, 300_000),
}
_WARN_BELOW_CRIT = (("disk_warn_percent", "disk_crit_percent"), ("memory_warn_percent", "memory_crit_percent"))
_OPTIONAL = frozenset({"event_max_age_seconds"})  # None switches that check off


@dataclass(frozen=True)
class Thresholds:
    """The limits the checks compare their figures with; validated on creation."""

    disk_warn_percent: float = 85
    disk_crit_percent: float = 95
    memory_warn_percent: float = 85
    memory_crit_percent: float = 95
    cpu_warn_percent: float = 90
    tick_max_age_seconds: float = 120  # the supervisor loop must have ticked within this
    overdue_grace_seconds: float = 60  # a pending debate this late = unhealthy
    bitrate_min_ratio: float = 0.7  # live output below 70 % of its tier's target = degraded
    drop_rate_warn: float = 0.02  # dropped frames / frames
    db_write_warn_ms: float = 50
    event_max_age_seconds: float | None = None  # expected event frequency; None = no age check
    api_timeout_seconds: float = 5
    api_slow_ms: float = 1000

    def __post_init__(self) -> None:
        for item in fields(self):
            _check_threshold(item.name, getattr(self, item.name))
        for warn, crit in _WARN_BELOW_CRIT:
            if getattr(self, warn) > getattr(self, crit):
                raise ConfigError(f"{warn} must not be above {crit}, got {_num(getattr(self, warn))} > "
                                  f"{_num(getattr(self, crit))}")


def _check_threshold(name: str, value: object) -> None:
    if value is None and name in _OPTIONAL:
        return
    valid = _RANGES[name]
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or not valid.holds(value)):
        empty = "empty or " if name in _OPTIONAL else ""
        raise ConfigError(f"{name} must be {empty}{valid.describe()}, got {value!r}")


# --- formatting and combining -------------------------------------------------------------------


def _num(value: float, digits: int = 2) -> str:
    """A threshold as people write it: 85, 0.7, 0.02 (no trailing zeros)."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _size(count: float) -> str:
    """Bytes in decimal units, one decimal from KB up: '3.1 GB', '312.4 MB', '0 B'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if abs(count) >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count:.0f} B"


def _combine(findings: Sequence[Finding], value: float | None = None, unit: str = "",
             details: dict[str, Any] | None = None) -> CheckResult:
    """One result from several findings: the worst status and the sentences in order; when some
    are not healthy, only those (worst first), so an alert says what is wrong, not what is fine."""
    status = worst([found for found, _ in findings])
    said = [(found, text) for found, text in findings if text]
    if status is not HealthStatus.HEALTHY:
        wrong = sorted(((found, text) for found, text in said if found is not HealthStatus.HEALTHY),
                       key=lambda item: STATUS_ORDER.index(item[0]))
        fine = len(said) - len(wrong)
        said = wrong + ([(HealthStatus.HEALTHY, f"{fine} other finding{'s' if fine > 1 else ''} fine")] if fine else [])
    return CheckResult(status=status, message="; ".join(text for _, text in said), value=value, unit=unit,
                       details=details or {})


def _classify_percent(value: float, warn: float, crit: float) -> HealthStatus:
    """CRITICAL at or above ``crit``, DEGRADED at or above ``warn``, else HEALTHY."""
    if value >= crit:
        return HealthStatus.CRITICAL
    if value >= warn:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def _limits_note(status: HealthStatus, warn: float, crit: float) -> str:
    """'(critical at 95 %)' once critical, else both limits, so the reader sees the distance."""
    if status is HealthStatus.CRITICAL:
        return f"(critical at {_num(crit)} %)"
    return f"(warning at {_num(warn)} %, critical at {_num(crit)} %)"


# --- disk ---------------------------------------------------------------------------------------


def _existing(path: Path) -> Path:
    """The path, or its nearest existing parent (a fresh data dir may not exist yet)."""
    path = Path(path).absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _disk_used_percent(used: int, free: int) -> float:
    # df's formula: used / (used + available). The blocks reserved for root are in neither, and the
    # backend is not root, so this is the share of the space it can actually use that is gone.
    return 100.0 * used / (used + free) if used + free else 100.0


def disk_message(percent: float, where: Path, free: int, status: HealthStatus, t: Thresholds) -> str:
    """'disk 96.2 % used on /data, 3.1 GB free (critical at 95 %)'."""
    note = _limits_note(status, t.disk_warn_percent, t.disk_crit_percent)
    return f"disk {percent:.1f} % used on {where}, {_size(free)} free {note}"


def check_disk_space(path: Path, t: Thresholds) -> CheckResult:
    """How full the data directory's filesystem is (shutil.disk_usage)."""
    where = _existing(Path(path))
    try:
        usage = shutil.disk_usage(where)
    except OSError as exc:
        return CheckResult(HealthStatus.CRITICAL, f"disk usage of {where} unreadable: {exc.strerror or exc}")
    percent = _disk_used_percent(usage.used, usage.free)
    status = _classify_percent(percent, t.disk_warn_percent, t.disk_crit_percent)
    return CheckResult(status, disk_message(percent, Path(path), usage.free, status, t), round(percent, 1), "%",
                       {"path": str(where), "total_bytes": usage.total, "used_bytes": usage.used,
                        "free_bytes": usage.free})


# --- memory -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CgroupMemory:
    """This container's memory use against its cgroup v2 limit."""

    used_bytes: int  # memory.current less the inactive file cache the kernel reclaims first
    limit_bytes: int

    @property
    def percent(self) -> float:
        return 100.0 * self.used_bytes / self.limit_bytes


def parse_cgroup_limit(text: str) -> int | None:
    """memory.max's content: 'max' means no limit (None); otherwise a byte count."""
    value = text.strip()
    if value == "max" or not value.isdigit() or int(value) <= 0:
        return None  # an unreadable limit is no limit: the system figure still decides
    return int(value)


def _stat_value(text: str, key: str) -> int:
    """One counter of memory.stat ('inactive_file 123'); 0 when absent."""
    for line in text.splitlines():
        name, _, number = line.partition(" ")
        if name == key and number.strip().isdigit():
            return int(number)
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None


def read_cgroup_memory(root: Path = CGROUP_ROOT) -> CgroupMemory | None:
    """The cgroup v2 figures under ``root``; None without a cgroup v2 memory limit."""
    limit = parse_cgroup_limit(_read(root / "memory.max") or "max")
    current = (_read(root / "memory.current") or "").strip()
    if limit is None or not current.isdigit():
        return None
    # Page cache counts in memory.current, yet the kernel drops inactive file pages before it would
    # OOM-kill: the "working set" (as the kubelet computes it) is what really nears the limit.
    inactive = _stat_value(_read(root / "memory.stat") or "", "inactive_file")
    return CgroupMemory(max(0, int(current) - inactive), limit)


def memory_findings(system_percent: float, system_total: int, rss: int, cgroup: CgroupMemory | None,
                    t: Thresholds) -> tuple[float, Finding]:
    """The worse of system and cgroup use decides; the sentence names both and this process's RSS."""
    percent, scope = system_percent, "of the system"
    if cgroup is not None and cgroup.percent > system_percent:
        percent, scope = cgroup.percent, "of the cgroup limit"
    status = _classify_percent(percent, t.memory_warn_percent, t.memory_crit_percent)
    note = _limits_note(status, t.memory_warn_percent, t.memory_crit_percent)
    parts = [f"memory {percent:.1f} % used {scope} {note}", f"system {system_percent:.1f} % of {_size(system_total)}"]
    if cgroup is not None:
        parts.append(f"cgroup {cgroup.percent:.1f} % of its {_size(cgroup.limit_bytes)} limit")
    parts.append(f"this process {_size(rss)} RSS")
    return percent, (status, ", ".join(parts))


def check_memory_usage(t: Thresholds, cgroup_root: Path = CGROUP_ROOT) -> CheckResult:
    """System memory (psutil), this process's RSS and, in a container, its cgroup v2 limit."""
    system = psutil.virtual_memory()
    rss = int(psutil.Process().memory_info().rss)
    cgroup = read_cgroup_memory(cgroup_root)
    percent, finding = memory_findings(float(system.percent), int(system.total), rss, cgroup, t)
    details: dict[str, Any] = {"system_percent": float(system.percent), "system_total_bytes": int(system.total),
                               "rss_bytes": rss}
    if cgroup is not None:
        details.update(cgroup_percent=round(cgroup.percent, 1), cgroup_used_bytes=cgroup.used_bytes,
                       cgroup_limit_bytes=cgroup.limit_bytes)
    return _combine([finding], round(percent, 1), "%", details)


# --- cpu ----------------------------------------------------------------------------------------


def cpu_finding(percent: float, load_per_core: float, cores: int, t: Thresholds) -> Finding:
    """Busy CPU degrades (it slows the encoder) but is never an outage on its own."""
    status = HealthStatus.DEGRADED if percent >= t.cpu_warn_percent else HealthStatus.HEALTHY
    return status, (f"cpu {percent:.1f} % busy over {_num(CPU_SAMPLE_SECONDS)} s (warning at "
                    f"{_num(t.cpu_warn_percent)} %), load {load_per_core:.2f} per core "
                    f"(1-minute average over {cores} cores)")


def check_cpu(t: Thresholds) -> CheckResult:
    """CPU use sampled over 0.2 s, and the 1-minute load average per core."""
    percent = float(psutil.cpu_percent(interval=CPU_SAMPLE_SECONDS))
    cores = int(psutil.cpu_count() or 1)
    load = float(psutil.getloadavg()[0]) / cores
    return _combine([cpu_finding(percent, load, cores, t)], round(percent, 1), "%",
                    {"load_per_core": round(load, 2), "cores": cores})


# --- scheduler ----------------------------------------------------------------------------------


def tick_finding(age_seconds: float | None, limit: float) -> Finding:
    """A loop that has not ticked within ``limit`` is stuck: no debate would start."""
    if age_seconds is None:
        return HealthStatus.HEALTHY, "loop alive, no tick yet"
    if age_seconds > limit:
        return HealthStatus.UNHEALTHY, f"loop stalled: last tick {age_seconds:.1f} s ago (limit {_num(limit)} s)"
    return HealthStatus.HEALTHY, f"loop alive, last tick {age_seconds:.1f} s ago (limit {_num(limit)} s)"


def overdue_debates(debates: Iterable[ScheduledDebate], now: datetime, grace: float) -> list[ScheduledDebate]:
    """Pending debates whose due time is more than ``grace`` seconds past."""
    return [d for d in debates if d.status is DebateStatus.PENDING
            and (now - d.due_time).total_seconds() > grace]


def overdue_finding(overdue: Sequence[ScheduledDebate], now: datetime, grace: float, busy: bool) -> Finding:
    """Late debates with nothing running mean the loop failed to start them; behind a running one, they wait."""
    if not overdue:
        return HealthStatus.HEALTHY, f"no debate overdue (grace {_num(grace)} s)"
    late = max((now - d.due_time).total_seconds() for d in overdue)
    ids = ", ".join(d.debate_id for d in overdue[:3])
    if busy:
        return HealthStatus.HEALTHY, f"{len(overdue)} debate(s) waiting behind the running one, up to {late:.0f} s"
    return HealthStatus.UNHEALTHY, (f"{len(overdue)} debate(s) overdue by up to {late:.0f} s with none running "
                                    f"(grace {_num(grace)} s): {ids}")


def job_findings(jobs: Mapping[str, JobHealth]) -> list[Finding]:
    """Each job failing now (consecutive failures) with its last error; the loop step itself is worse."""
    failing = {name: job for name, job in jobs.items() if job.consecutive_failures > 0}
    if not failing:
        return [(HealthStatus.HEALTHY, f"{len(jobs)} jobs ok")]
    return [(HealthStatus.UNHEALTHY if name in CORE_JOBS else HealthStatus.DEGRADED,
             f"job {name} failed {job.consecutive_failures} time(s) in a row: {job.last_error}")
            for name, job in sorted(failing.items())]


def _tick_age(supervisor: Supervisor, now: datetime) -> float | None:
    """Seconds of real time since the loop's last tick (a rehearsal's FastClock runs faster)."""
    if supervisor.last_tick is None:
        return None
    return real_seconds(supervisor._clock, (now - supervisor.last_tick).total_seconds())


def check_scheduler_health(supervisor: Supervisor, t: Thresholds | None = None) -> CheckResult:
    """The supervisor's thread, the age of its last tick, overdue debates and failing jobs."""
    t = t if t is not None else Thresholds()
    if supervisor.role == "viewer":  # the loop runs in the process that owns the data directory
        return CheckResult(HealthStatus.HEALTHY, "this process is a viewer: the owner process runs the scheduler")
    now = supervisor._clock()  # the clock last_tick was read from, so a test's fake clock stays coherent
    age = _tick_age(supervisor, now)
    if not supervisor.alive or supervisor.scheduler is None:
        seen = "never ticked" if age is None else f"last tick {age:.1f} s ago"
        return CheckResult(HealthStatus.CRITICAL, f"supervisor loop not running (role {supervisor.role}, {seen}): "
                                                  "no debate will start", age, "s")
    scheduler = supervisor.scheduler
    overdue = overdue_debates(scheduler.get_schedule(include_finished=False), now, t.overdue_grace_seconds)
    findings = [tick_finding(age, t.tick_max_age_seconds),
                overdue_finding(overdue, now, t.overdue_grace_seconds, scheduler.running_debate is not None),
                *job_findings(supervisor.jobs)]
    upcoming = scheduler.next_debate
    details = {"tick_age_seconds": age, "overdue": [d.debate_id for d in overdue],
               "next_debate_time": to_iso(upcoming.due_time) if upcoming else None}
    return _combine(findings, None if age is None else round(age, 1), "s", details)


# --- streaming ----------------------------------------------------------------------------------

# How each output state reads; LIVE is then judged on its figures.
_STREAM_STATUS: dict[StreamStatus, HealthStatus] = {
    StreamStatus.LIVE: HealthStatus.HEALTHY,
    StreamStatus.CONNECTING: HealthStatus.HEALTHY,  # the first seconds; a hung connect times out into reconnecting
    StreamStatus.RECONNECTING: HealthStatus.DEGRADED,
    StreamStatus.ERROR: HealthStatus.UNHEALTHY,
    StreamStatus.IDLE: HealthStatus.DEGRADED,  # enabled and on air, yet no output runs for it
    StreamStatus.STOPPED: HealthStatus.DEGRADED,
}


def drop_rate(dropped_frames: int, fps: float, uptime_seconds: float) -> float | None:
    """Dropped frames over the frames the tier should have sent so far; None before any uptime."""
    expected = fps * uptime_seconds
    return dropped_frames / expected if expected > 0 else None


def bitrate_finding(name: str, kbps: float | None, target_kbps: float, min_ratio: float) -> Finding:
    """Output below ``min_ratio`` of its tier's target (the encoder is CBR) means it cannot keep up."""
    if kbps is None:
        return HealthStatus.HEALTHY, f"{name}: no bitrate reading yet"
    ratio = kbps / target_kbps
    status = HealthStatus.DEGRADED if ratio < min_ratio else HealthStatus.HEALTHY
    return status, (f"{name}: {kbps:.0f} kbps, {100 * ratio:.0f} % of the {target_kbps:.0f} kbps target "
                    f"(minimum {100 * min_ratio:.0f} %)")


def drop_finding(name: str, metrics: StreamMetrics, fps: float, warn: float) -> Finding:
    rate = drop_rate(metrics.dropped_frames, fps, metrics.uptime_seconds)
    if rate is None:
        return HealthStatus.HEALTHY, f"{name}: {metrics.dropped_frames} dropped frames"
    status = HealthStatus.DEGRADED if rate >= warn else HealthStatus.HEALTHY
    return status, (f"{name}: {metrics.dropped_frames} dropped frames ({100 * rate:.2f} %, warning at "
                    f"{100 * warn:.2f} %), {metrics.reconnects} reconnects")


def destination_findings(name: str, metrics: StreamMetrics, preset: QualityPreset, t: Thresholds) -> list[Finding]:
    """One enabled output while on air: its state, and when live its bitrate and drop rate."""
    status = _STREAM_STATUS[metrics.status]
    if metrics.status is not StreamStatus.LIVE:
        error = f": {metrics.last_error}" if metrics.last_error else ""
        return [(status, f"{name}: {metrics.status.value}, {metrics.reconnects} reconnects{error}")]
    return [bitrate_finding(name, metrics.bitrate_kbps, preset.video_kbps, t.bitrate_min_ratio),
            drop_finding(name, metrics, preset.fps, t.drop_rate_warn)]


def check_streaming_health(supervisor: Supervisor, t: Thresholds) -> CheckResult:
    """Each enabled destination while on air: state, bitrate against its tier's target, drops, reconnects."""
    broadcast = supervisor.broadcast
    if broadcast is None:
        where = "streaming runs in the owner process" if supervisor.role == "viewer" else "broadcast off"
        return CheckResult(HealthStatus.HEALTHY, where)
    streamer = broadcast.streamer
    if not streamer.streaming:
        return CheckResult(HealthStatus.HEALTHY, "not on air (no debate running)", 0, "live")
    enabled = [d for d in list(streamer.destinations.values()) if d.config.enabled]
    if not enabled:
        return CheckResult(HealthStatus.HEALTHY, "on air with no enabled destination (recording only)", 0, "live")
    findings: list[Finding] = []
    for destination in enabled:
        preset = QUALITY_PRESETS[destination.tier or destination.config.quality]
        findings += destination_findings(destination.destination_id, destination.metrics, preset, t)
    live = sum(d.metrics.status is StreamStatus.LIVE for d in enabled)
    return _combine(findings, live, "live", {"enabled": len(enabled), "live": live})


# --- database -----------------------------------------------------------------------------------


def database_finding(round_trip_ms: float, t: Thresholds) -> Finding:
    status = HealthStatus.DEGRADED if round_trip_ms >= t.db_write_warn_ms else HealthStatus.HEALTHY
    return status, f"store write+read {round_trip_ms:.1f} ms (warning at {_num(t.db_write_warn_ms)} ms)"


def _store_figures(store: Store) -> str:
    sizes = ", ".join(f"{name} {_size(size)}" for name, size in store.file_sizes().items())
    return f"last write {1000 * store.last_write_seconds:.1f} ms; {sizes}"


def check_database_health(store: Store | None, t: Thresholds | None = None) -> CheckResult:
    """A real write and read-back of one setting, timed; the store's file sizes alongside."""
    t = t if t is not None else Thresholds()
    if store is None:
        return CheckResult(HealthStatus.CRITICAL, "store not open (backend not started)")
    stamp = to_iso(utc_now())  # a new value each time, so a stale read cannot pass for a fresh one
    started = time.perf_counter()
    try:
        store.settings.set(PROBE_KEY, stamp)
        read_back = store.settings.get(PROBE_KEY)
    except Exception as exc:  # StoreError, OSError, a corrupt file: whatever it is, nothing gets saved
        return CheckResult(HealthStatus.CRITICAL, f"store write failed: {type(exc).__name__}: {exc}")
    elapsed_ms = 1000 * (time.perf_counter() - started)
    if read_back != stamp:
        return CheckResult(HealthStatus.UNHEALTHY, f"store read back {read_back!r} after writing {stamp!r}",
                           round(elapsed_ms, 1), "ms")
    finding = database_finding(elapsed_ms, t)
    return CheckResult(finding[0], f"{finding[1]}; {_store_figures(store)}", round(elapsed_ms, 1), "ms",
                       {"file_sizes": store.file_sizes(), "last_write_seconds": store.last_write_seconds})


# --- api endpoints ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One GET: the status code or the error, and how long it took."""

    url: str
    code: int | None = None
    ms: float = 0.0
    error: str | None = None


MAX_API_URLS = 20
MAX_URL_CHARS = 2048


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a ConfigError (urllib would also read file:// and ftp://)."""
    if not isinstance(url, str) or len(url) > MAX_URL_CHARS:
        size = len(url) if isinstance(url, str) else type(url).__name__
        raise ConfigError(f"api endpoints must be http(s) URLs of at most {MAX_URL_CHARS} characters, got {size}")
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in {"http", "https"} or not rest.split("/", 1)[0]:
        raise ConfigError(f"api endpoints must be http:// or https:// URLs, got {redact_url(url)!r}")
    return url


def check_urls(urls: Sequence[str]) -> tuple[str, ...]:
    """A list of endpoint URLs, each checked; a lone string is refused (it would be probed letter by letter)."""
    if isinstance(urls, str):
        raise ConfigError(f"api_urls must be a list of URLs, got the string {redact_url(urls)!r}")
    if len(urls) > MAX_API_URLS:
        raise ConfigError(f"api_urls must list at most {MAX_API_URLS} URLs (each is probed every round), got {len(urls)}")
    return tuple(check_url(url) for url in urls)


def _reason(exc: BaseException, timeout: float) -> str:
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"timed out after {_num(timeout)} s"
    if isinstance(reason, ConnectionRefusedError):
        return "refused"
    return f"failed: {reason}"


def probe_url(url: str, timeout: float) -> Probe:
    """GET ``url``; an HTTP error is a status code, anything else (refused, timeout) an error."""
    started = time.perf_counter()
    try:
        request = urllib.request.Request(check_url(url), headers={"User-Agent": "ai-council-health"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            code = int(response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        code = exc.code
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        return Probe(url, None, 1000 * (time.perf_counter() - started), _reason(exc, timeout))
    return Probe(url, code, 1000 * (time.perf_counter() - started))


def classify_probe(probe: Probe, slow_ms: float) -> HealthStatus:
    """No answer or 5xx: unhealthy; 4xx (a wrong URL) or slow: degraded."""
    if probe.error is not None or probe.code is None or probe.code >= 500:
        return HealthStatus.UNHEALTHY
    if probe.code >= 400 or probe.ms >= slow_ms:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


def probe_finding(probe: Probe, t: Thresholds) -> Finding:
    status = classify_probe(probe, t.api_slow_ms)
    shown = redact_url(probe.url)
    if probe.error is not None:
        return status, f"{shown} {probe.error}"
    slow = f" (slow: over {_num(t.api_slow_ms)} ms)" if probe.ms >= t.api_slow_ms else ""
    return status, f"{shown} answered {probe.code} in {probe.ms:.0f} ms{slow}"


def check_api_endpoints(urls: Sequence[str], t: Thresholds) -> CheckResult:
    """GET each configured URL at once (so the check takes one timeout, not one per URL)."""
    if not urls:
        return CheckResult(HealthStatus.HEALTHY, "no endpoints configured")
    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_PROBES, len(urls))) as pool:
        probes = list(pool.map(lambda url: probe_url(url, t.api_timeout_seconds), urls))
    findings = sorted((probe_finding(p, t) for p in probes), key=lambda f: STATUS_ORDER.index(f[0]))  # worst first
    slowest = max(p.ms for p in probes)
    return _combine(findings, round(slowest, 1), "ms",
                    {"endpoints": [{"url": redact_url(p.url), "code": p.code, "ms": round(p.ms, 1),
                                    "error": p.error} for p in probes]})


# --- event ingestion ----------------------------------------------------------------------------


def watcher_finding(watcher_alive: bool, loop_alive: bool) -> Finding:
    """The watcher wakes the loop when a file lands; the loop is what actually drains the inbox."""
    if watcher_alive:
        return HealthStatus.HEALTHY, "inbox watcher alive"
    if not loop_alive:
        return HealthStatus.UNHEALTHY, "inbox watcher and loop not running: event files are not picked up"
    # The loop still drains the inbox on every tick (at least every few seconds, as periodic jobs
    # wake it), so without the watcher events arrive late rather than not at all.
    return HealthStatus.DEGRADED, "inbox watcher not running: event files wait for the loop's next tick"


def event_age_finding(age: float | None, running_for: float, max_age: float | None) -> Finding:
    """With an expected frequency, silence longer than it degrades (the source may be down)."""
    seen = "no event since start" if age is None else f"last event {age:.0f} s ago"
    if max_age is None:
        return HealthStatus.HEALTHY, seen
    silent_for = running_for if age is None else age
    status = HealthStatus.DEGRADED if silent_for > max_age else HealthStatus.HEALTHY
    return status, f"{seen} (expected within {_num(max_age)} s)"


def check_event_ingestion(supervisor: Supervisor, t: Thresholds) -> CheckResult:
    """The inbox watcher thread, the age of the last event, and how many files were rejected."""
    inbox, watcher = supervisor.inbox, supervisor._watcher
    if supervisor.role == "viewer":
        return CheckResult(HealthStatus.HEALTHY, "this process is a viewer: the owner process reads the inbox")
    if inbox is None:
        return CheckResult(HealthStatus.UNHEALTHY, "event inbox not open (backend not running)")
    now = supervisor._clock()
    age = None if inbox.last_event_time is None else (now - inbox.last_event_time).total_seconds()
    running_for = (now - supervisor.started_at).total_seconds() if supervisor.started_at else 0.0
    findings = [watcher_finding(watcher is not None and watcher.alive, supervisor.alive),
                event_age_finding(age, running_for, t.event_max_age_seconds),
                (HealthStatus.HEALTHY, f"{inbox.accepted_count} accepted, {inbox.rejected_count} rejected")]
    return _combine(findings, None if age is None else round(age, 1), "s",
                    {"accepted": inbox.accepted_count, "rejected": inbox.rejected_count})


# --- speech and ffmpeg --------------------------------------------------------------------------


def check_tts_availability(env: Mapping[str, str] | None = None) -> CheckResult:
    """Which speech engine, and a real synthesis of a short phrase, timed."""
    try:
        engine = speech_engine(env)
    except ConfigError as exc:
        return CheckResult(HealthStatus.UNHEALTHY, f"speech engine misconfigured: {exc}")
    if engine is None:
        if (env if env is not None else os.environ).get("AI_COUNCIL_TTS", "").strip().lower() == "off":
            return CheckResult(HealthStatus.HEALTHY, "speech off (AI_COUNCIL_TTS=off): a tone bed plays")
        return CheckResult(HealthStatus.DEGRADED, "no speech engine (espeak-ng not on PATH): a tone bed plays instead")
    started = time.perf_counter()
    try:
        pcm = synthesize(engine, TTS_PHRASE)
    except (ConfigError, OSError, subprocess.SubprocessError) as exc:
        return CheckResult(HealthStatus.UNHEALTHY, f"{engine} could not speak: {exc}")
    elapsed_ms = 1000 * (time.perf_counter() - started)
    if not pcm:
        return CheckResult(HealthStatus.UNHEALTHY, f"{engine} produced no sound for {TTS_PHRASE!r}",
                           round(elapsed_ms, 1), "ms")
    audio = len(pcm) / BYTES_PER_SECOND
    return CheckResult(HealthStatus.HEALTHY, f"{engine} spoke {TTS_PHRASE!r} in {elapsed_ms:.0f} ms "
                                             f"({audio:.2f} s of audio)", round(elapsed_ms, 1), "ms",
                       {"engine": engine, "audio_seconds": round(audio, 2)})


def check_ffmpeg(env: Mapping[str, str] | None = None) -> CheckResult:
    """The ffmpeg binary runs: the first line of ``ffmpeg -version``, timed. Without it nothing goes on air."""
    try:
        binary = ffmpeg_binary(env)
    except (ConfigError, RuntimeError, OSError) as exc:  # imageio-ffmpeg raises RuntimeError when it has none
        return CheckResult(HealthStatus.CRITICAL, f"ffmpeg unavailable: {exc}")
    started = time.perf_counter()
    try:
        result = subprocess.run([binary, "-version"], capture_output=True, timeout=FFMPEG_TIMEOUT_SECONDS,
                                check=False)  # the exit code is judged below, with its stderr
    except (OSError, subprocess.SubprocessError) as exc:
        return CheckResult(HealthStatus.CRITICAL, f"{binary} did not run: {exc}")
    elapsed_ms = 1000 * (time.perf_counter() - started)
    first = result.stdout.decode("utf-8", "replace").partition("\n")[0].partition(" Copyright")[0].strip()
    if result.returncode != 0 or not first:
        error = result.stderr.decode("utf-8", "replace").strip()[-200:]
        return CheckResult(HealthStatus.CRITICAL, f"{binary} -version exited {result.returncode}: {error}",
                           round(elapsed_ms, 1), "ms")
    return CheckResult(HealthStatus.HEALTHY, f"{first} ({binary}, answered in {elapsed_ms:.0f} ms)",
                       round(elapsed_ms, 1), "ms", {"binary": binary, "version": first})


# --- the registry -------------------------------------------------------------------------------

PREDEFINED: dict[str, Callable[..., CheckResult]] = {
    "scheduler": check_scheduler_health,
    "streaming": check_streaming_health,
    "database": check_database_health,
    "disk": check_disk_space,
    "memory": check_memory_usage,
    "cpu": check_cpu,
    "api": check_api_endpoints,
    "events": check_event_ingestion,
    "tts": check_tts_availability,
    "ffmpeg": check_ffmpeg,
}


@dataclass(frozen=True)
class _Binding:
    supervisor: Supervisor
    thresholds: Thresholds | Callable[[], Thresholds]  # a function: read at each run (edited live)
    api_urls: tuple[str, ...] | Callable[[], Sequence[str]] = field(default_factory=tuple)

    def limits(self) -> Thresholds:
        return self.thresholds if isinstance(self.thresholds, Thresholds) else self.thresholds()

    def urls(self) -> Sequence[str]:
        return self.api_urls() if callable(self.api_urls) else self.api_urls


# Each check's arguments, read when the check runs (not when bound): the store and the data
# directory's filesystem belong to a supervisor that may be started after registration.
_ARGUMENTS: dict[str, Callable[[_Binding], tuple[Any, ...]]] = {
    "scheduler": lambda b: (b.supervisor, b.limits()),
    "streaming": lambda b: (b.supervisor, b.limits()),
    "database": lambda b: (b.supervisor.store, b.limits()),
    "disk": lambda b: (b.supervisor.data_dir, b.limits()),
    "memory": lambda b: (b.limits(),),
    "cpu": lambda b: (b.limits(),),
    "api": lambda b: (b.urls(), b.limits()),
    "events": lambda b: (b.supervisor, b.limits()),
    "tts": lambda b: (),
    "ffmpeg": lambda b: (),
}


def _bind(name: str, binding: _Binding) -> Callable[[], CheckResult]:
    def run() -> CheckResult:
        return PREDEFINED[name](*_ARGUMENTS[name](binding))

    run.__name__ = f"check_{name}"
    return run


def predefined_checks(supervisor: Supervisor, thresholds: Thresholds | Callable[[], Thresholds],
                      api_urls: Sequence[str] | Callable[[], Sequence[str]] = ()
                      ) -> dict[str, Callable[[], CheckResult]]:
    """Every predefined check as a zero-argument callable, ready for ``HealthMonitor.register_check``.

    ``thresholds`` and ``api_urls`` may be functions: they are then read at each run."""
    binding = _Binding(supervisor, thresholds, api_urls if callable(api_urls) else check_urls(api_urls))
    return {name: _bind(name, binding) for name in PREDEFINED}
