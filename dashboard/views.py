"""Pure view models: what the pages show, computed from backend objects (tested without Streamlit)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

import pandas as pd

from backend import DebateStatus, ScheduledDebate
from backend.viewers import FROM_DESTINATION, SourceField

STATUS_COLOURS = {
    "pending": "#4c78a8", "running": "#f58518", "completed": "#54a24b", "failed": "#e45756",
    "cancelled": "#9d9d9d", "interrupted": "#b279a2", "missed": "#eeca3b",
}


def countdown(seconds: float) -> str:
    """'in 4 min 05 s', 'in 2 h 03 min', 'now' — short words for a wall display."""
    if seconds <= 0:
        return "now"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"in {hours} h {minutes:02d} min"
    return f"in {minutes} min {secs:02d} s" if minutes else f"in {secs} s"


def local_time(moment: datetime | None, zone: ZoneInfo, with_date: bool = True) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(zone).strftime("%a %d %b %H:%M" if with_date else "%H:%M:%S")


def duration_text(debate: ScheduledDebate) -> str:
    if debate.actual_start_time is None or debate.actual_end_time is None:
        return "—"
    seconds = int((debate.actual_end_time - debate.actual_start_time).total_seconds())
    return f"{seconds // 60} min {seconds % 60:02d} s"


def recent_rows(debates: Iterable[ScheduledDebate], zone: ZoneInfo, limit: int = 10) -> pd.DataFrame:
    """The last finished debates, newest first, for the Overview table."""
    finished = [d for d in debates if d.status not in (DebateStatus.PENDING, DebateStatus.RUNNING)]
    finished.sort(key=lambda d: d.actual_start_time or d.scheduled_time, reverse=True)
    rows = [{
        "When": local_time(d.actual_start_time or d.scheduled_time, zone),
        "Topic": d.topic,
        "Status": d.status.value,
        "Verdict": (d.outcome or {}).get("verdict", "—"),
        "Consensus": (d.outcome or {}).get("consensus_level"),
        "Duration": duration_text(d),
        "Note": d.error_message or "",
    } for d in finished[:limit]]
    return pd.DataFrame(rows, columns=["When", "Topic", "Status", "Verdict", "Consensus", "Duration", "Note"])


def upcoming_rows(debates: Iterable[ScheduledDebate], zone: ZoneInfo) -> pd.DataFrame:
    pending = sorted((d for d in debates if d.status is DebateStatus.PENDING), key=lambda d: d.due_time)
    rows = [{"When": local_time(d.due_time, zone), "Topic": d.topic, "Source": d.source,
             "Why": d.reason, "Attempts": d.attempts, "Id": d.debate_id} for d in pending]
    return pd.DataFrame(rows, columns=["When", "Topic", "Source", "Why", "Attempts", "Id"])


def timeline_frame(
    debates: Iterable[ScheduledDebate], zone: ZoneInfo, now: datetime, turn_estimate: timedelta
) -> pd.DataFrame:
    """One bar per debate: from its start (or planned time) to its end (or an estimate)."""
    rows = []
    for debate in debates:
        start = debate.actual_start_time or debate.due_time
        end = debate.actual_end_time or (max(now, start + turn_estimate) if debate.status is DebateStatus.RUNNING
                                         else start + turn_estimate)
        rows.append({"start": start.astimezone(zone).replace(tzinfo=None),
                     "end": end.astimezone(zone).replace(tzinfo=None),
                     "status": debate.status.value, "topic": debate.topic, "source": debate.source,
                     "reason": debate.reason})
    return pd.DataFrame(rows, columns=["start", "end", "status", "topic", "source", "reason"])


def _size(value: int | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024  # type: ignore[assignment]
    return "—"


def destination_rows(destinations: Iterable[dict]) -> pd.DataFrame:
    """One row per destination for the Streams page; unknown figures stay unknown, never 0."""
    rows = []
    for doc in destinations:
        metrics = doc.get("metrics") or {}
        viewers = metrics.get("viewers")
        rows.append({
            "Name": doc.get("name") or doc.get("label", ""), "Platform": doc.get("label", doc.get("platform")),
            "URL": doc.get("display_url", ""), "Key": doc.get("stream_key", ""), "Quality": doc.get("quality"),
            "Streaming at": doc.get("streaming_quality") or doc.get("quality"),
            "Enabled": bool(doc.get("enabled")), "State": metrics.get("status", "—"),
            "Bitrate (kbps)": metrics.get("bitrate_kbps"), "FPS": metrics.get("fps"),
            "Dropped frames": metrics.get("dropped_frames"),
            "Uptime": f"{int(metrics['uptime_seconds']) // 60} min {int(metrics['uptime_seconds']) % 60:02d} s"
            if metrics.get("uptime_seconds") else "—",
            "Sent": _size(metrics.get("bytes_sent")), "Reconnects": metrics.get("reconnects"),
            "Viewers": "unknown" if viewers is None else str(viewers),
            "Viewer source": doc.get("viewer_detail") or "",
            "Last error": metrics.get("last_error") or "", "Id": doc.get("destination_id"),
        })
    columns = ["Name", "Platform", "URL", "Key", "Quality", "Streaming at", "Enabled", "State", "Bitrate (kbps)", "FPS",
               "Dropped frames", "Uptime", "Sent", "Reconnects", "Viewers", "Viewer source", "Last error", "Id"]
    return pd.DataFrame(rows, columns=columns)


def recording_rows(recordings: Iterable, zone: ZoneInfo) -> pd.DataFrame:
    rows = [{"File": r.name, "Size": _size(r.size_bytes),
             "Duration": "—" if r.seconds is None else f"{int(r.seconds) // 60} min {int(r.seconds) % 60:02d} s",
             "Written": local_time(r.modified, zone)} for r in recordings]
    return pd.DataFrame(rows, columns=["File", "Size", "Duration", "Written"])


SOURCE_LABELS = {"none": "None (shown as unknown)", "nginx-rtmp": "nginx-rtmp stat page", "mediamtx": "MediaMTX API",
                 "youtube": "YouTube Data API", "twitch": "Twitch Helix API"}
FIELD_LABELS = {"stat_url": "Stat page URL (rtmp_stat all)", "application": "Application", "stream": "Stream name",
                "api_url": "API URL", "path": "Path", "video_id": "Video id", "api_key": "API key",
                "base_url": "API base URL", "user_login": "Channel login", "client_id": "Client id",
                "token": "OAuth token", "username": "Username", "password": "Password"}


def source_field_view(kind: str, field: SourceField) -> tuple[str, str, str | None]:
    """Label, placeholder and help of one viewer-source field in the form."""
    label = FIELD_LABELS.get(field.name, field.name.replace("_", " ").capitalize())
    if field.number:
        return f"{label} (seconds)", "", None
    label += "" if field.required else " (optional)"
    if field.secret:
        return label, "env:NAME or secret:NAME", ("A reference, never the value: env:NAME reads the environment, "
                                                  "secret:NAME the app's secrets.")
    if FROM_DESTINATION.get(kind) == field.name:
        return label, "empty: this destination's stream key", (
            "nginx-rtmp lists the stream under the key it was published with; leave this empty and the "
            "destination's key is used without being written here.")
    return label, f"default {field.default}" if field.default else "", None
