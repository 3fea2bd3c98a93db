"""The shapes health monitoring speaks in: statuses, severities and one check's result.

Shared by the predefined checks (``checks.py``), the alert rules (``alerting.py``) and the
monitor (``monitoring.py``), so none of them imports another just for its types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any


class HealthStatus(str, Enum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    CRITICAL = "critical"
    UNKNOWN = "unknown"  # not checked yet


class AlertSeverity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


# The rule that maps what a check found to how loudly it is said (Alertmanager-style labels).
SEVERITY_FOR_STATUS: dict[HealthStatus, AlertSeverity] = {
    HealthStatus.DEGRADED: AlertSeverity.WARNING,
    HealthStatus.UNHEALTHY: AlertSeverity.ERROR,
    HealthStatus.CRITICAL: AlertSeverity.CRITICAL,
}

# Worst first: the overall status is the worst component status.
STATUS_ORDER = (HealthStatus.CRITICAL, HealthStatus.UNHEALTHY, HealthStatus.DEGRADED, HealthStatus.UNKNOWN,
                HealthStatus.HEALTHY)


@dataclass(frozen=True)
class CheckResult:
    """What one check measured: a status, a sentence carrying the figure, and the figure itself."""

    status: HealthStatus
    message: str  # e.g. "memory 71.3 % used (threshold 90 %)"
    value: float | None = None
    unit: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HealthCheck:
    """One run of one registered check (the seed's ``run_check`` result)."""

    name: str
    status: HealthStatus
    message: str
    timestamp: datetime
    duration_ms: float
    value: float | None = None
    unit: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status.value, "message": self.message,
                "timestamp": self.timestamp.isoformat(), "duration_ms": self.duration_ms,
                "value": self.value, "unit": self.unit}


def worst(statuses: list[HealthStatus]) -> HealthStatus:
    """The overall status: the worst of the components; HEALTHY when there are none."""
    return min(statuses, key=STATUS_ORDER.index, default=HealthStatus.HEALTHY)
