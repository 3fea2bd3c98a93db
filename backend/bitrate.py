"""Adaptive quality: step a destination down a tier when its network can't keep up, back up later.

``decide_tier`` is the pure rule: samples in, ``None`` (keep) or ``(tier, reason)`` out, with the
time passed in. ``AdaptiveBitrateManager`` keeps a bounded window of samples per destination, calls
it and records each change; it also keeps the seed README's ``adjust_for_network`` bitrate rule.
``measure_rtt_ms`` is the one helper that touches the network.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Sequence, TypeGuard

from .destinations import StreamQuality
from .errors import ConfigError

logger = logging.getLogger(__name__)

TIERS: tuple[StreamQuality, ...] = (StreamQuality.LOW, StreamQuality.MEDIUM, StreamQuality.HIGH, StreamQuality.ULTRA)
HISTORY_LIMIT = 200
# A time window bounds the samples already; this only guards against a caller sampling far too often.
MAX_SAMPLES_PER_DESTINATION = 4096
MIN_BITRATE_KBPS = 100
MAX_BITRATE_KBPS = 50_000


# --- records ----------------------------------------------------------------------------------


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(f"{name} must be a timezone-aware datetime, got {value!r}")


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a whole number 0 or more, got {value!r}")


def _check_optional_measure(name: str, value: object) -> None:
    if value is not None and (not _is_number(value) or value < 0):
        raise ConfigError(f"{name} must be empty or a finite number 0 or more, got {value!r}")


@dataclass(frozen=True)
class NetworkSample:
    """One measurement of one output; the counters are cumulative, as ffmpeg and the fan-out keep them."""

    at: datetime  # aware
    speed: float | None  # ffmpeg's send speed (1.0 = real time); < 1 means falling behind
    reconnects: int  # the output's reconnect counter so far (cumulative)
    rtt_ms: float | None  # TCP connect time to the ingest host, measured
    dropped_chunks: int = 0  # cumulative chunks the fan-out dropped for this output

    def __post_init__(self) -> None:
        _check_aware("at", self.at)
        _check_optional_measure("speed", self.speed)
        _check_count("reconnects", self.reconnects)
        _check_optional_measure("rtt_ms", self.rtt_ms)
        _check_count("dropped_chunks", self.dropped_chunks)


@dataclass(frozen=True)
class TierChange:
    """One step of one destination, with the measured figures that caused it."""

    at: datetime
    destination_id: str
    old: StreamQuality
    new: StreamQuality
    reason: str  # e.g. "send speed at most 0.82x, below the 0.95x limit, for 20 s"


def _check_range(name: str, value: object, low: float, high: float, *, whole: bool = False,
                 above_low: bool = False) -> None:
    kind = "a whole number" if whole else "a number"
    ok = _is_number(value) and (not whole or isinstance(value, int))
    if _is_number(value) and ok:
        ok = (value > low if above_low else value >= low) and value <= high
    if not ok:
        bound = "above" if above_low else "from"
        raise ConfigError(f"{name} must be {kind} {bound} {low:g} and at most {high:g}, got {value!r}")


@dataclass(frozen=True)
class AdaptivePolicy:
    """When to step a destination down or up; every duration is in seconds."""

    slow_speed: float = 0.95  # below this = falling behind
    slow_for_seconds: float = 15  # sustained this long → step down (also for rising dropped chunks)
    reconnects_window_seconds: float = 300
    reconnects_to_step_down: int = 3
    high_rtt_ms: float = 400
    high_rtt_for_seconds: float = 30
    recover_for_seconds: float = 120  # healthy this long → step back up one tier
    cooldown_seconds: float = 60  # no two changes for one destination closer than this

    def __post_init__(self) -> None:
        _check_range("slow_speed", self.slow_speed, 0, 1, above_low=True)
        _check_range("slow_for_seconds", self.slow_for_seconds, 0, 3600)
        _check_range("reconnects_window_seconds", self.reconnects_window_seconds, 0, 86400, above_low=True)
        _check_range("reconnects_to_step_down", self.reconnects_to_step_down, 1, 1000, whole=True)
        _check_range("high_rtt_ms", self.high_rtt_ms, 0, 60000, above_low=True)
        _check_range("high_rtt_for_seconds", self.high_rtt_for_seconds, 0, 3600)
        _check_range("recover_for_seconds", self.recover_for_seconds, 0, 86400)
        _check_range("cooldown_seconds", self.cooldown_seconds, 0, 86400)

    @property
    def longest_window_seconds(self) -> float:
        return max(self.slow_for_seconds, self.reconnects_window_seconds, self.high_rtt_for_seconds,
                   self.recover_for_seconds)


# --- the pure rule ----------------------------------------------------------------------------


def _rank(tier: StreamQuality) -> int:
    return TIERS.index(tier)


def _seconds(value: float) -> str:
    return f"{round(value, 1):g} s"


def _increases(samples: Sequence[NetworkSample], counter: Callable[[NetworkSample], int]) -> list[int]:
    """Per sample, how much the cumulative counter rose since the sample before (0 for the first).

    A counter that went down (the output restarted and counts afresh) is no rise: negative steps are 0.
    """
    rises = [0]
    for before, after in zip(samples, samples[1:]):
        rises.append(max(0, counter(after) - counter(before)))
    return rises[: len(samples)]


def _trailing_streak(samples: Sequence[NetworkSample], flags: Sequence[bool]) -> tuple[int, float] | None:
    """Start index and measured span of the run of flagged samples ending with the newest one."""
    if not samples or not flags[-1]:
        return None
    start = len(samples) - 1
    while start > 0 and flags[start - 1]:
        start -= 1
    return start, (samples[-1].at - samples[start].at).total_seconds()


def _slow_reason(samples: Sequence[NetworkSample], policy: AdaptivePolicy) -> str | None:
    flags = [s.speed is not None and s.speed < policy.slow_speed for s in samples]
    streak = _trailing_streak(samples, flags)
    if streak is None or streak[1] < policy.slow_for_seconds:
        return None
    fastest = max(s.speed for s in samples[streak[0]:] if s.speed is not None)
    return (f"send speed at most {fastest:.2f}x, below the {policy.slow_speed:.2f}x limit, "
            f"for {_seconds(streak[1])}")


def _reconnect_reason(samples: Sequence[NetworkSample], now: datetime, policy: AdaptivePolicy) -> str | None:
    window = [s for s in samples if (now - s.at).total_seconds() <= policy.reconnects_window_seconds]
    # Only rises between two samples inside the window: a reconnect before it is old news.
    count = sum(_increases(window, lambda s: s.reconnects))
    if count < policy.reconnects_to_step_down:
        return None
    return f"{count} reconnects within the last {_seconds(policy.reconnects_window_seconds)}"


def _rtt_reason(samples: Sequence[NetworkSample], policy: AdaptivePolicy) -> str | None:
    flags = [s.rtt_ms is not None and s.rtt_ms > policy.high_rtt_ms for s in samples]
    streak = _trailing_streak(samples, flags)
    if streak is None or streak[1] < policy.high_rtt_for_seconds:
        return None
    lowest = min(s.rtt_ms for s in samples[streak[0]:] if s.rtt_ms is not None)
    return (f"ingest round trip at least {lowest:.0f} ms, above the {policy.high_rtt_ms:g} ms limit, "
            f"for {_seconds(streak[1])}")


def _drop_reason(samples: Sequence[NetworkSample], policy: AdaptivePolicy) -> str | None:
    rises = _increases(samples, lambda s: s.dropped_chunks)
    streak = _trailing_streak(samples, [rise > 0 for rise in rises])
    if streak is None or streak[1] < policy.slow_for_seconds:
        return None
    return f"{sum(rises[streak[0]:])} chunks dropped over {_seconds(streak[1])}"


def _healthy_for(samples: Sequence[NetworkSample], policy: AdaptivePolicy) -> float | None:
    """How long every sample up to the newest was healthy; ``None`` when the newest is not.

    A measure the output does not report (``None``) counts as fine: a missing figure must not hold
    a destination down for ever. Stepping down, by contrast, needs measured evidence.
    """
    reconnects = _increases(samples, lambda s: s.reconnects)
    drops = _increases(samples, lambda s: s.dropped_chunks)
    flags = [
        (s.speed is None or s.speed >= policy.slow_speed)
        and (s.rtt_ms is None or s.rtt_ms <= policy.high_rtt_ms)
        and reconnects[i] == 0 and drops[i] == 0
        for i, s in enumerate(samples)
    ]
    streak = _trailing_streak(samples, flags)
    return None if streak is None else streak[1]


def decide_tier(samples: Sequence[NetworkSample], current: StreamQuality, configured: StreamQuality,
                now: datetime, policy: AdaptivePolicy, last_change_at: datetime | None,
                floor: StreamQuality = StreamQuality.LOW) -> tuple[StreamQuality, str] | None:
    """``None`` to keep ``current``, else the tier one step away and why. Pure.

    Only samples after ``last_change_at`` (and not after ``now``) count: the evidence for the last
    change was measured at the old tier and says nothing about the new one.
    """
    current, configured, floor = (_coerce_tier(n, t) for n, t in
                                  (("current", current), ("configured", configured), ("floor", floor)))
    _check_aware("now", now)
    if last_change_at is not None:
        _check_aware("last_change_at", last_change_at)
    if _rank(floor) > _rank(configured):
        raise ConfigError(f"floor ({floor.value}) must not be above the configured tier ({configured.value})")
    # The operator's bounds win over the cooldown and the one-step rule.
    if _rank(current) > _rank(configured):
        return configured, f"configured tier is {configured.value}"
    if _rank(current) < _rank(floor):
        return floor, f"lowest allowed tier is {floor.value}"
    if last_change_at is not None and (now - last_change_at).total_seconds() < policy.cooldown_seconds:
        return None
    recent = sorted((s for s in samples if s.at <= now and (last_change_at is None or s.at > last_change_at)),
                    key=lambda s: s.at)
    troubles = [reason for reason in (_slow_reason(recent, policy), _reconnect_reason(recent, now, policy),
                                      _rtt_reason(recent, policy), _drop_reason(recent, policy)) if reason]
    if troubles:
        # While any trouble holds, never step up, even at the floor.
        return (TIERS[_rank(current) - 1], "; ".join(troubles)) if current != floor else None
    if current == configured:
        return None
    healthy = _healthy_for(recent, policy)
    if healthy is None or healthy < policy.recover_for_seconds:
        return None
    return TIERS[_rank(current) + 1], f"healthy for {_seconds(healthy)}"


def _coerce_tier(name: str, value: object) -> StreamQuality:
    try:
        return StreamQuality(value)
    except ValueError:
        valid = ", ".join(t.value for t in TIERS)
        raise ConfigError(f"{name} must be one of {valid}, got {value!r}") from None


# --- the manager ------------------------------------------------------------------------------


@dataclass
class _Track:
    """What the manager knows about one destination."""

    configured: StreamQuality
    current: StreamQuality
    last_change_at: datetime | None = None
    samples: deque[NetworkSample] = field(default_factory=lambda: deque(maxlen=MAX_SAMPLES_PER_DESTINATION))


def _check_bitrates(min_bitrate: object, max_bitrate: object) -> None:
    ok = (isinstance(min_bitrate, int) and isinstance(max_bitrate, int)
          and not isinstance(min_bitrate, bool) and not isinstance(max_bitrate, bool)
          and MIN_BITRATE_KBPS <= min_bitrate <= max_bitrate <= MAX_BITRATE_KBPS)
    if not ok:
        raise ConfigError(f"min_bitrate and max_bitrate must be whole kbps with {MIN_BITRATE_KBPS} <= min_bitrate "
                          f"<= max_bitrate <= {MAX_BITRATE_KBPS}, got min_bitrate={min_bitrate!r}, "
                          f"max_bitrate={max_bitrate!r}")


def next_bitrate(current: int, packet_loss: float, latency_ms: float, min_bitrate: int, max_bitrate: int) -> int:
    """The seed README's rule: cut on loss or latency, creep up when clean, clamp to [min, max]."""
    if not _is_number(packet_loss) or not 0 <= packet_loss <= 100:
        raise ConfigError(f"packet_loss must be a percentage 0-100, got {packet_loss!r}")
    if not _is_number(latency_ms) or latency_ms < 0:
        raise ConfigError(f"latency_ms must be a finite number 0 or more, got {latency_ms!r}")
    factor = 1.0
    if packet_loss > 5:
        factor = 0.5
    elif packet_loss > 2 or latency_ms > 400:
        factor = 0.75
    elif packet_loss < 0.5 and latency_ms < 150:
        factor = 1.1
    # round(): 1500 * 1.1 is 1650.0000000000002 in floating point, and should read 1650.
    return max(min_bitrate, min(max_bitrate, round(current * factor)))


class AdaptiveBitrateManager:
    """Seed API plus per-destination tier tracking. Safe to share between threads."""

    def __init__(self, min_bitrate: int = 1500, max_bitrate: int = 6000, policy: AdaptivePolicy | None = None) -> None:
        _check_bitrates(min_bitrate, max_bitrate)
        if policy is not None and not isinstance(policy, AdaptivePolicy):
            raise ConfigError(f"policy must be an AdaptivePolicy, got {type(policy).__name__}")
        self.min_bitrate = min_bitrate
        self.max_bitrate = max_bitrate
        self.policy = policy or AdaptivePolicy()
        # Start at the ceiling, as a destination starts at its configured tier: only evidence lowers it.
        self.current_bitrate = max_bitrate
        self._tracks: dict[str, _Track] = {}
        self._history: deque[TierChange] = deque(maxlen=HISTORY_LIMIT)
        self._lock = threading.Lock()

    def adjust_for_network(self, packet_loss: float, latency_ms: float) -> int:
        """The new target bitrate in kbps (``packet_loss`` in percent), recorded as ``current_bitrate``."""
        with self._lock:
            self.current_bitrate = next_bitrate(self.current_bitrate, packet_loss, latency_ms,
                                                self.min_bitrate, self.max_bitrate)
            return self.current_bitrate

    def observe(self, destination_id: str, sample: NetworkSample, configured: StreamQuality) -> TierChange | None:
        """Add one sample (its ``at`` is the present) and return the change it causes, if any.

        A sample older than the newest one kept is ignored: decisions only move forward in time.
        A new ``configured`` tier resets the destination to it, as the operator's word.
        """
        if not isinstance(destination_id, str) or not destination_id:
            raise ConfigError(f"destination_id must be non-empty text, got {destination_id!r}")
        if not isinstance(sample, NetworkSample):
            raise ConfigError(f"sample must be a NetworkSample, got {type(sample).__name__}")
        configured = _coerce_tier("configured", configured)
        with self._lock:
            change = self._observe(destination_id, sample, configured)
            if change is not None:
                self._history.append(change)
        if change is not None:
            logger.info("destination %s: quality %s -> %s (%s)", change.destination_id, change.old.value,
                        change.new.value, change.reason)
        return change

    def _observe(self, destination_id: str, sample: NetworkSample, configured: StreamQuality) -> TierChange | None:
        track = self._tracks.get(destination_id)
        if track is None:
            track = self._tracks[destination_id] = _Track(configured, configured)
        if track.samples and sample.at < track.samples[-1].at:
            return None
        track.samples.append(sample)
        oldest_kept = sample.at - timedelta(seconds=self.policy.longest_window_seconds)
        while track.samples and track.samples[0].at < oldest_kept:
            track.samples.popleft()
        if track.configured != configured:
            old, track.configured, track.current, track.last_change_at = track.current, configured, configured, sample.at
            if old == configured:
                return None
            return TierChange(sample.at, destination_id, old, configured, f"configured tier is now {configured.value}")
        decision = decide_tier(track.samples, track.current, configured, sample.at, self.policy, track.last_change_at)
        if decision is None:
            return None
        change = TierChange(sample.at, destination_id, track.current, decision[0], decision[1])
        track.current, track.last_change_at = decision[0], sample.at
        return change

    def tier(self, destination_id: str, configured: StreamQuality) -> StreamQuality:
        """The tier to stream ``destination_id`` at now; ``configured`` until a sample says otherwise."""
        configured = _coerce_tier("configured", configured)
        with self._lock:
            track = self._tracks.get(destination_id)
            # A changed configured tier is what the next observe() would reset to anyway.
            return track.current if track is not None and track.configured == configured else configured

    def history(self, destination_id: str | None = None) -> list[TierChange]:
        """The last changes (at most 200 in all), oldest first; of one destination when given."""
        with self._lock:
            return [c for c in self._history if destination_id is None or c.destination_id == destination_id]

    def forget(self, destination_id: str) -> None:
        """Drop a destination's samples and tier (it was removed or restarts afresh); history stays."""
        with self._lock:
            self._tracks.pop(destination_id, None)


# --- the one effectful helper -----------------------------------------------------------------


def measure_rtt_ms(host: str, port: int, timeout: float = 3.0) -> float | None:
    """Milliseconds one TCP connect to ``host:port`` takes; ``None`` when it fails or times out.

    The name is resolved before the clock starts: a slow DNS server is not a slow ingest path.
    """
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host must be non-empty text, got {host!r}")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ConfigError(f"port must be a whole number 1-65535, got {port!r}")
    if not _is_number(timeout) or not 0 < timeout <= 60:
        raise ConfigError(f"timeout must be a number of seconds above 0 and at most 60, got {timeout!r}")
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return None
    for family, kind, proto, _name, address in addresses:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                started = time.perf_counter()
                sock.connect(address)
                return (time.perf_counter() - started) * 1000.0
        except OSError:
            continue  # the next address (IPv4 after IPv6, say) may answer
    return None
