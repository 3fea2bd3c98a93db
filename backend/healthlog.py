"""The health series: one sample per round of checks, and what the Health page reads from it.

A round is kept as flat fields so that the Store's hourly rollups keep what matters once the raw
samples are gone: ``up.<check>`` (1 when the check was up, else 0: its mean is the uptime) and
``ms.<check>`` (how long the check took). The raw sample also has ``st.<check>`` (the status) and,
for a check that was not healthy, ``msg.<check>`` (its message with the measured figure).

Up means healthy or degraded: a degraded component still does its job (Uptime Kuma counts only
down as down). Unknown is not counted either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

from .health import HealthCheck, HealthStatus
from .timeutil import from_iso, to_iso

DOWN = frozenset({HealthStatus.UNHEALTHY, HealthStatus.CRITICAL})


def round_sample(checks: Mapping[str, HealthCheck], when: datetime) -> dict[str, Any]:
    """One round of checks as one sample of the ``health`` series."""
    sample: dict[str, Any] = {"ts": to_iso(when)}
    for name, check in checks.items():
        sample[f"st.{name}"] = check.status.value
        sample[f"ms.{name}"] = check.duration_ms
        if check.status is not HealthStatus.UNKNOWN:
            sample[f"up.{name}"] = 0 if check.status in DOWN else 1
        if check.status is not HealthStatus.HEALTHY:
            sample[f"msg.{name}"] = check.message
    return sample


def components(samples: Iterable[Mapping[str, Any]]) -> list[str]:
    """Every check named in the samples, in order of first appearance."""
    names: dict[str, None] = {}
    for sample in samples:
        names.update((key[3:], None) for key in sample if key.startswith("up.") and not key.endswith(("_min", "_max")))
    return list(names)


def uptime(samples: Iterable[Mapping[str, Any]], component: str, start: datetime, end: datetime) -> float | None:
    """Share of rounds in [start, end) the component was up (0-1); None when never checked.

    A rollup row stands for ``count`` rounds with the mean of ``up`` over them.
    """
    up_total = rounds = 0.0
    field = f"up.{component}"
    for sample in samples:
        when = from_iso(sample.get("ts"))
        value = sample.get(field)
        if when is None or not start <= when < end or not isinstance(value, (int, float)):
            continue
        weight = float(sample.get("count", 1)) if sample.get("rollup") else 1.0
        up_total += value * weight
        rounds += weight
    return up_total / rounds if rounds else None


@dataclass(frozen=True)
class Beat:
    """One cell of a status strip: a round's status for one component."""

    ts: datetime
    status: HealthStatus
    duration_ms: float | None
    message: str


def beats(samples: Iterable[Mapping[str, Any]], component: str, last: int = 60) -> list[Beat]:
    """The component's last ``last`` raw results, oldest first (rollup rows have no status)."""
    found = []
    for sample in samples:
        status = sample.get(f"st.{component}")
        when = from_iso(sample.get("ts"))
        if status is None or when is None:
            continue
        duration = sample.get(f"ms.{component}")
        found.append(Beat(when, HealthStatus(status), duration if isinstance(duration, (int, float)) else None,
                          str(sample.get(f"msg.{component}", ""))))
    return found[-last:]
