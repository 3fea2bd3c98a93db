"""Pure view models of the Settings page."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

import pandas as pd

from backend.timeutil import from_iso

ALL = "all components"
EVENT_COMPONENTS = ("store", "recording", "streaming", "supervisor", "events")
THRESHOLD_LABELS: dict[str, tuple[str, str]] = {
    "disk_warn_percent": ("Disk: degraded from", "% used"),
    "disk_crit_percent": ("Disk: critical from", "% used"),
    "memory_warn_percent": ("Memory: degraded from", "% used"),
    "memory_crit_percent": ("Memory: critical from", "% used"),
    "cpu_warn_percent": ("CPU: degraded from", "% busy"),
    "tick_max_age_seconds": ("Scheduler: last tick at most", "s ago"),
    "overdue_grace_seconds": ("Scheduler: a debate overdue by", "s"),
    "bitrate_min_ratio": ("Streaming: bitrate below", "× target"),
    "drop_rate_warn": ("Streaming: dropped frames above", "share, 0-1"),
    "db_write_warn_ms": ("Database: a write slower than", "ms"),
    "event_max_age_seconds": ("Events: the last one at most", "s ago; empty = not checked"),
    "api_timeout_seconds": ("API endpoints: give up after", "s"),
    "api_slow_ms": ("API endpoints: slow from", "ms"),
}


def notifier_id_for(name: str, taken: Iterable[str]) -> str:
    """A short id from the name (ops-slack), made unique among ``taken``."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "notifier"
    used = set(taken)
    candidate, number = base, 2
    while candidate in used:
        candidate, number = f"{base}-{number}", number + 1
    return candidate


def known_components(supervisor: Any) -> list[str]:
    """What a silence or window can name: every check, and the components that report events."""
    checks = list(supervisor.monitor.check_names) if supervisor.monitor is not None else []
    return sorted(set(checks) | set(EVENT_COMPONENTS))


def _local(text: str | None, zone: ZoneInfo) -> str:
    moment = from_iso(text)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M") if moment else "—"


def hold_rows(silences: Iterable[Mapping[str, Any]], windows: Iterable[Mapping[str, Any]], zone: ZoneInfo,
              now: datetime) -> list[dict[str, str]]:
    """One line per silence or maintenance window, saying whether it holds now."""
    rows = []
    for doc in silences:
        end = from_iso(doc["end"])
        state = "ended" if end is not None and end <= now else "active"
        target = doc.get("component") or ALL
        rows.append({"id": doc["silence_id"], "text": (
            f":material/notifications_off: **Silence** · {target} · until {_local(doc['end'], zone)} ({state})"
            + (f" · {doc['reason']}" if doc.get("reason") else ""))})
    for doc in windows:
        when = (f"`{doc['cron']}` for {doc['duration_seconds'] / 60:g} min ({doc.get('timezone')})" if doc.get("cron")
                else f"{_local(doc.get('start'), zone)} to {_local(doc.get('end'), zone)}")
        rows.append({"id": doc["window_id"], "text": (
            f":material/build: **Maintenance** · {doc.get('component') or ALL} · {when}"
            + (f" · {doc['reason']}" if doc.get("reason") else ""))})
    return rows


def delivery_rows(deliveries: Iterable[Any], zone: ZoneInfo) -> pd.DataFrame:
    """What was sent to whom, and whether it arrived (a notifier's own failure shows here)."""
    rows = [{"When": delivery.when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), "Notifier": delivery.name,
             "What": delivery.kind, "Result": "sent" if delivery.ok else "FAILED", "Detail": delivery.detail}
            for delivery in deliveries]
    return pd.DataFrame(rows, columns=["When", "Notifier", "What", "Result", "Detail"])
