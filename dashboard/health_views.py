"""Pure view models of the Health page: tables and chart frames from the health series and alerts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from backend.healthlog import beats, components, uptime
from backend.timeutil import from_iso

STATUS_COLOURS = {"healthy": "#2e7d32", "degraded": "#f9a825", "unhealthy": "#ef6c00",
                  "critical": "#b71c1c", "unknown": "#9e9e9e"}
# Streamlit's markdown colours and Material icons: they render without an emoji font.
STATUS_MARKDOWN = {"healthy": ":green[healthy]", "degraded": ":orange[degraded]", "unhealthy": ":red[unhealthy]",
                   "critical": ":red[**critical**]", "unknown": ":gray[unknown]"}
SEVERITY_MARKDOWN = {"info": ":blue[INFO]", "warning": ":orange[WARNING]", "error": ":red[ERROR]",
                     "critical": ":red[**CRITICAL**]"}
SEVERITY_ICONS = {"info": ":material/info:", "warning": ":material/warning:", "error": ":material/error:",
                  "critical": ":material/crisis_alert:"}
SEVERITY_COLOURS = {"info": "#1565c0", "warning": "#f9a825", "error": "#ef6c00", "critical": "#b71c1c"}
PERIODS = (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7)), ("30 d", timedelta(days=30)))


def percent(share: float | None) -> str:
    """Uptime as people read it: 99.95 %, 100 %, or — when never checked."""
    if share is None:
        return "—"
    if share == 1:
        return "100 %"
    return f"{min(share * 100, 99.99):.2f} %"


def component_rows(samples: Sequence[Mapping[str, Any]], now: datetime,
                   messages: Mapping[str, str] | None = None) -> pd.DataFrame:
    """One row per component: its status now, what it measured, uptime per period, response time."""
    rows = []
    for name in components(samples):
        last = beats(samples, name, last=1)
        recent = [b.duration_ms for b in beats(samples, name, last=10_000)
                  if b.duration_ms is not None and b.ts >= now - timedelta(hours=24)]
        status = last[0].status.value if last else "unknown"
        said = (messages or {}).get(name) or (last[0].message if last else "") or "ok"
        row: dict[str, Any] = {"Component": name, "Status": status, "Measured": said}
        for label, span in PERIODS:
            row[f"Up {label}"] = percent(uptime(samples, name, now - span, now))
        row["Check ms"] = last[0].duration_ms if last else None
        row["p95 ms (24 h)"] = float(pd.Series(recent).quantile(0.95)) if recent else None
        rows.append(row)
    return pd.DataFrame(rows, columns=["Component", "Status", "Measured", *(f"Up {p}" for p, _ in PERIODS),
                                       "Check ms", "p95 ms (24 h)"])


def status_style(value: object) -> str:
    """A pandas Styler rule: a status or severity cell in its colour."""
    colour = STATUS_COLOURS.get(str(value)) or SEVERITY_COLOURS.get(str(value))
    return f"color: {colour}; font-weight: 600" if colour else ""


def strip_frame(samples: Sequence[Mapping[str, Any]], zone: ZoneInfo, last: int = 60) -> pd.DataFrame:
    """The status strip: one cell per round and component, for an Altair rect chart."""
    rows: list[dict[str, Any]] = []
    for name in components(samples):
        for index, beat in enumerate(reversed(beats(samples, name, last))):
            rows.append({"component": name, "ago": index, "status": beat.status.value,
                         "time": beat.ts.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                         "message": beat.message or "ok",
                         "ms": beat.duration_ms})
    return pd.DataFrame(rows, columns=["component", "ago", "status", "time", "message", "ms"])


def response_frame(samples: Iterable[Mapping[str, Any]], since: datetime, zone: ZoneInfo) -> pd.DataFrame:
    """Each check's duration per round since ``since``, for a line chart."""
    rows: list[dict[str, Any]] = []
    for sample in samples:
        when = from_iso(sample.get("ts"))
        if when is None or when < since or sample.get("rollup"):
            continue
        local = when.astimezone(zone).replace(tzinfo=None)
        rows.extend({"time": local, "component": key[3:], "ms": value} for key, value in sample.items()
                    if key.startswith("ms.") and isinstance(value, (int, float)))
    return pd.DataFrame(rows, columns=["time", "component", "ms"])


def alert_rows(alerts: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> pd.DataFrame:
    """The alert history as a table."""
    rows = []
    for alert in alerts:
        first, ended = from_iso(alert.get("first_seen")), from_iso(alert.get("resolved_at"))
        rows.append({
            "Severity": alert.get("severity", "warning"),
            "Component": alert.get("component", ""), "Message": alert.get("message", ""),
            "Seen": alert.get("count", 0),
            "Started": first.astimezone(zone).strftime("%Y-%m-%d %H:%M") if first else "",
            "Lasted": _lasted(first, ended),
            "Ended": ("open" if not alert.get("resolved") else
                      {"hand": "resolved by hand", "auto": "resolved"}.get(alert.get("resolved_by") or "auto",
                                                                             "resolved")),
            "Acknowledged": bool(alert.get("acknowledged")),
        })
    return pd.DataFrame(rows, columns=["Severity", "Component", "Message", "Seen", "Started", "Lasted", "Ended",
                                       "Acknowledged"])


def _lasted(first: datetime | None, ended: datetime | None) -> str:
    if first is None or ended is None:
        return ""
    seconds = int((ended - first).total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
